"""Proximity: exact metric distances (EPSG:32649), nearest first, layers filter, privacy."""

from __future__ import annotations

import pyproj
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point
from shapely.ops import transform
from sqlalchemy.orm import Session

from tests.api.helpers import SAMPLES, auth, feature, make_tokens, point

TO_UTM = pyproj.Transformer.from_crs(4326, 32649, always_xy=True).transform
CENTRE = (109.30, 1.35)


def utm_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(transform(TO_UTM, Point(a)).distance(transform(TO_UTM, Point(b))))


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="px")


def test_distances_exact_nearest_first(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["analyst"])
    # 0.0045° of latitude ≈ 497.6 m; 0.0046° ≈ 508.7 m (just inside and just outside 500 m).
    places = {"near": (109.30, 1.3545), "edge": (109.30, 1.35455), "far": (109.30, 1.3546)}
    ids = {}
    for name, (lon, lat) in places.items():
        body = feature(
            point(lon, lat), kind="overstay", severity=1, occurred_at="2025-01-01", description=name
        )
        ids[name] = client.post("/api/v1/incidents", json=body, headers=h).json()["id"]
    radius = utm_distance(CENTRE, places["edge"]) + 0.05
    result = client.get(
        "/api/v1/proximity",
        params={"lon": CENTRE[0], "lat": CENTRE[1], "radius_m": radius, "layers": "incidents"},
        headers=h,
    ).json()
    got = [(f["properties"]["id"], f["properties"]["distance_m"]) for f in result["features"]]
    assert [i for i, _ in got] == [ids["near"], ids["edge"]]
    for (record_id, distance), name in zip(got, ("near", "edge"), strict=True):
        assert distance == pytest.approx(utm_distance(CENTRE, places[name]), abs=0.01)


def test_layers_filter_and_privacy(
    client: TestClient, session: Session, tokens: dict[str, str]
) -> None:
    h = auth(tokens["analyst"])
    client.post("/api/v1/foreigners", json=SAMPLES["foreigners"], headers=h)
    client.post("/api/v1/workplaces", json=SAMPLES["workplaces"], headers=h)
    params = {"lon": 109.3021, "lat": 1.3549, "radius_m": 1000}
    everything = client.get("/api/v1/proximity", params=params, headers=h).json()
    layers = {f["properties"]["layer"] for f in everything["features"]}
    assert {"foreigners", "workplaces"} <= layers
    distances = [f["properties"]["distance_m"] for f in everything["features"]]
    assert distances == sorted(distances)
    assert "Uji Orang Asing Satu" in str(everything)
    # Roles without personal data get no person layer: left out by default, refused by name.
    viewer = client.get("/api/v1/proximity", params=params, headers=auth(tokens["viewer"])).json()
    assert "Uji Orang Asing" not in str(viewer)
    assert {f["properties"]["layer"] for f in viewer["features"]} == {"workplaces", "reference"}
    assert "foreigners" not in viewer["query"]["layers"]
    asked = client.get(
        "/api/v1/proximity",
        params={**params, "layers": "foreigners"},
        headers=auth(tokens["viewer"]),
    )
    assert asked.status_code == 403 and "persons" in asked.text
    only = client.get(
        "/api/v1/proximity", params={**params, "layers": "workplaces"}, headers=h
    ).json()
    assert {f["properties"]["layer"] for f in only["features"]} == {"workplaces"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param(
            {"lon": 109.3, "lat": 1.35, "radius_m": 0}, "query.radius_m", id="radius-zero"
        ),
        pytest.param(
            {"lon": 109.3, "lat": 1.35, "radius_m": 1e9}, "query.radius_m", id="radius-huge"
        ),
        pytest.param({"lon": 190, "lat": 1.35, "radius_m": 10}, "query.lon", id="lon"),
        pytest.param(
            {"lon": 109.3, "lat": 1.35, "radius_m": 10, "layers": "roads"}, "layers", id="layer"
        ),
    ],
)
def test_bad_queries(
    client: TestClient, tokens: dict[str, str], params: dict[str, object], field: str
) -> None:
    response = client.get("/api/v1/proximity", params=params, headers=auth(tokens["viewer"]))
    assert response.status_code == 422
    body = response.json()
    assert (body.get("field") or body["errors"][0]["field"]) == field
