"""Alert episodes written straight into ``alert`` for the queue tests: the triage side reads
whatever the evaluation wrote, so its tests set severity, span and repeats directly."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

WIB = dt.timezone(dt.timedelta(hours=7))
TODAY = dt.datetime(2026, 5, 20, tzinfo=WIB)

INSERT_ALERT = text(
    """
    INSERT INTO alert (rule_id, rule_kind, severity, status, dedup_key, episode_key,
                       incident_id, foreigner_id, subjects, geom, event_at, first_seen_at,
                       last_seen_at, occurrences, kecamatan_code, kecamatan_name)
    SELECT r.id, r.kind, :severity, :status, :key, :key, :incident, :foreigner,
           CASE WHEN :foreigner IS NULL THEN jsonb_build_object('incident_id', :incident)
                ELSE jsonb_build_object('foreigner_id', :foreigner) END,
           ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :first, :first, :last, :occurrences,
           k.code, k.name
    FROM alert_rule r, admin_area k
    WHERE r.kind = :rule AND k.level = 'kecamatan' AND k.name = :kecamatan
    RETURNING id
    """
)


def add_alert(
    session: Session | Connection,
    key: str,
    *,
    rule: str = "incident_near_workplace",
    severity: int = 3,
    status: str = "new",
    last: dt.datetime = TODAY,
    first: dt.datetime | None = None,
    occurrences: int = 1,
    kecamatan: str = "Sajingan Besar",
    foreigner: int | None = None,
    point: tuple[float, float] = (109.65, 1.45),
    incident: int = 1,
) -> int:
    """One episode; ``session`` is a Session or a Connection."""
    return int(
        session.execute(
            INSERT_ALERT,
            {
                "rule": rule,
                "severity": severity,
                "status": status,
                "key": f"test-{key}",
                "incident": None if foreigner else incident,
                "foreigner": foreigner,
                "lon": point[0],
                "lat": point[1],
                "first": first or last,
                "last": last,
                "occurrences": occurrences,
                "kecamatan": kecamatan,
            },
        ).scalar_one()
    )
