"""Webhook delivery from the ``alert_outbox`` table: signed JSON POSTs with exponential backoff.

The outbox rows are written by a trigger in the alert's own transaction, so nothing is lost
between commit and send, and pending deliveries survive a restart (they are rows). A worker
claims due rows with ``FOR UPDATE SKIP LOCKED`` (several workers never send the same row at
once), posts, and records the outcome in the same transaction. Delivery is at-least-once:
``X-Timpora-Delivery`` carries the outbox id for receivers that must de-duplicate a resend after a
crash between a successful POST and the commit.

Each POST goes to an address checked by ``geo.alerts.targets`` (no loopback, private or
link-local receiver unless allowed), must be answered within ``deadline_s`` in all (a receiver
that drips its answer cannot hold the worker), and at most ``max_response_bytes`` of the answer
are read (only its status matters).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import orjson
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.alerts.service import features_by_ids, for_role
from geo.alerts.targets import Target, check_target
from geo.errors import ValidationError

log = logging.getLogger("timpora.alerts.delivery")

SIGNATURE_HEADER: Final = "X-Timpora-Signature"
DELIVERY_HEADER: Final = "X-Timpora-Delivery"
# Webhooks leave the service: they carry what a role without personal data may see.
WEBHOOK_ROLE: Final = "viewer"

CLAIM_SQL: Final = text(
    """
    SELECT o.id, o.alert_id, o.attempts, w.url, w.secret
    FROM alert_outbox o JOIN webhook w ON w.id = o.webhook_id
    WHERE o.status = 'pending' AND o.next_attempt_at <= now() AND w.active
    ORDER BY o.next_attempt_at, o.id
    LIMIT :limit
    FOR UPDATE OF o SKIP LOCKED
    """
)
DELIVERED_SQL: Final = text(
    """
    UPDATE alert_outbox SET status = 'delivered', delivered_at = now(), attempts = attempts + 1,
                            last_status_code = :code, last_error = NULL
    WHERE id = :id
    """
)
# An alert the delivery cannot read: its incident or sighting is shared with fewer than the
# whole Timpora, and delivery runs without an agency (docs/privacy.md). Never sent, never tried
# again; no HTTP status.
WITHHELD: Final = "withheld: the alert's record is not shared with the whole Timpora"
WITHHELD_SQL: Final = text(
    """
    UPDATE alert_outbox SET status = 'failed', attempts = attempts + 1, last_error = :error,
                            last_status_code = NULL
    WHERE id = :id
    """
)
FAILED_SQL: Final = text(
    """
    UPDATE alert_outbox
    SET attempts = attempts + 1, last_status_code = :code, last_error = :error,
        status = CASE WHEN attempts + 1 >= :max_attempts THEN 'failed' ELSE 'pending' END,
        next_attempt_at = now() + :delay
    WHERE id = :id
    """
)


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header)


@dataclass
class DeliveryOptions:
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    max_attempts: int = 10
    timeout_s: float = 5.0  # each connect, write and read
    deadline_s: float = 10.0  # the whole POST, answer included
    max_response_bytes: int = 64 * 1024
    allow_private: bool = False  # TIMPORA_WEBHOOK_ALLOW_PRIVATE
    batch: int = 50

    def delay(self, attempts_before: int) -> dt.timedelta:
        seconds = min(self.backoff_base_s * (2**attempts_before), self.backoff_max_s)
        return dt.timedelta(seconds=seconds)


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    withheld: int = 0  # alerts about records not shared with the whole Timpora (never sent)
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        """Outbox rows this round handled, whatever became of them."""
        return self.delivered + self.failed + self.withheld


def payload(feature: dict[str, Any]) -> bytes:
    return orjson.dumps({"event": "alert", "alert": for_role(feature, WEBHOOK_ROLE)})


class DeadlineExceeded(Exception):
    """The receiver did not answer within the delivery deadline."""


def _post(
    http: httpx.Client,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    options: DeliveryOptions,
    deadline: float,
) -> int:
    extensions = {"sni_hostname": target.host} if target.url.startswith("https:") else {}
    with http.stream(
        "POST",
        target.connect_url,
        content=body,
        headers={**headers, "Host": target.host_header},
        extensions=extensions,
    ) as response:
        read = 0
        for chunk in response.iter_raw():  # raw: a compressed answer is never inflated
            read += len(chunk)
            if read >= options.max_response_bytes or time.monotonic() > deadline:
                break
        return response.status_code


def send(
    http: httpx.Client, url: str, body: bytes, headers: dict[str, str], options: DeliveryOptions
) -> int:
    """POST ``body`` to a checked ``url``; the status code, or an exception.

    The request runs in a helper thread so that ``deadline_s`` bounds it in all: per-read
    timeouts alone let a receiver that sends a byte every few seconds hold on for ever. A thread
    left behind ends at its next read timeout; its answer is ignored.
    """
    target = check_target(url, allow_private=options.allow_private)
    deadline = time.monotonic() + options.deadline_s
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["code"] = _post(http, target, body, headers, options, deadline)
        except Exception as exc:  # handed to the caller
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="webhook-post", daemon=True)
    worker.start()
    worker.join(options.deadline_s)
    if worker.is_alive():
        raise DeadlineExceeded(f"no answer within {options.deadline_s:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["code"])


def deliver_pending(
    engine: Engine, options: DeliveryOptions | None = None, client: httpx.Client | None = None
) -> DeliveryReport:
    """Send every due outbox row once (one claim of up to ``options.batch`` rows)."""
    options = options or DeliveryOptions()
    report = DeliveryReport()
    own_client = client is None
    http = client or httpx.Client(timeout=options.timeout_s, follow_redirects=False)
    try:
        with Session(engine) as session, session.begin():
            rows = session.execute(CLAIM_SQL, {"limit": options.batch}).all()
            if not rows:
                return report
            features = {
                f["id"]: f
                for f in features_by_ids(session=session, ids=sorted({r.alert_id for r in rows}))
            }
            for row in rows:
                if row.alert_id not in features:
                    session.execute(WITHHELD_SQL, {"id": row.id, "error": WITHHELD})
                    report.withheld += 1
                    continue
                body = payload(features[row.alert_id])
                code: int | None = None
                error: str | None = None
                try:
                    code = send(
                        http,
                        row.url,
                        body,
                        {
                            "Content-Type": "application/json",
                            SIGNATURE_HEADER: sign(row.secret, body),
                            DELIVERY_HEADER: str(row.id),
                        },
                        options,
                    )
                    if not 200 <= code < 300:
                        error = f"HTTP {code}"
                except (httpx.HTTPError, DeadlineExceeded, ValidationError) as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                if error is None:
                    session.execute(DELIVERED_SQL, {"id": row.id, "code": code})
                    report.delivered += 1
                else:
                    session.execute(
                        FAILED_SQL,
                        {
                            "id": row.id,
                            "code": code,
                            "error": error,
                            "max_attempts": options.max_attempts,
                            "delay": options.delay(row.attempts),
                        },
                    )
                    report.failed += 1
                    report.errors.append(error)
                    log.info("webhook delivery %s failed: %s", row.id, error)
    finally:
        if own_client:
            http.close()
    return report


class DeliveryWorker:
    """A background thread sending due outbox rows; ``wake()`` makes it look at once."""

    def __init__(
        self, engine: Engine, options: DeliveryOptions | None = None, poll_s: float = 1.0
    ) -> None:
        self.engine = engine
        self.options = options or DeliveryOptions()
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=self.options.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    report = deliver_pending(self.engine, self.options, client)
                    busy = report.claimed >= self.options.batch
                except Exception:  # keep the worker alive; the rows stay pending
                    log.exception("webhook delivery round failed")
                    busy = False
                if not busy:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
