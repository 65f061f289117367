"""Prepared statements (geo/prepared.py): a page collected from a small box runs prepared, its
generic plan still applies each execution's role and agency, and each connection keeps a
bounded number of them."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import prepared
from geo.registry import LAYERS, list_features, parse_filters, reads
from geo.roles import PERSONAL_ROLE

SIGHTINGS = LAYERS["sightings"]
BOX = "109.40,1.40,109.42,1.42"


def _statements(session: Session) -> dict[str, tuple[int, int]]:
    """This connection's prepared statements: name -> (generic plans, custom plans)."""
    rows = session.execute(
        text(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name ~ '^timpora_[0-9a-f]{16}$'"  # not the alert engine's named ones
        )
    )
    return {name: (generic, custom) for name, generic, custom in rows}


@pytest.fixture
def box_of_sightings(session: Session) -> int:
    """Twenty sightings for the whole Timpora in BOX and one that Polres keeps to itself;
    returns Polres's id."""
    polres = int(
        session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar_one()
    )
    session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
    session.execute(
        text(
            """
            INSERT INTO sighting (observed_at, source, geom, external_ref, agency_id, sharing)
            SELECT timestamptz '2025-04-01 08:00+07' + g * interval '1 hour', 'patrol',
                   ST_SetSRID(ST_MakePoint(109.401 + g * 0.0005, 1.401 + g * 0.0005), 4326),
                   'prepared-' || g,
                   CASE WHEN g = 0 THEN :polres END,
                   CASE WHEN g = 0 THEN 'agency' ELSE 'timpora' END
            FROM generate_series(0, 20) AS g
            """
        ),
        {"polres": polres},
    )
    return polres


def test_a_box_page_runs_prepared_and_its_generic_plan_keeps_each_agencys_rows(
    session: Session, monkeypatch: pytest.MonkeyPatch, box_of_sightings: int
) -> None:
    """Alternating agencies on one connection, with the generic plan forced: Polres sees its
    restricted sighting, a caller without an agency never does, page after page."""
    monkeypatch.setattr(reads, "collect_by_box", lambda **_: True)
    filters = parse_filters(layer=SIGHTINGS, bbox=BOX, limit=100)
    session.execute(text(f"SET LOCAL ROLE {PERSONAL_ROLE}"))
    session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    before = _statements(session)
    for _ in range(3):
        for agency, expected in ((str(box_of_sightings), 21), ("", 20)):
            session.execute(text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": agency})
            page = list_features(session=session, layer=SIGHTINGS, filters=filters, role="admin")
            assert page.returned == expected
            assert ("prepared-0" in (page.joined or "")) is (expected == 21)
    # One statement ran all six pages on its generic plan (it may have been prepared on this
    # pooled connection by an earlier test: count what this test added).
    after = _statements(session)
    ran = {
        name: generic - before.get(name, (0, 0))[0]
        for name, (generic, _custom) in after.items()
        if generic > before.get(name, (0, 0))[0]
    }
    assert len(ran) == 1, ran
    assert next(iter(ran.values())) >= 6


def test_the_prepared_page_equals_the_planned_one(
    session: Session, monkeypatch: pytest.MonkeyPatch, box_of_sightings: int
) -> None:
    monkeypatch.setattr(reads, "collect_by_box", lambda **_: True)
    filters = parse_filters(layer=SIGHTINGS, bbox=BOX, limit=7, offset=2)
    prepared_page = list_features(session=session, layer=SIGHTINGS, filters=filters, role="admin")
    monkeypatch.setattr(reads, "execute_prepared", lambda s, sql, p: s.execute(text(sql), p))
    planned = list_features(session=session, layer=SIGHTINGS, filters=filters, role="admin")
    assert prepared_page.returned == planned.returned == 7
    assert (prepared_page.joined, prepared_page.has_more, prepared_page.last_id) == (
        planned.joined,
        planned.has_more,
        planned.last_id,
    )


def test_each_connection_keeps_a_bounded_number(session: Session) -> None:
    """The least recently used statement is deallocated past the cap; percent signs and a
    parameter used twice survive the numbering."""
    base = set(_statements(session))
    first = "SELECT :n * 2 + :n AS v, '100%' AS p, 0 AS k"
    assert session.execute(text(first), {"n": 1}).one() == (3, "100%", 0)
    for k in range(prepared.MAX_PER_CONNECTION + 3):
        sql = f"SELECT :n * 2 + :n AS v, '100%' AS p, {k + 1} AS k"
        row = prepared.execute_prepared(session, sql, {"n": k}).one()
        assert row == (3 * k, "100%", k + 1)
    mine = set(_statements(session)) - base
    assert len(mine) <= prepared.MAX_PER_CONNECTION
    assert len(_statements(session)) <= prepared.MAX_PER_CONNECTION


def test_a_statement_postgresql_cannot_prepare_runs_as_it_is(session: Session) -> None:
    """A parameter of no inferable type: PREPARE fails in a savepoint, the statement runs
    planned and the transaction goes on."""
    sql = "SELECT :value IS NULL AS missing"
    assert prepared.execute_prepared(session, sql, {"value": None}).scalar_one() is True
    assert prepared.execute_prepared(session, sql, {"value": 3}).scalar_one() is False
    assert session.execute(text("SELECT 1")).scalar_one() == 1
