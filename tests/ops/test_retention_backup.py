"""Retention purge and backup/restore round trips."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.backup import backup, restore
from geo.errors import ValidationError
from geo.migrate import upgrade
from geo.retention import purge_sightings

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def _add_sightings(session: Session, days_ago: list[int]) -> None:
    for d in days_ago:
        session.execute(
            text(
                "INSERT INTO sighting (observed_at, source, geom) VALUES "
                "(:t, 'lodging', ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326))"
            ),
            {"t": NOW - dt.timedelta(days=d)},
        )
    session.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES "
            "('overstay', 2, :t, ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326))"
        ),
        {"t": NOW - dt.timedelta(days=800)},
    )


def test_purge_removes_only_old_sightings_and_is_audited(session: Session) -> None:
    _add_sightings(session, [1, 10, 400, 500])
    before_incidents = session.execute(text("SELECT count(*) FROM incident")).scalar_one()

    dry = purge_sightings(session=session, older_than_days=365, dry_run=True, now=NOW)
    assert dry.sightings == 2 and dry.dry_run
    assert session.execute(text("SELECT count(*) FROM sighting")).scalar_one() == 4

    done = purge_sightings(session=session, older_than_days=365, now=NOW)
    assert done.sightings == 2
    left = session.execute(text("SELECT count(*) FROM sighting")).scalar_one()
    assert left == 2
    # History other than sightings is never deleted by retention.
    assert session.execute(text("SELECT count(*) FROM incident")).scalar_one() == before_incidents
    audit = session.execute(
        text("SELECT action, record_count FROM audit_log WHERE resource = 'sightings' ORDER BY id")
    ).all()
    assert audit == [("purge_dry_run", 2), ("purge", 2)]


@pytest.mark.parametrize("days", [0, -3, 100_000])
def test_purge_refuses_nonsense_windows(session: Session, days: int) -> None:
    with pytest.raises(ValidationError) as info:
        purge_sightings(session=session, older_than_days=days)
    assert info.value.field == "older_than_days" and info.value.value == days


def _fingerprint(eng: Engine) -> tuple[object, ...]:
    with eng.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    """
                    SELECT (SELECT count(*) FROM sighting),
                           (SELECT md5(string_agg(ST_AsText(geom) || observed_at::text
                                                  || coalesce(kecamatan_name, ''), ',' ORDER BY id))
                              FROM sighting),
                           (SELECT count(*) FROM incident),
                           (SELECT count(*) FROM admin_area)
                    """
                )
            ).one()
        )


def test_backup_and_restore_round_trip(empty_database: Engine, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from geo.boundaries import load_reference_data

    upgrade(empty_database)
    with Session(empty_database) as session:
        load_reference_data(session=session, settings=settings)
        _add_sightings(session, [1, 2, 3, 30, 300])
        session.commit()
    original = _fingerprint(empty_database)
    assert original[0] == 5 and original[3] == 213

    dump = tmp_path / "timpora.dump"
    size = backup(url=empty_database.url, out=dump)
    assert size > 10_000 and dump.read_bytes()[:5] == b"PGDMP"
    assert oct(dump.stat().st_mode)[-3:] == "600"

    with Session(empty_database) as session:  # damage after the backup
        session.execute(
            text("DELETE FROM sighting WHERE observed_at > :t"), {"t": NOW - dt.timedelta(days=5)}
        )
        _add_sightings(session, [7])
        session.commit()
    assert _fingerprint(empty_database) != original

    restore(url=empty_database.url, file=dump)
    # PostGIS caches operator OIDs per backend: connections opened before a restore are stale
    # (the service is restarted after a restore; docs/operations.md says so).
    empty_database.dispose()
    assert _fingerprint(empty_database) == original
    # The restored database still derives locations on write (triggers and functions came back).
    with Session(empty_database) as session:
        name = session.execute(
            text(
                "INSERT INTO sighting (observed_at, source, geom) VALUES (now(), 'patrol', "
                "ST_SetSRID(ST_MakePoint(109.677308, 1.610957), 4326)) RETURNING desa_name"
            )
        ).scalar_one()
        session.rollback()
    assert name == "Sebunga"


def test_restore_refuses_a_file_that_is_not_a_dump(empty_database: Engine, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with pytest.raises(ValidationError) as info:
        restore(url=empty_database.url, file=bogus)
    assert "not a pg_dump" in str(info.value)
