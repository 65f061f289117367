"""The office's basemap archive served by the service: the file with range requests, its tiles
decoded on the server from PMTiles and MBTiles alike, and the error cases."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.db import Database
from geo.errors import ConfigurationError
from geo.settings import Settings
from geo.tilearchive import TileArchive, open_archive
from tests.basemap_archive import (
    MAX_ZOOM,
    MIN_ZOOM,
    raster_tiles,
    vector_tiles,
    write_mbtiles,
    write_pmtiles,
)
from tests.conftest import request_session


def _client(settings: Settings, database: Database, session: Session, path: Path | None):
    served = Settings(
        database=settings.database,
        area=settings.area,
        service=settings.service.model_copy(update={"basemap_file": path}),
    )
    app = create_app(served, database)
    app.dependency_overrides[get_session] = request_session(session)
    return TestClient(app)


@pytest.fixture
def archives(session: Session, tmp_path: Path) -> dict[str, Path]:
    tiles = vector_tiles(session.connection())
    assert len(tiles) >= 10
    paths = {"pmtiles": tmp_path / "sambas.pmtiles", "mbtiles": tmp_path / "sambas.mbtiles"}
    write_pmtiles(paths["pmtiles"], tiles)
    write_mbtiles(paths["mbtiles"], tiles, fmt="pbf")
    paths["raster"] = tmp_path / "raster.mbtiles"
    write_mbtiles(paths["raster"], raster_tiles(), fmt="png")
    return paths


def test_pmtiles_and_mbtiles_give_the_same_tiles(archives: dict[str, Path], session: Session):
    tiles = vector_tiles(session.connection())
    pm, mb = TileArchive(archives["pmtiles"]), TileArchive(archives["mbtiles"])
    for archive in (pm, mb):
        assert archive.info.vector and archive.info.tile_format == "mvt"
        assert (archive.info.min_zoom, archive.info.max_zoom) == (MIN_ZOOM, MAX_ZOOM)
        assert archive.info.vector_layers == ("transportation", "waterway", "place")
    for (z, x, y), data in tiles.items():
        assert pm.tile_plain(z, x, y) == data
        assert mb.tile_plain(z, x, y) == data
    assert pm.tile(3, 0, 0) is None  # below the archive's zooms
    raster = TileArchive(archives["raster"])
    assert raster.info.tile_format == "png" and not raster.info.vector


def test_a_file_that_is_no_archive_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "roads.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(ConfigurationError, match=r"roads\.geojson"):
        open_archive(bad)
    with pytest.raises(ConfigurationError, match="does not exist"):
        open_archive(tmp_path / "missing.pmtiles")


def test_archive_range_requests(
    archives: dict[str, Path], settings: Settings, database: Database, session: Session
) -> None:
    path = archives["pmtiles"]
    whole = path.read_bytes()
    with _client(settings, database, session, path) as client:
        full = client.get("/basemap/archive")
        assert full.status_code == 200 and full.content == whole
        assert full.headers["accept-ranges"] == "bytes"
        etag = full.headers["etag"]
        # The PMTiles header: the first 127 bytes, as a PMTiles reader asks for them.
        head = client.get("/basemap/archive", headers={"Range": "bytes=0-126"})
        assert head.status_code == 206
        assert head.content == whole[:127] and head.content.startswith(b"PMTiles\x03")
        assert head.headers["content-range"] == f"bytes 0-126/{len(whole)}"
        assert head.headers["etag"] == etag
        assert head.headers["access-control-allow-origin"] == "*"
        middle = client.get("/basemap/archive", headers={"Range": "bytes=200-263"})
        assert middle.status_code == 206 and middle.content == whole[200:264]
        tail = client.get("/basemap/archive", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == whole[-10:]
        # If-Range with the current ETag keeps the range; a stale one gets the whole file.
        kept = client.get("/basemap/archive", headers={"Range": "bytes=0-9", "If-Range": etag})
        assert kept.status_code == 206 and kept.content == whole[:10]
        stale = client.get(
            "/basemap/archive", headers={"Range": "bytes=0-9", "If-Range": '"stale"'}
        )
        assert stale.status_code == 200 and stale.content == whole
        past = client.get("/basemap/archive", headers={"Range": f"bytes={len(whole) + 5}-"})
        assert past.status_code == 416


@pytest.mark.parametrize("kind", ["pmtiles", "mbtiles"])
def test_tiles_come_from_the_archive(
    kind: str,
    archives: dict[str, Path],
    settings: Settings,
    database: Database,
    session: Session,
) -> None:
    tiles = vector_tiles(session.connection())
    (z, x, y), data = next(iter(sorted(tiles.items())))
    with _client(settings, database, session, archives[kind]) as client:
        meta = client.get("/basemap/metadata").json()
        assert meta["vector"] is True and meta["container"] == kind
        assert meta["vector_layers"] == ["transportation", "waterway", "place"]
        got = client.get(f"/basemap/tiles/{z}/{x}/{y}")
        assert got.status_code == 200
        assert got.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert got.headers["content-encoding"] == "gzip"
        # httpx undoes the gzip layer, as a browser does
        assert got.content == data
        assert got.headers["access-control-allow-origin"] == "*"
        again = client.get(
            f"/basemap/tiles/{z}/{x}/{y}", headers={"If-None-Match": got.headers["etag"]}
        )
        assert again.status_code == 304
        assert client.get(f"/basemap/tiles/{MIN_ZOOM}/0/0").status_code == 204
        bad = client.get(f"/basemap/tiles/{MIN_ZOOM}/{1 << MIN_ZOOM}/0")
        assert bad.status_code == 422 and str(1 << MIN_ZOOM) in bad.text


def test_raster_tiles_keep_their_bytes(
    archives: dict[str, Path], settings: Settings, database: Database, session: Session
) -> None:
    (z, x, y), data = next(iter(sorted(raster_tiles().items())))
    with _client(settings, database, session, archives["raster"]) as client:
        got = client.get(f"/basemap/tiles/{z}/{x}/{y}")
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert "content-encoding" not in got.headers
        assert got.content == data and not data.startswith(gzip.compress(b"")[:2])


def test_without_an_archive_the_routes_say_so(
    settings: Settings, database: Database, session: Session
) -> None:
    with _client(settings, database, session, None) as client:
        for url in ("/basemap/metadata", "/basemap/archive", "/basemap/tiles/9/408/252"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "TIMPORA_BASEMAP_FILE" in response.text
