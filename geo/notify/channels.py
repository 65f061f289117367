"""Channels: what a subscription's target is, how it is shown, and sending one message (Apprise).

A target is an Apprise URL (``mailto://``, ``tgram://``, ``slack://``, ... every channel Apprise
supports) or a plain e-mail address (``name@office.go.id`` or ``mailto:name@office.go.id``),
which is sent through the office's SMTP server (``TIMPORA_SMTP_*``). A target is a secret (a
bot token, a mail password, a webhook path): it is stored once and only ever shown masked
(:func:`mask`); errors from a channel are scrubbed of its parts (:func:`scrub`) before they are
logged or stored.

Sending runs in a helper thread bounded by ``timeout_s``: a channel that hangs holds neither
the worker nor, since the worker sends outside any transaction, the database.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import apprise

from geo.errors import ValidationError
from geo.settings import NotifySettings

log = logging.getLogger("timpora.notify.channels")

EMAIL: Final = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")
SCHEME: Final = re.compile(r"([a-z][a-z0-9+.\-]{0,31})://", re.IGNORECASE)
MAX_TARGET_CHARS: Final = 2000
MAX_ERROR_CHARS: Final = 500


class SendError(Exception):
    """A message was not accepted by its channel; the text is scrubbed of the target."""


@dataclass(frozen=True)
class Target:
    """A checked target: the stored form, what it is shown as, and its channel's name."""

    value: str
    masked: str
    scheme: str  # 'email' for a plain address sent through the office's SMTP server


def _asset() -> apprise.AppriseAsset:
    # In memory: Apprise would otherwise keep per-channel state in the user's home directory.
    return apprise.AppriseAsset(app_id="Timpora Map", storage_mode="memory")


def plain_email(value: str) -> str | None:
    """The address when ``value`` is a plain e-mail address (``mailto:`` allowed), else None."""
    candidate = value[len("mailto:") :] if value.lower().startswith("mailto:") else value
    if "//" in candidate[:2] or not EMAIL.fullmatch(candidate):
        return None
    return candidate


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:2]}***@{domain}"


def _instantiate(url: str) -> Any:
    return apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)


def check_target(value: str, *, allowed_schemes: list[str] | None = None) -> Target:
    """Validate a target; ``allowed_schemes`` None allows every Apprise channel.

    Errors name the channel (scheme) but never echo the target: it may hold a password.
    """
    value = (value or "").strip()
    if not 3 <= len(value) <= MAX_TARGET_CHARS:
        raise ValidationError(
            f"target must be an Apprise URL or an e-mail address of 3 to {MAX_TARGET_CHARS} "
            "characters",
            field="target",
            value=f"{len(value)} characters",
        )
    address = plain_email(value)
    if address is not None:
        return Target(value=address, masked=mask_email(address), scheme="email")
    match = SCHEME.match(value)
    if match is None:
        raise ValidationError(
            "target must be an Apprise URL (scheme://...) or an e-mail address",
            field="target",
            value="(not shown: a target may hold a secret)",
        )
    scheme = match.group(1).lower()
    if allowed_schemes is not None and scheme not in allowed_schemes:
        raise ValidationError(
            f"channel {scheme!r} is not one users may add for themselves; allowed: "
            f"{', '.join(allowed_schemes) or 'e-mail addresses only'} (an administrator may "
            "add any Apprise channel)",
            field="target",
            value=scheme,
        )
    plugin = _instantiate(value)
    if plugin is None:
        raise ValidationError(
            f"Apprise does not accept this {scheme}:// URL (unknown channel or missing parts)",
            field="target",
            value=scheme,
        )
    return Target(value=value, masked=mask_url(plugin, scheme), scheme=scheme)


def mask_url(plugin: Any, scheme: str) -> str:
    """Apprise's own privacy form of the URL, cut to scheme and masked host part."""
    try:
        private = str(plugin.url(privacy=True))
    except Exception:  # a plugin that cannot print itself: show the channel only
        return f"{scheme}://***"
    parts = urlsplit(private)
    rest = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{scheme}://{parts.netloc}{rest}"


def email_url(address: str, settings: NotifySettings) -> str:
    """The Apprise URL that sends to ``address`` through the office's SMTP server."""
    if not settings.smtp_host:
        raise SendError(
            "this subscription is an e-mail address and no SMTP server is set (TIMPORA_SMTP_HOST)"
        )
    credentials = ""
    if settings.smtp_user:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        credentials = f"{quote(settings.smtp_user, safe='')}:{quote(password, safe='')}@"
    query = urlencode(
        {
            "smtp": settings.smtp_host,
            "mode": settings.smtp_security,
            "from": settings.smtp_from,
            "to": address,
        }
    )
    host = settings.smtp_host if ":" not in settings.smtp_host else f"[{settings.smtp_host}]"
    return f"mailto://{credentials}{host}:{settings.smtp_port}/?{query}"


def apprise_url(target: str, settings: NotifySettings) -> str:
    address = plain_email(target)
    return email_url(address, settings) if address is not None else target


def secrets_of(url: str, settings: NotifySettings) -> list[str]:
    """The pieces of a target that must never appear in a log or a stored error."""
    pieces = {url}
    for piece in re.split(r"[/:@?&=#,;]+", url):
        if len(piece) >= 6:
            pieces.add(piece)
    if settings.smtp_password is not None and settings.smtp_password.get_secret_value():
        secret = settings.smtp_password.get_secret_value()
        pieces.update({secret, quote(secret, safe="")})
    return sorted(pieces, key=len, reverse=True)


def scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message[:MAX_ERROR_CHARS]


class _ThreadLog(logging.Handler):
    """Apprise's warnings from one thread: why a channel refused a message."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.WARNING)
        self.thread_id = thread_id
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.lines.append(record.getMessage())


def send(*, target: str, title: str, body: str, settings: NotifySettings) -> None:
    """Send one message to ``target``; :class:`SendError` (scrubbed) when it is not accepted."""
    url = apprise_url(target, settings)
    secrets = secrets_of(url, settings)
    outcome: dict[str, Any] = {}

    def run() -> None:
        handler = _ThreadLog(threading.get_ident())
        logger = logging.getLogger("apprise")
        logger.addHandler(handler)
        try:
            plugin = _instantiate(url)
            if plugin is None:
                outcome["error"] = "Apprise does not accept this URL"
                return
            client = apprise.Apprise(asset=_asset())
            client.add(plugin)
            ok = client.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
            if not ok:
                outcome["error"] = "; ".join(handler.lines[-3:]) or "the channel refused it"
        except Exception as exc:  # reported to the caller, scrubbed
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            logger.removeHandler(handler)

    worker = threading.Thread(target=run, name="notify-send", daemon=True)
    worker.start()
    worker.join(settings.notify_timeout_s)
    if worker.is_alive():
        raise SendError(f"no answer from the channel within {settings.notify_timeout_s:g} s")
    if "error" in outcome:
        raise SendError(scrub(str(outcome["error"]), secrets))
