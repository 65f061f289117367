"""Vector tiles: decoded with GDAL's MVT driver; raw points at high zoom, grid counts below."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.registry import LAYERS, create_feature
from geo.settings import Settings
from geo.users import Principal
from tests.api.helpers import SAMBAS_TOWN, auth, feature, make_tokens, point


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def decode(tmp_path: Path, body: bytes, z: int, x: int, y: int) -> dict[str, list[dict[str, Any]]]:
    """Features per layer, decoded by GDAL (ogr2ogr MVT → GeoJSON)."""
    folder = tmp_path / str(z) / str(x)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{y}.pbf"
    path.write_bytes(body)
    out: dict[str, list[dict[str, Any]]] = {}
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(path)], capture_output=True, text=True, check=True
    )
    for line in listing.stdout.splitlines():
        if ":" in line and "(" in line:
            name = line.split(":", 1)[1].split("(")[0].strip()
            target = tmp_path / f"{name}.geojson"
            subprocess.run(
                ["ogr2ogr", "-f", "GeoJSON", str(target), str(path), name],
                check=True,
                capture_output=True,
            )
            out[name] = json.loads(target.read_text())["features"]
            target.unlink()
    return out


@pytest.fixture
def sightings(session: Session, settings: Settings) -> None:
    writer = Principal(name="seed", role="analyst")
    lon, lat = SAMBAS_TOWN
    for i in range(5):
        create_feature(
            session=session,
            layer=LAYERS["sightings"],
            body=feature(
                point(lon + i * 1e-4, lat), source="patrol", observed_at=f"2025-02-01T1{i}:00:00"
            ),
            principal=writer,
            area=settings.area,
        )
    create_feature(
        session=session,
        layer=LAYERS["sightings"],
        body=feature(point(109.35, 1.40), source="checkpoint", observed_at="2025-02-02T10:00:00"),
        principal=writer,
        area=settings.area,
    )


def test_points_raw_at_high_zoom_grid_below(
    client: TestClient, session: Session, sightings: None, tmp_path: Path
) -> None:
    tokens = make_tokens(session, prefix="mvt")
    z = 14
    x, y = tile_of(*SAMBAS_TOWN, z)
    raw = client.get(f"/tiles/sightings/{z}/{x}/{y}.mvt", headers=auth(tokens["analyst"]))
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert len(decode(tmp_path, raw.content, z, x, y)["sightings"]) == 5

    z = 8
    x, y = tile_of(*SAMBAS_TOWN, z)
    grid = client.get(f"/tiles/sightings/{z}/{x}/{y}.mvt", headers=auth(tokens["analyst"]))
    cells = decode(tmp_path, grid.content, z, x, y)["sightings"]
    assert sorted(c["properties"]["count"] for c in cells) == [
        1,
        5,
    ]  # the town cell and one 5 km away

    viewer = client.get(f"/tiles/sightings/{z}/{x}/{y}.mvt", headers=auth(tokens["viewer"]))
    cells = decode(tmp_path, viewer.content, z, x, y)["sightings"]
    labels = sorted(c["properties"]["count_label"] for c in cells)
    assert labels == ["5", "<3"]
    # Viewers never get raw sighting points, even zoomed in.
    z = 14
    x, y = tile_of(*SAMBAS_TOWN, z)
    close = client.get(f"/tiles/sightings/{z}/{x}/{y}.mvt", headers=auth(tokens["viewer"]))
    props = [c["properties"] for c in decode(tmp_path, close.content, z, x, y)["sightings"]]
    assert props and all("count_label" in p and "foreigner_id" not in p for p in props)


def test_admin_areas_and_zones(client: TestClient, session: Session, tmp_path: Path) -> None:
    tokens = make_tokens(session, prefix="mvt")
    z = 8
    x, y = tile_of(*SAMBAS_TOWN, z)
    response = client.get(f"/tiles/admin-areas/{z}/{x}/{y}.mvt", headers=auth(tokens["viewer"]))
    assert response.status_code == 200
    features = decode(tmp_path, response.content, z, x, y)["admin-areas"]
    levels = {f["properties"]["level"] for f in features}
    assert "kecamatan" in levels and "desa" not in levels
    assert len(response.content) < 500_000
    empty = client.get("/tiles/incidents/8/0/0.mvt", headers=auth(tokens["viewer"]))
    assert empty.status_code == 204


@pytest.mark.parametrize(
    ("url", "status"),
    [
        pytest.param("/tiles/roads/8/1/1.mvt", 404, id="layer"),
        pytest.param("/tiles/zones/3/8/1.mvt", 422, id="x-out-of-range"),
        pytest.param("/tiles/zones/23/1/1.mvt", 422, id="zoom"),
        pytest.param("/tiles/zones/8/1/1.mvt?start=soon", 422, id="start"),
    ],
)
def test_bad_tile_requests(client: TestClient, session: Session, url: str, status: int) -> None:
    tokens = make_tokens(session, prefix="mvt")
    assert client.get(url, headers=auth(tokens["viewer"])).status_code == status
