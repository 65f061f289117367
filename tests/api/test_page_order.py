"""A page is joined in primary-key order by PostgreSQL (``PAGE_SQL`` relies on the sorted
subquery, not on an ``ORDER BY`` inside ``string_agg``): check it on rows whose ids run across
monthly partitions out of partition order, by both access paths (bbox and none)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import auth, make_tokens

# Months loaded in this order, so ids ascend 2025-03, then 2025-01, then 2025-02.
MONTHS = ("2025-03-05", "2025-01-05", "2025-02-05")


@pytest.fixture
def sightings(session: Session) -> list[int]:
    session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
    for month in MONTHS:
        session.execute(
            text(
                """
                INSERT INTO sighting (observed_at, source, geom, external_ref)
                SELECT CAST(:day AS timestamptz) + g * interval '1 minute', 'patrol',
                       ST_SetSRID(ST_MakePoint(109.30 + (g % 17) * 0.001,
                                               1.35 + (g % 13) * 0.001), 4326),
                       'order-' || :day || '-' || g
                FROM generate_series(1, 120) AS g
                """
            ),
            {"day": month},
        )
    return list(
        session.execute(
            text("SELECT id FROM sighting WHERE external_ref LIKE 'order-%' ORDER BY id")
        ).scalars()
    )


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("bbox=109.29,1.34,109.32,1.37", id="bbox"),
        pytest.param("kind=patrol", id="no-bbox"),
    ],
)
def test_pages_in_id_order(
    client: TestClient, session: Session, sightings: list[int], query: str
) -> None:
    token = make_tokens(session, prefix="order")["analyst"]
    seen: list[int] = []
    url = f"/api/v1/sightings?{query}&limit=150"
    while url:
        page = client.get(url, headers=auth(token)).json()
        ids = [f["id"] for f in page["features"]]
        assert ids == sorted(ids)
        assert page["numberReturned"] == len(ids)
        seen += ids
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
    mine = [i for i in seen if i in set(sightings)]
    assert mine == sightings
    assert seen == sorted(seen)
