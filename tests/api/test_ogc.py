"""OGC API – Features: the documents, role-dependent collections, paging, and GDAL as a client."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from geo.registry import LAYERS, create_feature
from geo.settings import Settings
from geo.users import Principal, create_user
from tests.api.helpers import PALOH, SAMBAS_TOWN, auth, feature, make_tokens, point


def seed(session: Session, settings: Settings, n: int = 7) -> None:
    writer = Principal(name="seed", role="analyst")
    for i in range(n):
        lon, lat = SAMBAS_TOWN if i % 2 else PALOH
        create_feature(
            session=session,
            layer=LAYERS["incidents"],
            body=feature(
                point(lon, lat),
                kind="overstay",
                severity=2,
                occurred_at=f"2025-02-{i + 1:02d}T10:00:00",
            ),
            principal=writer,
            area=settings.area,
        )
        create_feature(
            session=session,
            layer=LAYERS["sightings"],
            body=feature(
                point(lon, lat), source="patrol", observed_at=f"2025-02-{i + 1:02d}T11:00:00"
            ),
            principal=writer,
            area=settings.area,
        )
    create_feature(
        session=session,
        layer=LAYERS["workplaces"],
        body=feature(point(*SAMBAS_TOWN), name="PT OGC Uji", sector="trade"),
        principal=writer,
        area=settings.area,
    )


def test_landing_conformance_and_role_collections(
    client: TestClient, session: Session, settings: Settings
) -> None:
    seed(session, settings)
    tokens = make_tokens(session, prefix="ogc")
    landing = client.get("/ogc", headers=auth(tokens["viewer"])).json()
    assert {link["rel"] for link in landing["links"]} >= {
        "self",
        "conformance",
        "data",
        "service-desc",
    }
    conf = client.get("/ogc/conformance", headers=auth(tokens["viewer"])).json()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf["conformsTo"]
    viewer = {
        c["id"]
        for c in client.get("/ogc/collections", headers=auth(tokens["viewer"])).json()[
            "collections"
        ]
    }
    analyst = {
        c["id"]
        for c in client.get("/ogc/collections", headers=auth(tokens["analyst"])).json()[
            "collections"
        ]
    }
    assert "sightings" not in viewer and "sightings-by-desa" in viewer
    assert analyst == viewer | {"sightings", "alerts"}
    assert {
        "admin-areas",
        "reference-features",
        "zones",
        "workplaces",
        "incidents",
    } <= viewer
    # Collections of persons: refused to a viewer, saying why and what to use instead.
    for personal in ("sightings", "alerts"):
        refused = client.get(f"/ogc/collections/{personal}/items", headers=auth(tokens["viewer"]))
        assert refused.status_code == 403 and "sightings-by-desa" in refused.text
    assert client.get("/ogc/collections/nope", headers=auth(tokens["viewer"])).status_code == 404
    assert client.get("/ogc").status_code == 401


def test_items_paging_bbox_datetime_and_suppression(
    client: TestClient, session: Session, settings: Settings
) -> None:
    seed(session, settings)
    tokens = make_tokens(session, prefix="ogc")
    h = auth(tokens["viewer"])
    page = client.get("/ogc/collections/incidents/items?limit=3", headers=h)
    assert page.headers["content-type"].startswith("application/geo+json")
    body = page.json()
    assert (body["numberMatched"], body["numberReturned"]) == (7, 3)
    ids = [f["id"] for f in body["features"]]
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    second = client.get(nxt.replace("http://testserver", ""), headers=h).json()
    assert next(f["id"] for f in second["features"]) > ids[-1]
    paloh = client.get(
        "/ogc/collections/incidents/items?bbox=109.25,1.65,109.35,1.75", headers=h
    ).json()
    assert paloh["numberMatched"] == 4
    window = client.get(
        "/ogc/collections/incidents/items?datetime=2025-02-02T00:00:00Z/2025-02-03", headers=h
    ).json()
    assert window["numberMatched"] == 2
    open_end = client.get(
        "/ogc/collections/incidents/items?datetime=2025-02-06/..", headers=h
    ).json()
    assert open_end["numberMatched"] == 2
    bad = client.get("/ogc/collections/incidents/items?datetime=soon", headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "datetime"
    one = client.get(f"/ogc/collections/incidents/items/{ids[0]}", headers=h).json()
    assert one["id"] == ids[0] and one["links"]

    agg = client.get("/ogc/collections/sightings-by-desa/items?limit=10000", headers=h).json()
    counts = [f["properties"] for f in agg["features"] if f["properties"]["count_label"] != "0"]
    # 3 sightings in the Paloh desa, 4 in Sambas' (the sample points): both ≥ 3 ... or hidden
    total_visible = sum(p["count"] or 0 for p in counts)
    assert total_visible == 7
    analyst = client.get(
        "/ogc/collections/sightings-by-desa/items?limit=10000", headers=auth(tokens["analyst"])
    ).json()
    assert sum(f["properties"]["count"] for f in analyst["features"]) == 7


def test_small_counts_hidden_from_viewers(
    client: TestClient, session: Session, settings: Settings
) -> None:
    seed(session, settings, n=2)  # one sighting in each of two desa
    tokens = make_tokens(session, prefix="ogc")
    viewer = client.get(
        "/ogc/collections/sightings-by-desa/items?limit=10000", headers=auth(tokens["viewer"])
    ).json()
    shown = [f["properties"] for f in viewer["features"] if f["properties"]["count_label"] != "0"]
    assert shown and all(p["count"] is None and p["count_label"] == "<3" for p in shown)


@pytest.fixture
def ogc_server(
    committed: Engine, settings: Settings, live_server: str
) -> Iterator[tuple[str, str]]:
    with Session(committed) as session:
        seed(session, settings)
        _, token = create_user(session=session, name="gdal", role="coordinator")
        session.commit()
    yield live_server, token


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin (ogrinfo) is not installed")
def test_gdal_reads_every_collection(ogc_server: tuple[str, str]) -> None:
    base, token = ogc_server
    result = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-so",
            "-al",
            "--config",
            "GDAL_HTTP_HEADERS",
            f"Authorization: Bearer {token}",
            f"OAPIF:{base}/ogc",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    gdal_counts = dict(
        re.findall(r"Layer name: (\S+).*?Feature Count: (\d+)", result.stdout, flags=re.S)
    )
    headers = auth(token)
    collections = httpx.get(f"{base}/ogc/collections", headers=headers).json()["collections"]
    expected = {c["id"] for c in collections}
    assert set(gdal_counts) == expected, result.stdout[:2000]
    for cid in expected:
        api = httpx.get(f"{base}/ogc/collections/{cid}/items?limit=1", headers=headers).json()
        assert int(gdal_counts[cid]) == api["numberMatched"], cid
    assert int(gdal_counts["incidents"]) == 7 and int(gdal_counts["sightings"]) == 7
