"""Points and shapes far from UTM zone 49N are refused with a clear error, never a database
error: every record is also stored and measured in EPSG:32649."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo.errors import GeometryError
from geo.geometry import check_measurable, point_from_geojson, validate_geometry
from tests.api.helpers import auth, make_tokens


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="gd")


def test_far_points_and_shapes_are_refused_near_ones_kept() -> None:
    assert point_from_geojson({"type": "Point", "coordinates": [109.3, 1.4]}).x == 109.3
    with pytest.raises(GeometryError, match=r"outside lon \[81, 141\]"):
        point_from_geojson({"type": "Point", "coordinates": [12, 0]})
    square = {"type": "Polygon", "coordinates": [[[-170, 0], [-169, 0], [-169, 1], [-170, 0]]]}
    with pytest.raises(GeometryError, match="UTM zone 49N"):
        validate_geometry(square, allowed_types=("Polygon",))
    check_measurable(81, -60, 141, 60, field="edges")  # the edges themselves are in


def test_api_answers_422_naming_the_point(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["admin"])
    far = client.get(
        "/api/v1/proximity", params={"lon": 12, "lat": 0, "radius_m": 1}, headers=headers
    )
    assert far.status_code == 422 and "lon/lat" in far.text, far.text
    made = client.post(
        "/api/v1/incidents",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [12, 0]},
            "properties": {
                "kind": "illegal_entry",
                "severity": 3,
                "occurred_at": "2026-12-06T10:00:00+07:00",
            },
        },
        headers=headers,
    )
    assert made.status_code == 422 and "outside lon [81, 141]" in made.text, made.text
