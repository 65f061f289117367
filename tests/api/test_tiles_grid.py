"""The count grids behind low-zoom point tiles (migration 0010): in step with every kind of
write, and tiles read from them equal to tiles counted from the rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import tiles
from geo.locate import relocate
from geo.registry import LAYERS, create_feature, delete_feature, update_feature
from geo.settings import Settings
from geo.users import Principal
from tests.api.helpers import PALOH, SAMBAS_TOWN, auth, feature, make_tokens, point
from tests.api.test_tiles import decode, tile_of

WRITER = Principal(name="grid-test", role="admin")


def grid_total(session: Session, table: str, level: int) -> int:
    return int(
        session.execute(
            text(
                f"SELECT coalesce(sum(n), 0) FROM {table}_grid WHERE level = :l AND month > '-infinity'"
            ),
            {"l": level},
        ).scalar_one()
    )


def in_step(session: Session) -> None:
    for layer in ("sightings", "incidents"):
        assert tiles.grid_drift(session=session, layer=layer) == 0, layer


def test_grid_follows_api_writes(session: Session, settings: Settings) -> None:
    in_step(session)
    before = grid_total(session, "sighting", 17)
    made = []
    for i, (lon, lat) in enumerate((SAMBAS_TOWN, PALOH, SAMBAS_TOWN)):
        result = create_feature(
            session=session,
            layer=LAYERS["sightings"],
            body=feature(
                point(lon, lat + i * 1e-4), source="patrol", observed_at=f"2025-02-0{i + 1}"
            ),
            principal=WRITER,
            area=settings.area,
        )
        made.append(result.feature["id"])
    incident = create_feature(
        session=session,
        layer=LAYERS["incidents"],
        body=feature(point(*PALOH), kind="smuggling", severity=4, occurred_at="2025-03-01T10:00"),
        principal=WRITER,
        area=settings.area,
    ).feature["id"]
    assert grid_total(session, "sighting", 17) == before + 3
    in_step(session)

    # Moved in space, moved in time (to another month and partition), changed elsewhere only.
    for body in (
        {"geometry": point(*PALOH)},
        {"properties": {"observed_at": "2025-04-15T09:00:00+07:00"}},
        {"properties": {"note": "hanya catatan"}},
    ):
        update_feature(
            session=session,
            layer=LAYERS["sightings"],
            record_id=made[0],
            body=body,
            principal=WRITER,
            area=settings.area,
        )
        in_step(session)
    update_feature(
        session=session,
        layer=LAYERS["incidents"],
        record_id=incident,
        body={"geometry": point(*SAMBAS_TOWN), "properties": {"occurred_at": "2025-05-01"}},
        principal=WRITER,
        area=settings.area,
    )
    in_step(session)

    for record_id in made:
        delete_feature(
            session=session, layer=LAYERS["sightings"], record_id=record_id, principal=WRITER
        )
    delete_feature(session=session, layer=LAYERS["incidents"], record_id=incident, principal=WRITER)
    assert grid_total(session, "sighting", 17) == before
    in_step(session)


def test_grid_after_bulk_load_with_deferred_location(session: Session) -> None:
    """A set-based load with the location trigger deferred, relocated afterwards, a bulk
    move and a bulk delete: the grid follows each statement."""
    session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
    session.execute(
        text(
            """
            INSERT INTO sighting (observed_at, source, geom, external_ref)
            SELECT timestamptz '2025-01-20' + g * interval '1 hour', 'lodging',
                   ST_SetSRID(ST_MakePoint(109.2 + (g % 40) * 0.01, 1.3 + (g / 40) * 0.01), 4326),
                   'grid-bulk-' || g
            FROM generate_series(1, 2000) AS g
            """
        )
    )
    assert grid_total(session, "sighting", 12) >= 2000
    in_step(session)
    relocate(session=session, table="sighting")
    in_step(session)
    session.execute(
        text(
            "UPDATE sighting SET observed_at = observed_at + interval '20 days', "
            "geom = ST_Translate(geom, 0.003, 0) WHERE external_ref LIKE 'grid-bulk-%'"
        )
    )
    in_step(session)
    session.execute(text("DELETE FROM sighting WHERE external_ref LIKE 'grid-bulk-1%'"))
    in_step(session)


def test_truncate_empties_the_grid_and_rebuild_restores_it(session: Session) -> None:
    session.execute(
        text(
            "INSERT INTO sighting (observed_at, source, geom) VALUES "
            "('2025-02-01', 'patrol', ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326))"
        )
    )
    session.execute(text("TRUNCATE sighting"))
    assert grid_total(session, "sighting", 12) == 0
    in_step(session)
    session.execute(
        text(
            "INSERT INTO sighting (observed_at, source, geom) VALUES "
            "('2025-02-01', 'patrol', ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326))"
        )
    )
    session.execute(text("DELETE FROM sighting_grid WHERE level = 15"))  # rows lost, say
    assert tiles.grid_drift(session=session, layer="sightings") > 0
    assert tiles.rebuild_grid(session=session, layer="sightings") > 0
    in_step(session)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(None, None, id="all-time"),
        pytest.param("2025-02-01T00:00:00Z", "2025-04-01T00:00:00Z", id="whole-months"),
        pytest.param("2025-01-20T07:30:00", "2025-03-10T00:00:00", id="partial-months"),
        pytest.param("2025-02-03T00:00:00", "2025-02-20T00:00:00", id="inside-one-month"),
        pytest.param("2025-02-15T00:00:00", None, id="open-end"),
    ],
)
def test_grid_tiles_equal_tiles_counted_from_rows(
    session: Session, tmp_path: Path, start: str | None, end: str | None
) -> None:
    session.execute(
        text(
            """
            INSERT INTO sighting (observed_at, source, geom)
            SELECT timestamptz '2025-01-15' + g * interval '7 hours', 'patrol',
                   ST_SetSRID(ST_MakePoint(109.25 + (g % 23) * 0.004, 1.33 + (g % 17) * 0.003),
                              4326)
            FROM generate_series(1, 600) AS g
            """
        )
    )
    from geo.registry import parse_time

    for z in (6, 9, 11):
        x, y = tile_of(*SAMBAS_TOWN, z)
        request = tiles.TileRequest(
            "sightings",
            z,
            x,
            y,
            parse_time(start, field="start"),
            parse_time(end, field="end"),
        )
        got: list[Any] = []
        for from_rows in (False, True):
            body = tiles.render(session=session, request=request, role="admin", from_rows=from_rows)
            cells = decode(tmp_path, body, z, x, y)["sightings"] if body else []
            got.append(
                sorted(
                    (c["properties"]["count"], tuple(c["geometry"]["coordinates"])) for c in cells
                )
            )
        assert got[0] == got[1], (z, start, end)
        assert got[0], "the window holds sightings"


def test_grid_window_split() -> None:
    utc = dt.UTC
    w = tiles.grid_window(
        dt.datetime(2025, 1, 20, tzinfo=utc), dt.datetime(2025, 4, 10, tzinfo=utc)
    )
    assert (w.months_from, w.months_to) == (
        dt.datetime(2025, 2, 1, tzinfo=utc),
        dt.datetime(2025, 4, 1, tzinfo=utc),
    )
    assert w.row_ranges == (
        (dt.datetime(2025, 1, 20, tzinfo=utc), dt.datetime(2025, 2, 1, tzinfo=utc)),
        (dt.datetime(2025, 4, 1, tzinfo=utc), dt.datetime(2025, 4, 10, tzinfo=utc)),
    )
    inside = tiles.grid_window(
        dt.datetime(2025, 12, 2, tzinfo=utc), dt.datetime(2025, 12, 9, tzinfo=utc)
    )
    assert not inside.use_grid and len(inside.row_ranges) == 1
    aligned = tiles.grid_window(dt.datetime(2025, 12, 1, tzinfo=utc), None)
    assert aligned.use_grid and aligned.row_ranges == () and aligned.months_to is None


def test_viewer_counts_below_three_hidden_from_grid(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path
) -> None:
    tokens = make_tokens(session, prefix="grid")
    lon, lat = 109.40, 1.45
    for i in range(4):
        create_feature(
            session=session,
            layer=LAYERS["sightings"],
            body=feature(point(lon + i * 1e-5, lat), source="patrol", observed_at="2025-02-01"),
            principal=WRITER,
            area=settings.area,
        )
    create_feature(
        session=session,
        layer=LAYERS["sightings"],
        body=feature(point(109.55, 1.60), source="patrol", observed_at="2025-02-01"),
        principal=WRITER,
        area=settings.area,
    )
    z = 9
    x, y = tile_of(lon, lat, z)
    viewer = client.get(f"/tiles/sightings/{z}/{x}/{y}.mvt", headers=auth(tokens["viewer"]))
    props = [c["properties"] for c in decode(tmp_path, viewer.content, z, x, y)["sightings"]]
    assert sorted(p["count_label"] for p in props) == ["4", "<3"]
    assert all(p.get("count") is None for p in props if p["count_label"] == "<3")


def test_dense_raw_tile_falls_back_to_finest_grid(
    session: Session, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lon, lat = SAMBAS_TOWN
    for i in range(5):
        create_feature(
            session=session,
            layer=LAYERS["sightings"],
            body=feature(point(lon + i * 1e-5, lat), source="patrol", observed_at="2025-02-01"),
            principal=WRITER,
            area=settings.area,
        )
    z = 13
    x, y = tile_of(lon, lat, z)
    request = tiles.TileRequest("sightings", z, x, y)
    raw = decode(tmp_path, tiles.render(session=session, request=request, role="admin"), z, x, y)
    assert all("count" not in f["properties"] for f in raw["sightings"])
    monkeypatch.setattr(tiles, "RAW_MAX_POINTS", 3)
    dense = decode(tmp_path, tiles.render(session=session, request=request, role="admin"), z, x, y)
    assert sum(f["properties"]["count"] for f in dense["sightings"]) >= 5
    assert all("foreigner_id" not in f["properties"] for f in dense["sightings"])
