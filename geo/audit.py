"""The audit log (docs/privacy.md): each response with personal data and each write leaves a row.

The row records the agency of the request it was written in (``audit_log.agency_id``, the
column's default reads ``timpora.agency_id``: ``geo.roles.use_agency``).

:func:`record` writes one row in the caller's transaction; :func:`entries` reads them back,
newest first, for ``GET /api/v1/audit``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.times import parse_time
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


AUDIT_PAGE_SQL = text(
    """
    SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
           user_name, role,
           (SELECT a.short_name FROM agency a WHERE a.id = audit_log.agency_id) AS agency,
           action, resource, record_count, client, details
    FROM audit_log
    WHERE (CAST(:user_name AS text) IS NULL OR user_name = :user_name)
      AND (CAST(:action AS text) IS NULL OR action = :action)
      AND (CAST(:resource AS text) IS NULL OR resource LIKE :resource || '%')
      AND (CAST(:start AS timestamptz) IS NULL OR at >= :start)
      AND (CAST(:end AS timestamptz) IS NULL OR at < :end)
      AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id)
    ORDER BY id DESC
    LIMIT :limit
    """
)
MAX_ENTRIES = 10_000


def entries(
    *,
    session: Session,
    user_name: str | None = None,
    action: str | None = None,
    resource_prefix: str | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit rows newest first (``at`` in UTC), at most ``limit``; ``before_id`` pages back.

    ``start`` and ``end`` are parsed as the list filters parse them (no offset = WIB).
    """
    if not 1 <= limit <= MAX_ENTRIES:
        raise ValidationError(
            f"limit must be between 1 and {MAX_ENTRIES}; got {limit}", field="limit", value=limit
        )
    prefix = None
    if resource_prefix:
        # LIKE wildcards in the prefix are literal characters.
        prefix = resource_prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    rows = session.execute(
        AUDIT_PAGE_SQL,
        {
            "user_name": user_name,
            "action": action,
            "resource": prefix,
            "start": parse_time(start, field="start"),
            "end": parse_time(end, field="end"),
            "before_id": before_id,
            "limit": limit,
        },
    ).mappings()
    return [dict(r) for r in rows]
