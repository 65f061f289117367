"""Notifications where people already look: e-mail, Telegram and every channel Apprise supports.

``subscriptions`` (who gets what, through which channel, in which language and area),
``channels`` (a target checked, masked and sent to), ``messages`` (the text, as the
subscription's role may see it), ``outbox`` (the durable queue, the digest and the worker).
docs/alerts.md ("Notifications") describes them for users and operators.
"""

from __future__ import annotations

from geo.settings import Settings

QUEUE_ANCHOR = "#alerts"


def queue_link(settings: Settings) -> str:
    """The dashboard's alert queue, as the messages link to it."""
    base = settings.notify.notify_public_url or (
        f"http://{settings.service.host}:{settings.service.port}/"
    )
    return base.rstrip("/") + "/" + QUEUE_ANCHOR
