"""The OGC APIs driven by the analysts' own clients against a running server: OWSLib (features,
queryables, CQL2 filters, CRS), GDAL's OAPIF driver (an attribute filter pushed to the server)
and a MapLibre-style TileJSON read (the TileJSON, then a tile from its template)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.settings import Settings
from geo.users import create_user
from tests.api.helpers import SAMBAS_TOWN
from tests.api.test_ogc_filters import seed
from tests.api.test_tiles import decode, tile_of


@pytest.fixture
def served(committed: Engine, settings: Settings, live_server: str) -> Iterator[dict[str, Any]]:
    with Session(committed) as session:
        seed(session, settings)
        tokens = {
            role: create_user(session=session, name=f"client-{role}", role=role)[1]
            for role in ("coordinator", "viewer")
        }
        session.commit()
    yield {"base": live_server, "tokens": tokens, "engine": committed}


def owslib(base: str, token: str) -> Features:
    return Features(f"{base}/ogc", headers={"Authorization": f"Bearer {token}"})


def test_owslib_features_queryables_filters_and_crs(served: dict[str, Any]) -> None:
    api = owslib(served["base"], served["tokens"]["viewer"])
    assert (
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"
        in api.conformance()["conformsTo"]
    )
    ids = {c["id"] for c in api.collections()["collections"]}
    assert "incidents" in ids and "sightings" not in ids
    queryables = api.collection_queryables("incidents")
    assert "severity" in queryables["properties"]
    assert "description" not in queryables["properties"]  # personal: not for a viewer
    page = api.collection_items("incidents", filter="kind = 'illegal_work' AND severity > 3")
    assert [f["properties"]["severity"] for f in page["features"]] == [4]
    as_json = api.collection_items(
        "incidents",
        filter=json.dumps({"op": "between", "args": [{"property": "severity"}, 2, 3]}),
        **{"filter-lang": "cql2-json"},
        sortby=("severity", "desc"),
    )
    assert [f["properties"]["severity"] for f in as_json["features"]] == [3, 3, 2]
    utm = api.collection_items(
        "incidents", crs="http://www.opengis.net/def/crs/EPSG/0/32649", limit=1
    )
    assert api.response_headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/32649>"
    assert utm["features"][0]["geometry"]["coordinates"][0] > 100_000
    # A personal field cannot be a filter for a viewer: OWSLib raises on the 400.
    with pytest.raises(RuntimeError, match="not a queryable"):
        api.collection_items("incidents", filter="description LIKE '%'")


def gdal(base: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "--config",
            "GDAL_HTTP_HEADERS",
            f"Authorization: Bearer {token}",
            "--config",
            "CPL_DEBUG",
            "ON",
            "--config",
            "CPL_CURL_VERBOSE",
            "YES",
            f"OAPIF:{base}/ogc",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "GDAL_HTTP_TIMEOUT": "60"},
    )


def test_gdal_pushes_an_attribute_filter_to_the_server(served: dict[str, Any]) -> None:
    token = served["tokens"]["coordinator"]
    result = gdal(
        served["base"],
        token,
        "-al",
        "-q",
        "incidents",
        "-where",
        "kind = 'overstay' AND severity >= 3",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # GDAL found the filter language and the queryables in the service's OpenAPI document and
    # sent the filter in the request (its own request log, CPL_CURL_VERBOSE).
    assert "CQL text detected" in result.stderr
    requested = re.findall(r"GET (/ogc/collections/incidents/items\?\S+)", result.stderr)
    filtered = [r for r in requested if "filter=" in r]
    assert filtered, requested
    assert all("filter-lang=cql-text" in r for r in filtered)
    severities = re.findall(r"severity \(Integer\) = (\d+)", result.stdout)
    assert severities == ["3"], result.stdout[-2000:]
    # The server answered the filtered request with the one matching feature: the coordinator's
    # read of incidents is audited with that count.
    with served["engine"].connect() as conn:
        counts = (
            conn.execute(
                text(
                    "SELECT record_count FROM audit_log WHERE user_name = 'client-coordinator' "
                    "AND resource = 'incidents' ORDER BY id"
                )
            )
            .scalars()
            .all()
        )
    assert 1 in counts, counts


def test_maplibre_reads_the_tilejson_then_a_tile(served: dict[str, Any], tmp_path: Path) -> None:
    base, token = served["base"], served["tokens"]["viewer"]
    headers = {"Authorization": f"Bearer {token}"}
    landing = httpx.get(f"{base}/ogc", headers=headers).json()
    schemes = next(
        link["href"]
        for link in landing["links"]
        if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
    )
    tms = httpx.get(schemes, headers=headers).json()["tileMatrixSets"][0]
    assert tms["id"] == "WebMercatorQuad"
    collection = httpx.get(f"{base}/ogc/collections/incidents", headers=headers).json()
    tiles_link = next(
        link["href"]
        for link in collection["links"]
        if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
    )
    tileset_url = httpx.get(tiles_link, headers=headers).json()["tilesets"][0]["links"][0]["href"]
    tileset = httpx.get(tileset_url, headers=headers).json()
    tilejson_url = next(lk["href"] for lk in tileset["links"] if lk["rel"] == "describedby")
    # What MapLibre does with a "vector" source of type url: read the TileJSON, then fill the
    # template's {z}/{x}/{y} for each tile in view.
    tilejson = httpx.get(tilejson_url, headers=headers).json()
    assert tilejson["tilejson"] == "3.0.0" and tilejson["scheme"] == "xyz"
    assert tilejson["vector_layers"][0]["id"] == "incidents"
    west, south, east, north = tilejson["bounds"]
    assert west <= SAMBAS_TOWN[0] <= east and south <= SAMBAS_TOWN[1] <= north
    z = 14
    x, y = tile_of(*SAMBAS_TOWN, z)
    url = tilejson["tiles"][0].replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    tile = httpx.get(url, headers=headers)
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    # The same tile as the project's own tile URL, which keeps working.
    own = httpx.get(f"{base}/tiles/incidents/{z}/{x}/{y}.mvt", headers=headers)
    assert own.status_code == 200 and own.content == tile.content
    layers = decode(tmp_path, tile.content, z, x, y)
    kinds = sorted(f["properties"]["kind"] for f in layers["incidents"])
    assert kinds == ["illegal_work", "overstay"]
