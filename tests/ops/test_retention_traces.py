"""A purge leaves no trace of a purged sighting's position or of a gone record's personal data:
alerts lose the point, stored ``Idempotency-Key`` responses go."""

from __future__ import annotations

import datetime as dt

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.retention import purge_sightings

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def _sighting(session: Session, days_ago: int) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO sighting (observed_at, source, geom) VALUES "
                "(:t, 'patrol', ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326)) RETURNING id"
            ),
            {"t": NOW - dt.timedelta(days=days_ago)},
        ).scalar_one()
    )


def _alert(session: Session, sighting_id: int) -> int:
    return int(
        session.execute(
            text(
                """
                INSERT INTO alert (rule_id, rule_kind, severity, dedup_key, sighting_id, geom,
                                   kecamatan_name, event_at)
                SELECT r.id, r.kind, 3, 'retention-' || :sid, :sid,
                       ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326), 'Sambas', :t
                  FROM alert_rule r WHERE r.kind = 'sighting_near_border'
                RETURNING id
                """
            ),
            {"sid": sighting_id, "t": NOW},
        ).scalar_one()
    )


def _stored(session: Session, key: str, path: str, record_id: int, hours_ago: float) -> None:
    body = orjson.dumps({"type": "Feature", "id": record_id, "properties": {"note": "rahasia"}})
    session.execute(
        text(
            "INSERT INTO idempotency_key (user_name, key, method, path, status_code, response, "
            "created_at) VALUES ('retention', :key, 'POST', :path, 201, :body, "
            "now() - make_interval(secs => :secs))"
        ),
        {"key": key, "path": path, "body": body, "secs": hours_ago * 3600},
    )


def test_purge_removes_alert_positions_and_stored_responses(session: Session) -> None:
    old, kept = _sighting(session, 400), _sighting(session, 3)
    old_alert, kept_alert = _alert(session, old), _alert(session, kept)
    _stored(session, "old-sighting", "/api/v1/sightings", old, hours_ago=1)
    _stored(session, "kept-sighting", "/api/v1/sightings", kept, hours_ago=1)
    _stored(session, "gone-foreigner", "/api/v1/foreigners", 2_000_000_000, hours_ago=1)
    _stored(session, "expired", "/api/v1/workplaces", 1, hours_ago=49)
    _stored(session, "recent", "/api/v1/workplaces", 1, hours_ago=1)

    dry = purge_sightings(session=session, older_than_days=365, now=NOW, dry_run=True)
    assert dry.alert_positions_removed == 0 and dry.idempotent_responses_removed == 0
    report = purge_sightings(session=session, older_than_days=365, now=NOW)

    assert report.sightings == 1
    # At least this test's rows (other tests may have committed stored responses before).
    assert report.alert_positions_removed >= 1
    assert report.idempotent_responses_removed >= 3
    alerts = dict(
        session.execute(
            text("SELECT id, geom IS NOT NULL FROM alert WHERE id IN (:a, :b)"),
            {"a": old_alert, "b": kept_alert},
        ).all()
    )
    assert alerts == {old_alert: False, kept_alert: True}  # the alert stays, without its point
    keys = session.execute(
        text("SELECT key FROM idempotency_key WHERE user_name = 'retention' ORDER BY key")
    ).scalars()
    assert list(keys) == ["kept-sighting", "recent"]
    details = session.execute(
        text("SELECT details FROM audit_log WHERE action = 'purge' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert details["alert_positions_removed"] == report.alert_positions_removed
    assert details["idempotent_responses_removed"] == report.idempotent_responses_removed
