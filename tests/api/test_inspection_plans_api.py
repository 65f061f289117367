"""``/api/v1/inspections/plans``: made by planners, read by every role (persons only for
personal roles, audited), 422 naming each bad value."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import auth, make_tokens
from tests.api.test_privacy_crawl import readable
from tests.geo.test_risk import AS_OF, SITES, sites  # noqa: F401  (the hand-built workplaces)

URL = "/api/v1/inspections/plans"
BODY = {
    "start_lon": SITES["hidden"][0],
    "start_lat": SITES["hidden"][1] - 0.0001,
    "date": AS_OF.isoformat(),
    "max_route_km": 30,
    "max_stops": 4,
}


def stops(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [f["properties"] for f in body["features"] if f["properties"]["kind"] == "stop"]


def test_plan_made_saved_and_read_by_role(
    client: TestClient,
    session: Session,
    sites: dict[str, Any],  # noqa: F811
) -> None:
    tokens = make_tokens(session, prefix="ip")
    made = client.post(URL, json=BODY, headers=auth(tokens["analyst"]))
    assert made.status_code == 201, made.text
    plan = made.json()
    assert sites["ids"]["quota"] in {s["workplace_id"] for s in stops(plan)}
    assert 1 <= len(stops(plan)) <= 4
    assert plan["plan"]["route_length_km"] <= 30
    listed = client.get(URL, headers=auth(tokens["viewer"])).json()["plans"]
    assert listed[0]["id"] == plan["id"] and listed[0]["n_stops"] == len(stops(plan))
    mine = client.get(f"{URL}/{plan['id']}", headers=auth(tokens["coordinator"]))
    assert b"Hidden Worker" in mine.content
    audited = session.execute(
        text("SELECT action FROM audit_log WHERE resource = :r ORDER BY id"),
        {"r": f"inspections/plans/{plan['id']}"},
    ).scalars()
    assert list(audited) == ["create", "read"]
    for role in ("viewer", "planner"):
        seen = client.get(f"{URL}/{plan['id']}", headers=auth(tokens[role]))
        assert seen.status_code == 200
        assert b"Worker" not in seen.content and b"reasons" not in seen.content
    sheet = client.get(f"{URL}/{plan['id']}.pdf?lang=en", headers=auth(tokens["viewer"]))
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    assert b"Hidden Worker" not in readable(sheet)
    assert (
        client.get(f"{URL}/{plan['id']}.pdf?lang=xx", headers=auth(tokens["viewer"])).status_code
        == 422
    )
    assert client.post(URL, json=BODY, headers=auth(tokens["viewer"])).status_code == 403
    assert client.post(URL, json=BODY, headers=auth(tokens["coordinator"])).status_code == 403
    assert client.get(f"{URL}/999999", headers=auth(tokens["viewer"])).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"max_route_km": 5000}, "max_route_km", id="route-too-long"),
        pytest.param({"max_stops": 50}, "max_stops", id="too-many-stops"),
        pytest.param({"period": "year"}, "period", id="period"),
        pytest.param({"kecamatan": "Atlantis"}, "kecamatan", id="kecamatan"),
        pytest.param(
            {"start_lon": None, "start_lat": None, "start_place": "Atlantis"},
            "start_place",
            id="place",
        ),
        pytest.param({"start_lat": None}, "start_lat", id="half-a-start"),
        pytest.param({"window_days": 9999}, "window_days", id="window"),
        pytest.param({"period": "week", "max_stops": 5}, "max_stops", id="week-stops"),
    ],
)
def test_bad_values_are_422_naming_them(
    client: TestClient, session: Session, change: dict[str, Any], field: str
) -> None:
    tokens = make_tokens(session, prefix="iq")
    response = client.post(URL, json=BODY | change, headers=auth(tokens["planner"]))
    assert response.status_code == 422, response.text
    assert field in response.text
