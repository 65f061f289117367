"""GET /api/v1/hotspots, POST /api/v1/patrols/plan and the patrol log over HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.geo.hotspot_synth import CLUSTER_CENTRES, centre_utm, insert_incidents, planted


def auth(session: Session, role: str) -> dict[str, str]:
    _, token = create_user(session=session, name=f"{role}-hotspot-test", role=role)
    return {"Authorization": f"Bearer {token}"}


def test_hotspots_returns_cells_with_confidence(client: TestClient, session: Session) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=150))
    response = client.get(
        "/api/v1/hotspots", params={"cell_m": 1500}, headers=auth(session, "viewer")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["metadata"]["n_points"] == 5 * 30 + 150
    props = [f["properties"] for f in body["features"]]
    assert {"count", "gi_z", "p_value", "p_fdr", "confidence", "gi_bin", "trend"} <= set(props[0])
    hot = [f for f in body["features"] if f["properties"]["gi_bin"] >= 2]
    # Every planted cluster has a hot cell at >= 95 % within 1.5 km of its centre.
    from geo.patrol import to_utm

    for centre in CLUSTER_CENTRES:
        x, y = centre_utm(*centre)
        distances = []
        for f in hot:
            ring = np.array(f["geometry"]["coordinates"][0])
            cx, cy = to_utm(*ring[:-1].mean(axis=0))
            distances.append(np.hypot(cx - x, cy - y))
        assert min(distances) < 1500
    assert {p["confidence"] for p in props} <= {
        "hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99"
    }  # fmt: skip


def test_hotspots_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/hotspots").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"cell_m": 5}, "cell_m", id="cell-too-small"),
        pytest.param({"layer": "passports"}, "layer", id="unknown-layer"),
        pytest.param({"start": "2026-03-01", "end": "2026-02-01"}, "end", id="start-after-end"),
        pytest.param({"kind": "piracy"}, "kind", id="unknown-kind"),
        pytest.param({"weight": "severity", "layer": "sightings"}, "weight", id="no-severity"),
    ],
)
def test_hotspots_bad_parameters_are_422(
    client: TestClient, session: Session, params: dict[str, object], field: str
) -> None:
    response = client.get("/api/v1/hotspots", params=params, headers=auth(session, "viewer"))
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_patrol_plan_needs_the_planning_permission(client: TestClient, session: Session) -> None:
    response = client.post("/api/v1/patrols/plan", json={}, headers=auth(session, "viewer"))
    assert response.status_code == 403


def test_patrol_plan(client: TestClient, session: Session) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=150))
    response = client.post(
        "/api/v1/patrols/plan",
        json={"k": 5, "radius_m": 2500, "avoid_recent_days": None},
        headers=auth(session, "planner"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["covered_share"] >= 0.9
    assert body["length_km"] > 0
    points = [f for f in body["features"] if f["properties"]["kind"] == "patrol_point"]
    assert [p["properties"]["order"] for p in points] == [1, 2, 3, 4, 5]
    route = next(f for f in body["features"] if f["properties"]["kind"] == "route")
    assert route["geometry"]["type"] == "LineString"
    lon, lat = route["geometry"]["coordinates"][0]
    assert 108.9 < lon < 110 and 0.9 < lat < 2.1  # lon, lat order


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"k": 0}, "k", id="k-zero"),
        pytest.param({"start_lon": 109.3}, "start_lat", id="half-a-start"),
        pytest.param({"radius_m": 10}, "radius_m", id="radius"),
    ],
)
def test_patrol_plan_bad_body_is_422(
    client: TestClient, session: Session, body: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/patrols/plan", json=body, headers=auth(session, "planner"))
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_patrol_log_create_and_list(client: TestClient, session: Session) -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.31, 1.36]},
        "properties": {"patrolled_at": "2026-03-01T08:00", "team": "Tim B", "radius_m": 1500},
    }
    viewer = auth(session, "viewer")
    assert client.post("/api/v1/patrols/log", json=feature, headers=viewer).status_code == 403
    created = client.post("/api/v1/patrols/log", json=feature, headers=auth(session, "planner"))
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["properties"]["patrolled_at"].startswith("2026-03-01T01:00:00")  # WIB -> UTC
    listed = client.get("/api/v1/patrols/log", headers=viewer).json()
    assert [f["id"] for f in listed["features"]] == [entry["id"]]
    one = client.get(f"/api/v1/patrols/log/{entry['id']}", headers=viewer)
    assert one.json()["geometry"]["coordinates"] == pytest.approx([109.31, 1.36])
    assert client.get("/api/v1/patrols/log/999999", headers=viewer).status_code == 404
