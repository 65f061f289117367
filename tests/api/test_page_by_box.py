"""Pages collected from a small box by the spatial index (``PAGE_BY_BOX_SQL``) are the pages
that walking the primary key gives (``PAGE_SQL``), and the count grid picks between them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.registry import LAYERS, list_features, pages, parse_filters, reads, where_clause

SIGHTINGS = LAYERS["sightings"]


@pytest.fixture
def grid_of_sightings(session: Session) -> None:
    """2,000 sightings 0.01 degree apart (40 x 50) over three months, loaded out of order."""
    session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
    for day in ("2025-03-05", "2025-01-05", "2025-02-05"):
        session.execute(
            text(
                """
                INSERT INTO sighting (observed_at, source, geom, external_ref, note)
                SELECT CAST(:day AS timestamptz) + g * interval '7 minutes',
                       (ARRAY['patrol', 'lodging', 'checkpoint'])[1 + g % 3],
                       ST_SetSRID(ST_MakePoint(109.2 + (g % 40) * 0.01,
                                               1.3 + (g / 40 % 50) * 0.01), 4326),
                       'box-' || :day || '-' || g, 'note "' || g || '"'
                FROM generate_series(1, 700) AS g
                """
            ),
            {"day": day},
        )


CASES = [
    pytest.param({"bbox": "109.25,1.35,109.28,1.38", "limit": 5}, id="small-box"),
    pytest.param({"bbox": "109.25,1.35,109.28,1.38", "limit": 5, "offset": 3}, id="offset"),
    pytest.param({"bbox": "109.2,1.3,109.6,1.8", "limit": 50}, id="large-box"),
    pytest.param({"bbox": "109.2,1.3,109.6,1.8", "limit": 50, "after": 1}, id="after"),
    pytest.param(
        {"bbox": "109.2,1.3,109.6,1.8", "start": "2025-02-01", "end": "2025-03-06", "limit": 40},
        id="time",
    ),
    pytest.param({"bbox": "109.2,1.3,109.6,1.8", "kind": "lodging", "limit": 30}, id="kind"),
    pytest.param({"bbox": "109.5,1.4,109.51,1.41", "limit": 10}, id="few-rows"),
    pytest.param({"bbox": "100,-5,100.1,-4.9", "limit": 10}, id="empty"),
]


@pytest.mark.usefixtures("grid_of_sightings")
@pytest.mark.parametrize("query", CASES)
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_both_ways_give_the_same_page(
    session: Session, monkeypatch: pytest.MonkeyPatch, query: dict[str, Any], role: str
) -> None:
    filters = parse_filters(layer=SIGHTINGS, **query)
    results = []
    for by_box in (False, True):
        monkeypatch.setattr(reads, "collect_by_box", lambda **_: by_box)
        page = list_features(session=session, layer=SIGHTINGS, filters=filters, role=role)
        results.append((page.joined, page.returned, page.has_more, page.last_id))
    assert results[0] == results[1]
    assert results[0][1] > 0 or query["bbox"].startswith("100,")  # only the empty box is empty


@pytest.mark.usefixtures("grid_of_sightings")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"bbox": "109.25,1.35,109.28,1.38", "limit": 10}, True, id="few-in-box"),
        pytest.param({"bbox": "109.1,1.2,109.7,1.9", "limit": 10}, False, id="most-in-box"),
        pytest.param({"limit": 10}, False, id="no-bbox"),
        pytest.param(
            {"bbox": "109.25,1.35,109.28,1.38", "nationality": "MYS", "limit": 10},
            False,
            id="joined-filter",
        ),
    ],
)
def test_grid_picks_the_way(session: Session, query: dict[str, Any], expected: bool) -> None:
    filters = parse_filters(layer=SIGHTINGS, **query)
    where = where_clause(SIGHTINGS, filters, session=session)
    decided = pages.collect_by_box(session=session, layer=SIGHTINGS, filters=filters, where=where)
    assert decided is expected


def test_only_layers_with_a_grid(session: Session) -> None:
    zones = LAYERS["zones"]
    filters = parse_filters(layer=zones, bbox="109.25,1.35,109.28,1.38", limit=10)
    where = where_clause(zones, filters, session=session)
    assert not pages.collect_by_box(session=session, layer=zones, filters=filters, where=where)
