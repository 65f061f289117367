"""Monthly partitions of sightings: made ahead, drained from the default, dropped by retention."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.migrate import downgrade, upgrade
from geo.partitions import ensure_partitions, is_partitioned, list_partitions
from geo.retention import purge_sightings

PT = "ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326)"


def _insert(session: Session, when: dt.datetime, ref: str | None = None) -> int:
    return int(
        session.execute(
            text(
                f"INSERT INTO sighting (observed_at, source, geom, external_ref) "
                f"VALUES (:t, 'patrol', {PT}, :ref) RETURNING id"
            ),
            {"t": when, "ref": ref},
        ).scalar_one()
    )


def _partition_of(session: Session, sid: int) -> str:
    return str(
        session.execute(
            text("SELECT tableoid::regclass::text FROM sighting WHERE id = :id"), {"id": sid}
        ).scalar_one()
    )


def test_sighting_is_partitioned_by_month_with_a_year_ahead(session: Session) -> None:
    assert is_partitioned(session)
    names = {p.name for p in list_partitions(session=session)}
    today = dt.datetime.now(dt.UTC).date()
    assert f"sighting_y{today:%Y}m{today:%m}" in names
    ahead = dt.date(today.year + 1, today.month, 1) - dt.timedelta(days=1)
    assert f"sighting_y{ahead:%Y}m{ahead:%m}" in names
    assert "sighting_default" in names


def test_old_rows_wait_in_default_then_move_to_their_month(session: Session) -> None:
    when = dt.datetime(2019, 7, 14, 3, 0, tzinfo=dt.UTC)
    sid = _insert(session, when, ref="p-1")
    assert _partition_of(session, sid) == "sighting_default"
    made = ensure_partitions(session=session)
    assert made >= 1
    assert _partition_of(session, sid) == "sighting_y2019m07"
    row = session.execute(
        text(
            "SELECT kecamatan_name, external_ref, ST_X(geom_utm) > 0 FROM sighting WHERE id = :id"
        ),
        {"id": sid},
    ).one()
    assert row == ("Sambas", "p-1", True)  # derived and generated columns came along
    # The idempotency key still holds across the move.
    with pytest.raises(Exception, match="duplicate key value"), session.begin_nested():
        _insert(session, when, ref="p-1")


def test_time_filtered_queries_prune_partitions(session: Session) -> None:
    plan = "\n".join(
        session.execute(
            text(
                "EXPLAIN SELECT count(*) FROM sighting "
                "WHERE observed_at >= now() AND observed_at < now() + interval '1 day'"
            )
        ).scalars()
    )
    today = dt.datetime.now(dt.UTC).date()
    assert f"sighting_y{today:%Y}m{today:%m}" in plan
    assert plan.count("sighting_y") <= 2  # not every month


def test_retention_drops_whole_months_and_deletes_the_rest(session: Session) -> None:
    now = dt.datetime(2021, 6, 15, tzinfo=dt.UTC)
    for day in (
        dt.datetime(2021, 1, 10, tzinfo=dt.UTC),
        dt.datetime(2021, 2, 10, tzinfo=dt.UTC),
        dt.datetime(2021, 3, 10, tzinfo=dt.UTC),
        dt.datetime(2021, 3, 20, tzinfo=dt.UTC),
        dt.datetime(2021, 6, 1, tzinfo=dt.UTC),
    ):
        _insert(session, day)
    ensure_partitions(session=session, today=dt.date(2021, 1, 1), months_ahead=6)
    # Cutoff 2021-03-17: January and February go whole; 10 March by DELETE; 20 March stays.
    report = purge_sightings(session=session, older_than_days=90, now=now)
    assert report.sightings == 3
    assert set(report.partitions_dropped) == {"sighting_y2021m01", "sighting_y2021m02"}
    left = session.execute(
        text("SELECT count(*) FROM sighting WHERE observed_at < '2021-07-01'")
    ).scalar_one()
    assert left == 2
    assert "sighting_y2021m03" in {p.name for p in list_partitions(session=session)}
    # The tile count grid follows: its total for 2021 is what is left.
    grid_2021 = session.execute(
        text(
            "SELECT coalesce(sum(n), 0) FROM sighting_grid "
            "WHERE level = (SELECT min(level) FROM sighting_grid) "
            "AND month >= '2021-01-01' AND month < '2022-01-01'"
        )
    ).scalar_one()
    assert grid_2021 == 2


def test_migration_keeps_the_rows_both_ways(empty_database: Engine) -> None:
    upgrade(empty_database, "0006")
    with Session(empty_database) as session:
        ids = [
            _insert(session, dt.datetime(2024, m, 1, tzinfo=dt.UTC), ref=f"r{m}") for m in (1, 5, 9)
        ]
        session.commit()
    upgrade(empty_database, "0007")
    with Session(empty_database) as session:
        assert is_partitioned(session)
        got = session.execute(text("SELECT id, external_ref FROM sighting ORDER BY id")).all()
        assert got == [(i, f"r{m}") for i, m in zip(ids, (1, 5, 9), strict=True)]
        assert _partition_of(session, ids[1]) == "sighting_y2024m05"
        new_id = _insert(session, dt.datetime.now(dt.UTC))
        assert new_id > max(ids)  # the identity continues after the copied rows
        session.commit()
    downgrade(empty_database, "0006")
    with Session(empty_database) as session:
        assert not is_partitioned(session)
        assert session.execute(text("SELECT count(*) FROM sighting")).scalar_one() == 4
