"""Users of an agency without personal data triage the alerts that are not about a person
(docs/alerts.md, "Who may act"): a Polres coordinator acts as ``liaison``, a Polres analyst as
``recorder``; alerts about a person are "no such alert" to them, the notes they write are never
read back to them, and their work counts for their agency."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts import queue as queue_module
from geo.users import create_user
from tests.api.helpers import auth
from tests.api.queue_seed import add_alert

ACTIONS = "/api/v1/alerts/actions"
CONTRIBUTIONS = "/api/v1/agencies/contributions?from=2026-01-01"
SECRET = "Catatan rahasia tentang saksi"  # free text written by a liaison


@pytest.fixture
def polres(session: Session) -> dict[str, Any]:
    fid = session.execute(
        text(
            "INSERT INTO foreigner (full_name, nationality, permit_type, geom) VALUES "
            "('Ratna Contoh', 'MYS', 'KITAS', ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326)) "
            "RETURNING id"
        )
    ).scalar_one()
    ids = {
        "cluster": add_alert(session, "m-cluster", rule="incident_cluster", severity=3),
        "near": add_alert(session, "m-near", severity=2),
        "person": add_alert(session, "m-person", rule="far_from_sponsor", foreigner=fid),
    }
    headers = {}
    for key, (name, role, agency) in {
        "liaison": ("p-coord", "coordinator", "POLRES"),
        "recorder": ("p-ana", "analyst", "POLRES"),
        "viewer": ("p-view", "viewer", "POLRES"),
        "admin": ("i-admin", "admin", None),
    }.items():
        _, token = create_user(session=session, name=name, role=role, agency=agency)
        headers[key] = auth(token)
    session.flush()
    return {"ids": ids, "headers": headers}


def handled(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    doc = client.get(CONTRIBUTIONS, headers=headers).json()
    return {a["agency"]: a["alerts_handled"] for a in doc["agencies"]}


def test_a_polres_coordinator_acknowledges_and_resolves_a_cluster_alert(
    client: TestClient, session: Session, polres: dict[str, Any]
) -> None:
    ids, h = polres["ids"], polres["headers"]
    meta = client.get("/dashboard/meta", headers=h["liaison"]).json()
    assert (meta["role"], meta["personal_data"], meta["can_ack"]) == ("liaison", False, True)
    assert meta["alerts"]["actions"] and not meta["alerts"]["detail"]
    assert {"p-coord", "p-ana", "i-admin"} <= set(meta["assignees"])
    before = handled(client, h["liaison"])

    aid = ids["cluster"]
    r = client.post(f"/api/v1/alerts/{aid}/ack", json={"note": SECRET}, headers=h["liaison"])
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["status"] == "acknowledged"
    r = client.post(
        ACTIONS,
        json={"action": "resolve", "ids": [aid], "reason": "action_taken", "note": SECRET},
        headers=h["liaison"],
    )
    assert r.status_code == 200, r.text
    assert [f["properties"]["status"] for f in r.json()["features"]] == ["resolved"]
    assert SECRET not in r.text and "notes" not in r.json()["features"][0]["properties"]

    stored = session.execute(
        text(
            "SELECT status, closed_reason, acknowledged_by, resolved_by, ack_note, resolve_note "
            "FROM alert WHERE id = :id"
        ),
        {"id": aid},
    ).one()
    assert tuple(stored) == ("resolved", "action_taken", "p-coord", "p-coord", SECRET, SECRET)
    audit = session.execute(
        text(
            "SELECT l.action, l.role, g.short_name FROM audit_log l JOIN agency g "
            "ON g.id = l.agency_id WHERE l.resource = :r ORDER BY l.id"
        ),
        {"r": f"alerts/{aid}"},
    ).all()
    assert [tuple(a) for a in audit] == [
        ("ack", "liaison", "POLRES"),
        ("resolve", "liaison", "POLRES"),
    ]
    notes = session.execute(
        text(
            "SELECT n.action, n.author, g.short_name FROM alert_note n JOIN agency g "
            "ON g.id = n.agency_id WHERE n.alert_id = :a ORDER BY n.id"
        ),
        {"a": aid},
    ).all()
    assert [tuple(n) for n in notes] == [
        ("acknowledge", "p-coord", "POLRES"),
        ("note", "p-coord", "POLRES"),
        ("resolve", "p-coord", "POLRES"),
        ("note", "p-coord", "POLRES"),
    ]
    after = handled(client, h["liaison"])
    assert after["POLRES"] == before["POLRES"] + 1

    # Never read back: not on the alert (403: it needs personal data), nor in the queue.
    assert client.get(f"/api/v1/alerts/{aid}", headers=h["liaison"]).status_code == 403
    queue = client.get("/api/v1/alerts/queue?status=resolved", headers=h["liaison"])
    assert queue.status_code == 200 and aid in [f["id"] for f in queue.json()["features"]]
    assert SECRET not in queue.text and "p-coord" not in queue.text
    # The immigration office reads them.
    seen = client.get(f"/api/v1/alerts/{aid}", headers=h["admin"]).json()["properties"]
    assert [n["agency"] for n in seen["notes"]] == ["POLRES"] * 4
    assert seen["notes"][1]["body"] == SECRET


def test_an_alert_about_a_person_is_no_alert_to_them(
    client: TestClient, session: Session, polres: dict[str, Any]
) -> None:
    ids, h = polres["ids"], polres["headers"]
    person = ids["person"]
    for face in ("liaison", "recorder"):
        for path, body in (
            (f"/api/v1/alerts/{person}/ack", {}),
            (f"/api/v1/alerts/{person}/resolve", {"reason": "explained"}),
            (f"/api/v1/alerts/{person}/notes", {"note": "x"}),
            (f"/api/v1/alerts/{person}/assign", {"user": "i-admin"}),
        ):
            r = client.post(path, json=body, headers=h[face])
            assert r.status_code == 404, (face, path, r.text)
            assert "Ratna" not in r.text
        both = client.post(
            ACTIONS, json={"action": "acknowledge", "ids": [ids["near"], person]}, headers=h[face]
        )
        assert both.status_code == 404 and str(person) in both.json()["detail"]
    rows = session.execute(
        text("SELECT status FROM alert WHERE id = ANY(:ids) ORDER BY id"),
        {"ids": [ids["near"], person]},
    ).scalars()
    assert list(rows) == ["new", "new"]  # all or nothing
    assert (
        session.execute(
            text("SELECT count(*) FROM alert_note WHERE alert_id = ANY(:ids)"),
            {"ids": [ids["near"], person]},
        ).scalar()
        == 0
    )
    # A viewer of the same agency still acts on none.
    r = client.post(f"/api/v1/alerts/{ids['near']}/ack", json={}, headers=h["viewer"])
    assert r.status_code == 403


def test_assign_to_users_who_may_act_on_that_alert(
    client: TestClient, session: Session, polres: dict[str, Any]
) -> None:
    ids, h = polres["ids"], polres["headers"]
    assignable = queue_module.assignable_users(session=session)
    assert {"p-coord", "p-ana", "i-admin"} <= set(assignable) and "p-view" not in assignable
    near = f"/api/v1/alerts/{ids['near']}"
    r = client.post(f"{near}/assign", json={"user": "p-ana"}, headers=h["liaison"])
    assert r.status_code == 200, r.text
    assert "assigned_to" not in r.json()["properties"]  # assignees: personal data's face
    r = client.post(f"{near}/assign", json={"user": "p-view"}, headers=h["liaison"])
    assert r.status_code == 422 and r.json()["field"] == "user"
    # An alert about a person goes to a user with personal data only.
    person = f"/api/v1/alerts/{ids['person']}"
    r = client.post(f"{person}/assign", json={"user": "p-coord"}, headers=h["admin"])
    assert r.status_code == 422 and "about a person" in r.json()["detail"]
    r = client.post(f"{person}/assign", json={"user": "i-admin"}, headers=h["admin"])
    assert r.status_code == 200, r.text
    # The recorder it went to notes, resolves and reopens it.
    assert (
        client.post(f"{near}/notes", json={"note": "ke lokasi"}, headers=h["recorder"]).status_code
        == 200
    )
    r = client.post(f"{near}/resolve", json={"reason": "false_alarm"}, headers=h["recorder"])
    assert r.status_code == 200 and r.json()["properties"]["status"] == "resolved"
    r = client.post(f"{near}/reopen", headers=h["liaison"])
    assert r.status_code == 200 and r.json()["properties"]["status"] == "acknowledged"
    r = client.post(f"{near}/unassign", headers=h["recorder"])
    assert r.status_code == 200, r.text
    stored = session.execute(
        text("SELECT assigned_to, resolved_by, closed_reason FROM alert WHERE id = :id"),
        {"id": ids["near"]},
    ).one()
    assert tuple(stored) == (None, None, None)
