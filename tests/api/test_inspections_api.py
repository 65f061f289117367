"""``/api/v1/inspections``: record (writers only, 422 naming each bad value, audited), list and
read by role (persons for personal roles, counts for the others), void."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import auth, make_tokens
from tests.geo.test_inspections import add_agency, place  # noqa: F401  (the hand-built site)

URL = "/api/v1/inspections"


def payload(place: dict[str, Any], **kw: Any) -> dict[str, Any]:  # noqa: F811
    return {
        "workplace_id": place["site"],
        "inspected_on": "2025-05-22",
        "checked_at": "2025-05-22T10:15:00+07:00",
        "led_by": "TST-IMI",
        "agencies": ["TST-POL"],
        "summary": "Catatan rahasia pemeriksaan",
        "findings": [
            {"foreigner_id": place["valid"], "finding": "in_order", "action_taken": "none"},
            {
                "foreigner_id": place["lapsed"],
                "finding": "permit_expired",
                "action_taken": "warning",
                "permit_expires_on": "2025-05-01",
                "note": "Catatan rahasia orang",
            },
        ],
        **kw,
    }


def test_record_and_read_by_role(
    client: TestClient,
    session: Session,
    place: dict[str, Any],  # noqa: F811
) -> None:
    tokens = make_tokens(session, prefix="ins")
    refused = client.post(URL, json=payload(place), headers=auth(tokens["coordinator"]))
    assert refused.status_code == 403
    made = client.post(URL, json=payload(place), headers=auth(tokens["analyst"]))
    assert made.status_code == 201, made.text
    item = made.json()
    assert made.headers["location"] == f"{URL}/{item['id']}"
    assert {f["full_name"] for f in item["findings"]} == {
        "Valid Insp Worker",
        "Lapsed Insp Worker",
    }
    assert item["led_by"]["short_name"] == "TST-IMI"
    assert [a["short_name"] for a in item["agencies"]] == ["TST-IMI", "TST-POL"]
    sighted = session.execute(
        text("SELECT count(*) FROM sighting WHERE source = 'inspection' AND external_ref LIKE :r"),
        {"r": f"inspection-{item['id']}-%"},
    ).scalar_one()
    assert sighted == 2
    one = client.get(f"{URL}/{item['id']}", headers=auth(tokens["coordinator"])).json()
    assert one["summary"] == "Catatan rahasia pemeriksaan"
    audited = session.execute(
        text(
            "SELECT count(*) FROM audit_log WHERE resource = :r AND action = 'read'"
            " AND user_name = 'ins-coordinator'"
        ),
        {"r": f"inspections/{item['id']}"},
    ).scalar_one()
    assert audited == 1
    for role in ("viewer", "planner"):
        for url, params in (
            (URL, {"workplace_id": place["site"]}),
            (f"{URL}/{item['id']}", {}),
        ):
            response = client.get(url, params=params, headers=auth(tokens[role]))
            assert response.status_code == 200, response.text
            assert b"rahasia" not in response.content and b"Insp Worker" not in response.content
            assert b"foreigner_id" not in response.content
        listed = client.get(URL, params={"agency": "TST-POL"}, headers=auth(tokens[role])).json()
        (shown,) = [i for i in listed["inspections"] if i["id"] == item["id"]]
        assert shown["counts"] == [
            {"finding": "in_order", "action_taken": "none", "persons": "<3"},
            {"finding": "permit_expired", "action_taken": "warning", "persons": "<3"},
        ]


def test_bad_values_are_named_and_nothing_is_written(
    client: TestClient,
    session: Session,
    place: dict[str, Any],  # noqa: F811
) -> None:
    tokens = make_tokens(session, prefix="inb")
    before = session.execute(text("SELECT count(*) FROM inspection")).scalar_one()
    good = payload(place)
    cases = {
        "findings[1].finding": {
            "findings": [good["findings"][0], {**good["findings"][1], "finding": "bad"}]
        },
        "findings[0].action_taken": {
            "findings": [{**good["findings"][0], "action_taken": "shoot"}]
        },
        "led_by": {"led_by": "NOBODY"},
        "inspected_on": {"inspected_on": "2999-01-01", "checked_at": None},
        "workplace_id": {"workplace_id": "12"},
        "colour": {"colour": "red"},
    }
    for field, change in cases.items():
        response = client.post(URL, json={**good, **change}, headers=auth(tokens["admin"]))
        assert response.status_code == 422, (field, response.text)
        assert field in response.text
    assert session.execute(text("SELECT count(*) FROM inspection")).scalar_one() == before
    not_found = client.get(f"{URL}/{2**31 - 2}", headers=auth(tokens["admin"]))
    assert not_found.status_code == 404


def test_void_keeps_the_record(
    client: TestClient,
    session: Session,
    place: dict[str, Any],  # noqa: F811
) -> None:
    tokens = make_tokens(session, prefix="inv")
    made = client.post(URL, json=payload(place), headers=auth(tokens["admin"])).json()
    url = f"{URL}/{made['id']}/void"
    assert client.post(url, json={"reason": "x"}, headers=auth(tokens["viewer"])).status_code == 403
    assert client.post(url, json={}, headers=auth(tokens["admin"])).status_code == 422
    voided = client.post(url, json={"reason": "wrong day"}, headers=auth(tokens["admin"]))
    assert voided.status_code == 200 and voided.json()["void"] is True
    assert voided.json()["void_reason"] == "wrong day"
    assert (
        client.post(url, json={"reason": "again"}, headers=auth(tokens["admin"])).status_code == 409
    )
    listed = client.get(URL, params={"workplace_id": place["site"]}, headers=auth(tokens["admin"]))
    assert made["id"] not in [i["id"] for i in listed.json()["inspections"]]
    listed = client.get(
        URL,
        params={"workplace_id": place["site"], "include_void": "true"},
        headers=auth(tokens["admin"]),
    )
    assert made["id"] in [i["id"] for i in listed.json()["inspections"]]
    assert (
        session.execute(text("SELECT count(*) FROM audit_log WHERE action = 'void'")).scalar_one()
        == 1
    )
