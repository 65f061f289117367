"""The audit log (docs/privacy.md): each response with personal data and each write leaves a row."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.users import Principal

INSERT_AUDIT_SQL = text(
    """
    INSERT INTO audit_log (user_name, role, action, resource, record_count, client, details)
    VALUES (:user_name, :role, :action, :resource, :record_count, :client,
            CAST(:details AS jsonb))
    """
)


def record(
    *,
    session: Session,
    principal: Principal | None,
    action: str,
    resource: str,
    record_count: int = 0,
    client: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit row in the caller's transaction (so a rolled-back write leaves none).

    ``action`` is a short verb (read, create, update, delete, import, export, ack, purge, ...);
    ``resource`` names what was touched (``foreigners``, ``foreigners/12``, ``alerts/7``).
    ``details`` must never hold secrets or personal data.
    """
    session.execute(
        INSERT_AUDIT_SQL,
        {
            "user_name": principal.name if principal else "system",
            "role": principal.role if principal else None,
            "action": action[:32],
            "resource": resource[:200],
            "record_count": int(record_count),
            "client": (client or "")[:100] or None,
            "details": orjson.dumps(details or {}).decode(),
        },
    )
