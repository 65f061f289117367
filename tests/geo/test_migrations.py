"""Migrations run on an empty database, reach head, and downgrade back to base."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from geo.migrate import current_revision, downgrade, head_revision, upgrade
from geo.models import Base


def test_upgrade_from_empty_then_downgrade_to_base(empty_database: Engine) -> None:
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()
    tables = set(inspect(empty_database).get_table_names())
    assert set(Base.metadata.tables) <= tables

    downgrade(empty_database, "base")
    assert current_revision(empty_database) is None
    left = set(inspect(empty_database).get_table_names()) - {"alembic_version", "spatial_ref_sys"}
    assert left == set()

    upgrade(empty_database)  # and back up again: downgrade left nothing behind that conflicts
    assert current_revision(empty_database) == head_revision()


def test_metric_columns_have_gist_indexes_in_32649(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT f_table_name, srid FROM geometry_columns
                WHERE f_geometry_column = 'geom_utm'
                """
            )
        ).all()
        indexed = set(
            conn.execute(
                text("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%gist (geom_utm)%'")
            ).scalars()
        )
    tables = {name for name, srid in rows}
    assert {srid for _, srid in rows} == {32649}
    assert {"sighting", "incident", "workplace", "foreigner", "zone", "admin_area"} <= tables
    assert tables <= indexed


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        pytest.param(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES "
            "('overstay', 6, now(), ST_SetSRID(ST_MakePoint(109.3, 1.3), 4326))",
            "ck_incident_severity",
            id="severity-out-of-range",
        ),
        pytest.param(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES "
            "('picnic', 2, now(), ST_SetSRID(ST_MakePoint(109.3, 1.3), 4326))",
            "ck_incident_kind",
            id="unknown-incident-kind",
        ),
        pytest.param(
            "INSERT INTO foreigner (full_name, nationality, permit_type) VALUES "
            "('Synthetic Person', 'my', 'KITAS')",
            "ck_foreigner_nationality",
            id="nationality-not-alpha3",
        ),
        pytest.param(
            "INSERT INTO sighting (observed_at, source, geom) VALUES "
            "(now(), 'patrol', ST_SetSRID(ST_MakePoint(200, 1.3), 4326))",
            None,  # the generated UTM column refuses it before the check runs
            id="longitude-out-of-range",
        ),
    ],
)
def test_check_constraints_refuse_bad_values(
    connection, statement: str, constraint: str | None
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import DBAPIError

    nested = connection.begin_nested()
    with pytest.raises(DBAPIError) as info:
        connection.execute(text(statement))
    nested.rollback()
    if constraint is not None:
        assert info.value.orig.diag.constraint_name == constraint


def test_utm_column_is_generated_from_geom(connection) -> None:  # type: ignore[no-untyped-def]
    x, y = connection.execute(
        text(
            """
            INSERT INTO incident (kind, severity, occurred_at, geom)
            VALUES ('overstay', 3, now(), ST_SetSRID(ST_MakePoint(109.677308, 1.610957), 4326))
            RETURNING ST_X(geom_utm), ST_Y(geom_utm)
            """
        )
    ).one()
    # PLBN Aruk in UTM 49N (central meridian 111°E): about 352.9 km east, 178.1 km north.
    assert 352_000 < x < 354_000
    assert 177_000 < y < 180_000
