"""``/api/v1/workplaces/risk``: the ranking by role, the weights, the caps."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import risk
from tests.api.helpers import auth, make_tokens
from tests.geo.test_risk import AS_OF, sites  # noqa: F401  (the hand-built workplaces)

URL = "/api/v1/workplaces/risk"


def get(client: TestClient, token: str, **params: Any) -> Any:
    params = {"limit": risk.MAX_LIMIT, "as_of": AS_OF.isoformat(), **params}
    return client.get(URL, params=params, headers=auth(token))


def test_personal_roles_get_reasons_viewers_counts(
    client: TestClient,
    session: Session,
    sites: dict[str, Any],  # noqa: F811
) -> None:
    tokens = make_tokens(session, prefix="rk")
    hidden = sites["ids"]["hidden"]
    body = get(client, tokens["coordinator"]).json()
    item = next(w for w in body["workplaces"] if w["workplace_id"] == hidden)
    assert item["reasons"]["sighted_elsewhere"][0]["full_name"] == "Hidden Worker"
    assert [w["rank"] for w in body["workplaces"]] == list(range(1, len(body["workplaces"]) + 1))
    audited = session.execute(
        text("SELECT count(*) FROM audit_log WHERE resource = 'workplaces/risk'")
    ).scalar_one()
    assert audited >= 1
    for role in ("viewer", "planner"):
        response = get(client, tokens[role])
        assert response.status_code == 200
        assert b"Worker" not in response.content and b"reasons" not in response.content
        item = next(w for w in response.json()["workplaces"] if w["workplace_id"] == hidden)
        assert {f["factor"]: f["value"] for f in item["factors"]}["sighted_elsewhere"] == "<3"


def test_weights_by_role_and_validation(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="rw")
    listed = client.get(f"{URL}/weights", headers=auth(tokens["viewer"])).json()["weights"]
    assert [w["factor"] for w in listed] == list(risk.FACTOR_NAMES)
    put = client.put(
        f"{URL}/weights/incidents", json={"weight": 2.5}, headers=auth(tokens["admin"])
    )
    assert put.status_code == 200 and put.json()["weight"] == 2.5
    refused = client.put(
        f"{URL}/weights/incidents", json={"weight": 1}, headers=auth(tokens["coordinator"])
    )
    assert refused.status_code == 403
    bad = client.put(
        f"{URL}/weights/incidents", json={"weight": 1000}, headers=auth(tokens["admin"])
    )
    assert bad.status_code == 422 and "weight" in bad.text
    unknown = client.put(f"{URL}/weights/nope", json={"weight": 1}, headers=auth(tokens["admin"]))
    assert unknown.status_code == 404 and "nope" in unknown.text
    over = get(client, tokens["admin"], limit=risk.MAX_LIMIT + 1)
    assert over.status_code == 422 and "limit" in over.text
    wide = get(client, tokens["admin"], radius_m=risk.MAX_RADIUS_M * 10)
    assert wide.status_code == 422 and "radius_m" in wide.text
