"""OGC API – Tiles: the WebMercatorQuad tile matrix set, tilesets, TileJSON and tiles that are the
project's own vector tiles under OGC's addresses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.helpers import SAMBAS_TOWN, auth, make_tokens
from tests.api.test_tiles import tile_of


def test_tile_matrix_set(client: TestClient, session: Session) -> None:
    h = auth(make_tokens(session, prefix="tms")["viewer"])
    listing = client.get("/ogc/tileMatrixSets", headers=h).json()
    assert [t["id"] for t in listing["tileMatrixSets"]] == ["WebMercatorQuad"]
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad", headers=h).json()
    assert tms["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert len(tms["tileMatrices"]) == 23
    z0, z12 = tms["tileMatrices"][0], tms["tileMatrices"][12]
    assert z0["cellSize"] == pytest.approx(156543.03392804097)
    assert z0["scaleDenominator"] == pytest.approx(559082264.0287178)
    assert (z12["matrixWidth"], z12["matrixHeight"], z12["tileWidth"]) == (4096, 4096, 256)
    assert z12["pointOfOrigin"] == pytest.approx([-20037508.342789244, 20037508.342789244])
    assert client.get("/ogc/tileMatrixSets/WorldCRS84Quad", headers=h).status_code == 404


def test_tilesets_and_tiles_per_role(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="tset")
    viewer, analyst = auth(tokens["viewer"]), auth(tokens["analyst"])
    tileset = client.get("/ogc/collections/admin-areas/tiles/WebMercatorQuad", headers=viewer)
    doc = tileset.json()
    assert doc["dataType"] == "vector" and doc["tileMatrixSetURI"].endswith("WebMercatorQuad")
    template = next(link for link in doc["links"] if link["rel"] == "item")
    assert template["templated"] and template["href"].endswith(
        "/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
    )
    assert doc["layers"][0]["id"] == "admin-areas"
    z = 10
    x, y = tile_of(*SAMBAS_TOWN, z)
    ogc_tile = client.get(
        f"/ogc/collections/admin-areas/tiles/WebMercatorQuad/{z}/{y}/{x}", headers=viewer
    )
    own = client.get(f"/tiles/admin-areas/{z}/{x}/{y}.mvt", headers=viewer)
    assert ogc_tile.status_code == own.status_code == 200
    assert ogc_tile.content == own.content and len(own.content) > 100
    # No tiles for a collection without a tile layer; sightings only for roles with personal
    # data (their tiles of persons), as the collection itself.
    assert client.get("/ogc/collections/workplaces/tiles", headers=viewer).status_code == 404
    assert client.get("/ogc/collections/sightings/tiles", headers=viewer).status_code == 403
    assert client.get("/ogc/collections/sightings/tiles", headers=analyst).status_code == 200
    tilejson = client.get(
        "/ogc/collections/zones/tiles/WebMercatorQuad/tilejson.json", headers=viewer
    ).json()
    assert tilejson["tiles"][0].endswith("/ogc/collections/zones/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert set(tilejson["vector_layers"][0]["fields"]) == {"id", "name", "kind", "active"}
    bad = client.get(
        "/ogc/collections/zones/tiles/WebMercatorQuad/3/9/1", headers=viewer
    )  # row 9 at zoom 3 does not exist
    assert bad.status_code == 422
