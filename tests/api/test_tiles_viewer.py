"""Sighting tiles of roles without personal data: grid counts no finer than the cell floor at
every zoom, read from the stored grid, "<3" hidden, each cell drawn by exactly one tile."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import tiles
from geo.geometry import transformer
from geo.registry import parse_time
from tests.api.helpers import SAMBAS_TOWN

LEVEL = tiles.GRID_FINEST  # the floor's level near the equator (305.7 m cells)
CELL_M = tiles.tile_width_m(LEVEL)
HALF = tiles.WEB_MERCATOR_HALF


def cell_centre(lon: float, lat: float) -> tuple[float, float]:
    """Lon/lat of the centre of the level-17 cell holding (lon, lat)."""
    cx, cy = tiles.grid_cells(np.array([lon]), np.array([lat]), LEVEL)
    x = (int(cx[0]) + 0.5) * CELL_M - HALF
    y = (int(cy[0]) + 0.5) * CELL_M - HALF
    lon_c, lat_c = transformer(3857, 4326).transform(x, y)
    return float(lon_c), float(lat_c)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode_3857(tmp_path: Path, body: bytes, z: int, x: int, y: int) -> list[dict[str, Any]]:
    """The sightings layer's features, in EPSG:3857 metres (GDAL's MVT driver)."""
    if not body:
        return []
    folder = tmp_path / str(z) / str(x)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{y}.pbf"
    path.write_bytes(body)
    target = tmp_path / "out.geojson"
    target.unlink(missing_ok=True)
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:3857", str(target), str(path), "sightings"],
        check=True,
        capture_output=True,
    )
    features: list[dict[str, Any]] = json.loads(target.read_text())["features"]
    return features


def plant(session: Session, points: list[tuple[float, float]], at: str = "2025-02-10") -> None:
    for lon, lat in points:
        session.execute(
            text(
                "INSERT INTO sighting (observed_at, source, geom) "
                "VALUES (:at, 'patrol', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
            ),
            {"at": at, "lon": lon, "lat": lat},
        )


@pytest.fixture
def cluster(session: Session) -> tuple[float, float]:
    """Five sightings within ~11 m of a level-17 cell's centre, two in the cell east of it."""
    lon, lat = cell_centre(*SAMBAS_TOWN)
    plant(session, [(lon + d, lat - d / 2) for d in (-1e-4, -5e-5, 0.0, 5e-5, 1e-4)])
    east = lon + CELL_M / 111_320  # one cell east (degrees of longitude near the equator)
    plant(session, [(east, lat), (east + 5e-5, lat)])
    return lon, lat


@pytest.mark.parametrize("z", list(range(12, tiles.MAX_ZOOM + 1)))
def test_viewer_cells_never_finer_than_the_floor(
    session: Session, tmp_path: Path, cluster: tuple[float, float], z: int
) -> None:
    lon, lat = cluster
    # The tile just south-east of the cell's centre: from z18 on, the one drawing the cell.
    x, y = tile_of(lon + 1e-9, lat - 1e-9, z)
    request = tiles.TileRequest("sightings", z, x, y)
    features = decode_3857(tmp_path, tiles.render(session=session, request=request, role="viewer"),
                           z, x, y)  # fmt: skip
    assert features, z
    for f in features:
        mx, my = f["geometry"]["coordinates"]
        # Every feature sits at the centre of a cell of level 17 (305.7 m), never finer.
        for v in (mx, my):
            assert ((v + HALF) / CELL_M) % 1 == pytest.approx(0.5, abs=1e-3), (z, v)
        assert "foreigner_id" not in f["properties"] and "id" not in f["properties"]
    labels = sorted(f["properties"]["count_label"] for f in features)
    assert "5" in labels
    assert set(labels) <= {"5", "<3"}
    assert all(f["properties"].get("count") is None for f in features
               if f["properties"]["count_label"] == "<3")  # fmt: skip
    assert tiles.grid_level(request, "viewer") == LEVEL
    assert tiles.grid_level(request, "admin") == z + tiles.GRID_SHIFT


@pytest.mark.parametrize("z", [18, 20, 22])
def test_a_cell_larger_than_the_tile_is_drawn_by_one_tile(
    session: Session, cluster: tuple[float, float], z: int
) -> None:
    lon, lat = cluster
    k = z - LEVEL
    cx, cy = tile_of(lon + 1e-9, lat - 1e-9, LEVEL)
    drawn = []
    for dx in range(1 << k):
        for dy in range(1 << k):
            x, y = (cx << k) + dx, (cy << k) + dy
            if tiles.grid_placement(z, x, y, LEVEL).draws:
                drawn.append((x, y))
    assert drawn == [tile_of(lon + 1e-9, lat - 1e-9, z)]
    # Any other tile inside the cell is empty for a viewer, without a query.
    x, y = drawn[0]
    other = tiles.TileRequest("sightings", z, x - 1, y - 1)
    assert tiles.render(session=session, request=other, role="planner") == b""


def test_the_floor_follows_latitude() -> None:
    """Web Mercator cells narrow away from the equator: at 60 degrees a level-17 cell is 153 m
    on the ground, so the floor is level 16 there (306 m)."""
    z = 14
    x, y = tile_of(25.0, 60.0, z)
    assert tiles.grid_level(tiles.TileRequest("sightings", z, x, y), "viewer") == LEVEL - 1
    # Coarse zooms keep their 64 cells across; incidents and admins are not floored.
    x, y = tile_of(*SAMBAS_TOWN, 9)
    assert tiles.grid_level(tiles.TileRequest("sightings", 9, x, y), "viewer") == 15
    x, y = tile_of(*SAMBAS_TOWN, 14)
    assert tiles.grid_level(tiles.TileRequest("incidents", 14, x, y), "viewer") == 20
    assert tiles.grid_level(tiles.TileRequest("sightings", 14, x, y), "analyst") == 20


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(None, None, id="all-time"),
        pytest.param("2025-01-20T07:30:00", "2025-03-10T00:00:00", id="partial-months"),
        pytest.param("2025-02-03T00:00:00", "2025-02-20T00:00:00", id="inside-one-month"),
    ],
)
def test_viewer_grid_tiles_equal_tiles_counted_from_rows(
    session: Session, tmp_path: Path, cluster: tuple[float, float], start: str | None,
    end: str | None,
) -> None:  # fmt: skip
    lon, lat = cluster
    session.execute(
        text(
            """
            INSERT INTO sighting (observed_at, source, geom)
            SELECT timestamptz '2025-01-15' + g * interval '7 hours', 'patrol',
                   ST_SetSRID(ST_MakePoint(:lon + (g % 23) * 0.0007, :lat + (g % 17) * 0.0005),
                              4326)
            FROM generate_series(1, 600) AS g
            """
        ),
        {"lon": lon - 0.008, "lat": lat - 0.004},
    )
    for z in (12, 14, 19):
        x, y = tile_of(lon + 1e-9, lat - 1e-9, z)
        request = tiles.TileRequest(
            "sightings", z, x, y, parse_time(start, field="start"), parse_time(end, field="end")
        )
        got = []
        for from_rows in (False, True):
            body = tiles.render(
                session=session, request=request, role="viewer", from_rows=from_rows
            )
            got.append(
                sorted(
                    (f["properties"]["count_label"], tuple(f["geometry"]["coordinates"]))
                    for f in decode_3857(tmp_path, body, z, x, y)
                )
            )
        assert got[0] == got[1], (z, start, end)
        assert got[0], "the window holds sightings"
