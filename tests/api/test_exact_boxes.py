"""A page's features all lie inside its bbox, edges included, on every path.

Points are planted 0.5 m either side of each edge of a 5 km box (and exactly on each edge). At
this longitude a single-precision float is ~0.85 m wide, so the index's ``&&`` test (on float
boxes) alone lets the points just west and east of the box in; each path must recheck exactly.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.registry import LAYERS, list_features, parse_filters, reads
from tests.api.helpers import auth, make_tokens

BOX = (109.30, 1.35, 109.345, 1.395)  # ~5 km a side
HALF_METRE_LON = 0.5 / (111_320.0 * math.cos(math.radians(1.37)))
HALF_METRE_LAT = 0.5 / 110_574.0
TABLES = {"sightings": "sighting", "incidents": "incident"}


def planted_points() -> dict[str, tuple[float, float]]:
    """Named points: inside/outside by 0.5 m at the middle of each edge, and on each edge."""
    minx, miny, maxx, maxy = BOX
    midx, midy = (minx + maxx) / 2, (miny + maxy) / 2
    dx, dy = HALF_METRE_LON, HALF_METRE_LAT
    return {
        "west-in": (minx + dx, midy),
        "west-out": (minx - dx, midy),
        "west-on": (minx, midy),
        "east-in": (maxx - dx, midy),
        "east-out": (maxx + dx, midy),
        "east-on": (maxx, midy),
        "south-in": (midx, miny + dy),
        "south-out": (midx, miny - dy),
        "south-on": (midx, miny),
        "north-in": (midx, maxy - dy),
        "north-out": (midx, maxy + dy),
        "north-on": (midx, maxy),
        "corner-out": (minx - dx, miny - dy),
    }


@pytest.fixture
def planted(session: Session) -> dict[str, dict[str, int]]:
    """The planted points in sightings and incidents: layer -> name -> id."""
    ids: dict[str, dict[str, int]] = {"sightings": {}, "incidents": {}}
    for name, (lon, lat) in planted_points().items():
        ids["sightings"][name] = session.execute(
            text(
                "INSERT INTO sighting (observed_at, source, geom, external_ref) "
                "VALUES ('2025-03-01T08:00:00+07', 'patrol', "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :ref) RETURNING id"
            ),
            {"lon": lon, "lat": lat, "ref": f"edge-{name}"},
        ).scalar_one()
        ids["incidents"][name] = session.execute(
            text(
                "INSERT INTO incident (kind, severity, occurred_at, geom) "
                "VALUES ('overstay', 2, '2025-03-01T08:00:00+07', "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            {"lon": lon, "lat": lat},
        ).scalar_one()
    return ids


def inside_by_coordinates(session: Session, table: str) -> set[int]:
    """Every row inside the box by a double-precision test of its coordinates."""
    minx, miny, maxx, maxy = BOX
    rows = session.execute(
        text(
            f"SELECT id FROM {table} WHERE ST_X(geom) BETWEEN :minx AND :maxx "
            "AND ST_Y(geom) BETWEEN :miny AND :maxy"
        ),
        {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy},
    )
    return {int(r.id) for r in rows}


def check(page_ids: set[int], planted_ids: dict[str, int], expected: set[int]) -> None:
    inside = {i for name, i in planted_ids.items() if not name.endswith("-out")}
    outside = {i for name, i in planted_ids.items() if name.endswith("-out")}
    assert inside <= page_ids, sorted(inside - page_ids)
    assert not outside & page_ids, [n for n, i in planted_ids.items() if i in page_ids & outside]
    assert page_ids == expected


BBOX = ",".join(repr(v) for v in BOX)


@pytest.mark.parametrize("layer", ["sightings", "incidents"])
@pytest.mark.parametrize(
    "by_box", [pytest.param(False, id="index-walk"), pytest.param(True, id="box-collection")]
)
def test_registry_pages_hold_only_points_inside(
    session: Session,
    planted: dict[str, dict[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    layer: str,
    by_box: bool,
) -> None:
    monkeypatch.setattr(reads, "collect_by_box", lambda **_: by_box)
    filters = parse_filters(layer=LAYERS[layer], bbox=BBOX, limit=1000)
    page = list_features(session=session, layer=LAYERS[layer], filters=filters, role="admin")
    ids = {int(m) for m in _ids(page.joined or "")}
    check(ids, planted[layer], inside_by_coordinates(session, TABLES[layer]))


def _ids(joined: str) -> list[str]:
    return re.findall(r'"type": "Feature", "id": (\d+)', joined)


@pytest.mark.parametrize("layer", ["sightings", "incidents"])
def test_ogc_items_hold_only_points_inside(
    client: Any, session: Session, planted: dict[str, dict[str, int]], layer: str
) -> None:
    token = make_tokens(session, prefix="edges")["admin"]
    r = client.get(
        f"/ogc/collections/{layer}/items", params={"bbox": BBOX, "limit": 1000}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    ids = {int(f["id"]) for f in r.json()["features"]}
    check(ids, planted[layer], inside_by_coordinates(session, TABLES[layer]))


def test_the_api_list_holds_only_points_inside(
    client: Any, session: Session, planted: dict[str, dict[str, int]]
) -> None:
    token = make_tokens(session, prefix="edges-api")["admin"]
    r = client.get("/api/v1/sightings", params={"bbox": BBOX, "limit": 1000}, headers=auth(token))
    assert r.status_code == 200, r.text
    ids = {int(f["id"]) for f in r.json()["features"]}
    check(ids, planted["sightings"], inside_by_coordinates(session, "sighting"))
