"""The triage queue over HTTP: priority order, totals, filters (and their 422s), paging, each
action with its audit and note rows, selections all or nothing, and who may see and do what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts import queue as queue_module
from geo.users import create_user, revoke_user
from tests.api.helpers import auth, make_tokens
from tests.api.queue_seed import TODAY, add_alert

QUEUE = "/api/v1/alerts/queue"
ACTIONS = "/api/v1/alerts/actions"


@pytest.fixture
def queue(session: Session) -> dict[str, Any]:
    fid = session.execute(
        text(
            "INSERT INTO foreigner (full_name, nationality, permit_type, geom) VALUES "
            "('Ratna Contoh', 'MYS', 'KITAS', ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326)) "
            "RETURNING id"
        )
    ).scalar_one()
    ids = {
        "low_today": add_alert(session, "a", severity=2, last=TODAY.replace(hour=10)),
        "high_old": add_alert(session, "b", severity=4, last=TODAY - dt.timedelta(days=5)),
        "high_repeats": add_alert(
            session,
            "c",
            severity=4,
            last=TODAY.replace(hour=8),
            first=TODAY - dt.timedelta(days=9),
            occurrences=5,
        ),
        "high_today": add_alert(session, "d", severity=4, last=TODAY.replace(hour=11)),
        "closed": add_alert(session, "e", severity=5, status="resolved"),
        "person": add_alert(
            session,
            "f",
            rule="far_from_sponsor",
            severity=2,
            last=TODAY - dt.timedelta(days=1),
            kecamatan="Paloh",
            foreigner=fid,
        ),
    }
    return {"ids": ids, "tokens": make_tokens(session, prefix="q"), "fid": fid}


def ids_of(doc: dict[str, Any]) -> list[int]:
    return [f["id"] for f in doc["features"]]


def test_priority_order_totals_and_keyset_pages(client: TestClient, queue: dict[str, Any]) -> None:
    ids, tk = queue["ids"], queue["tokens"]
    r = client.get(QUEUE, headers=auth(tk["coordinator"]))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    # Severity first; within it the day last seen, then repeats, then the exact time.
    expected = [
        ids["high_repeats"],
        ids["high_today"],
        ids["high_old"],
        ids["low_today"],
        ids["person"],
    ]
    assert ids_of(doc) == expected
    assert doc["numberMatched"] == 5 and doc["numberReturned"] == 5
    assert doc["totals"] == {
        "rule": {"incident_near_workplace": 4, "far_from_sponsor": 1},
        "severity": {"4": 3, "2": 2},
        "status": {"new": 5},
    }
    person = doc["features"][-1]["properties"]
    assert person["subject_names"] == {"foreigner": "Ratna Contoh"}
    assert person["first_seen_at"].endswith("+07:00")
    assert doc["features"][0]["properties"]["occurrences"] == 5
    # Keyset pages: the totals stay those of the whole queue on every page.
    seen: list[int] = []
    url: str | None = f"{QUEUE}?limit=2"
    while url:
        page = client.get(url, headers=auth(tk["coordinator"])).json()
        assert page["numberMatched"] == 5 and page["numberReturned"] <= 2
        seen += ids_of(page)
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert seen == expected
    offset = client.get(f"{QUEUE}?limit=2&offset=2", headers=auth(tk["admin"])).json()
    assert ids_of(offset) == expected[2:4]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("rule=far_from_sponsor", ["person"], id="rule"),
        pytest.param("severity=4", ["high_repeats", "high_today", "high_old"], id="severity"),
        pytest.param("severity=5&status=resolved", ["closed"], id="status"),
        pytest.param("kecamatan=Paloh", ["person"], id="kecamatan"),
        # The period selects episodes whose first-to-last-seen span overlaps it.
        pytest.param("start=2026-05-12&end=2026-05-13", ["high_repeats"], id="span"),
        pytest.param(
            "start=2026-05-19", ["high_repeats", "high_today", "low_today", "person"], id="since"
        ),
        pytest.param("status=open,resolved&severity=5", ["closed"], id="open-alias"),
    ],
)
def test_filters(
    client: TestClient, queue: dict[str, Any], query: str, expected: list[str]
) -> None:
    ids, tk = queue["ids"], queue["tokens"]
    doc = client.get(f"{QUEUE}?{query}", headers=auth(tk["analyst"])).json()
    assert ids_of(doc) == [ids[k] for k in expected]
    assert doc["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        pytest.param("severity=7", "severity", "7", id="severity"),
        pytest.param("rule=nope", "rule", "nope", id="rule"),
        pytest.param("status=closed", "status", "closed", id="status"),
        pytest.param("kecamatan=Atlantis", "kecamatan", "Atlantis", id="kecamatan"),
        pytest.param("start=2026-05-20&end=2026-05-01", "end", None, id="window"),
        pytest.param("assignee=ghost", "assignee", "ghost", id="assignee"),
        pytest.param("after=999999999", "after", 999999999, id="after"),
    ],
)
def test_bad_filters_are_422_naming_them(
    client: TestClient, queue: dict[str, Any], query: str, field: str, value: Any
) -> None:
    r = client.get(f"{QUEUE}?{query}", headers=auth(queue["tokens"]["coordinator"]))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    if value is not None:
        assert r.json()["value"] == value


def audit_rows(session: Session, alert_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        text("SELECT action, user_name FROM audit_log WHERE resource = :r ORDER BY id"),
        {"r": f"alerts/{alert_id}"},
    )
    return [(r.action, r.user_name) for r in rows]


def note_rows(session: Session, alert_id: int) -> list[tuple[str, str, str]]:
    rows = session.execute(
        text("SELECT action, author, body FROM alert_note WHERE alert_id = :a ORDER BY id"),
        {"a": alert_id},
    )
    return [(r.action, r.author, r.body) for r in rows]


def test_each_action_leaves_a_note_and_an_audit_row(
    client: TestClient, session: Session, queue: dict[str, Any]
) -> None:
    aid, tk = queue["ids"]["person"], queue["tokens"]
    coord = auth(tk["coordinator"])
    url = f"/api/v1/alerts/{aid}"
    r = client.post(f"{url}/assign", json={"user": "q-analyst"}, headers=coord)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["assigned_to"] == "q-analyst"
    filtered = client.get(f"{QUEUE}?assignee=q-analyst", headers=coord).json()
    assert ids_of(filtered) == [aid]
    assert aid not in ids_of(client.get(f"{QUEUE}?assignee=none", headers=coord).json())
    r = client.post(f"{url}/notes", json={"note": "Tim ke lokasi besok"}, headers=coord)
    assert r.status_code == 200
    assert client.post(f"{url}/notes", json={"note": "  "}, headers=coord).status_code == 422
    assert client.post(f"{url}/ack", json={"note": "dilihat"}, headers=coord).status_code == 200
    no_reason = client.post(f"{url}/resolve", json={"note": "x"}, headers=coord)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    bad_reason = client.post(f"{url}/resolve", json={"reason": "bored"}, headers=coord)
    assert bad_reason.status_code == 422 and bad_reason.json()["value"] == "bored"
    r = client.post(
        f"{url}/resolve", json={"reason": "explained", "note": "izin diperpanjang"}, headers=coord
    )
    assert r.status_code == 200
    p = r.json()["properties"]
    assert (p["status"], p["closed_reason"], p["resolved_by"]) == (
        "resolved",
        "explained",
        "q-coordinator",
    )
    r = client.post(f"{url}/reopen", headers=auth(tk["analyst"]))
    assert r.status_code == 200 and r.json()["properties"]["status"] == "acknowledged"
    assert r.json()["properties"]["closed_reason"] is None
    r = client.post(f"{url}/unassign", headers=coord)
    assert r.status_code == 200 and r.json()["properties"]["assigned_to"] is None
    assert client.post(f"{url}/unassign", headers=coord).status_code == 409

    assert note_rows(session, aid) == [
        ("assign", "q-coordinator", "q-analyst"),
        ("note", "q-coordinator", "Tim ke lokasi besok"),
        ("acknowledge", "q-coordinator", ""),
        ("note", "q-coordinator", "dilihat"),
        ("resolve", "q-coordinator", "explained"),
        ("note", "q-coordinator", "izin diperpanjang"),
        ("reopen", "q-analyst", ""),
        ("unassign", "q-coordinator", ""),
    ]
    assert audit_rows(session, aid) == [
        ("assign", "q-coordinator"),
        ("note", "q-coordinator"),
        ("ack", "q-coordinator"),
        ("resolve", "q-coordinator"),
        ("reopen", "q-analyst"),
        ("unassign", "q-coordinator"),
    ]
    # The alert's notes are listed with it, oldest first, with where its subjects are.
    got = client.get(url, headers=coord).json()["properties"]
    assert [n["action"] for n in got["notes"]][:2] == ["assign", "note"]
    assert got["notes"][1]["body"] == "Tim ke lokasi besok"
    assert got["notes"][0]["created_at"].endswith("+07:00")


def test_assignee_must_be_an_active_user_who_may_act(
    client: TestClient, session: Session, queue: dict[str, Any]
) -> None:
    aid, tk = queue["ids"]["high_today"], queue["tokens"]
    create_user(session=session, name="q-gone", role="coordinator")
    revoke_user(session=session, name="q-gone")
    # A police analyst acts without personal data (docs/privacy.md): an assignee of the alerts
    # not about a person only (docs/alerts.md, "Who may act").
    create_user(session=session, name="q-polres", role="analyst", agency="POLRES")
    assert {"q-polres", "q-analyst"} <= set(queue_module.assignable_users(session=session))
    person = queue["ids"]["person"]
    for alert_id, user in (
        (aid, "nobody"),
        (aid, "q-gone"),
        (aid, "q-viewer"),
        (aid, ""),
        (person, "q-polres"),
    ):
        r = client.post(
            f"/api/v1/alerts/{alert_id}/assign", json={"user": user}, headers=auth(tk["admin"])
        )
        assert r.status_code == 422, (user, r.text)
        assert r.json()["field"] == "user"
    assert note_rows(session, aid) == note_rows(session, person) == []


def test_a_selection_is_all_or_nothing(
    client: TestClient, session: Session, queue: dict[str, Any]
) -> None:
    ids, tk = queue["ids"], queue["tokens"]
    coord = auth(tk["coordinator"])
    picked = [ids["high_today"], ids["closed"], ids["low_today"]]
    r = client.post(ACTIONS, json={"action": "acknowledge", "ids": picked}, headers=coord)
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == {"ids": [ids["closed"]]}
    assert f"{ids['closed']} is resolved" in r.json()["detail"]
    assert all(note_rows(session, i) == [] and audit_rows(session, i) == [] for i in picked)
    doc = client.get(QUEUE, headers=coord).json()
    assert doc["totals"]["status"] == {"new": 5}

    ok = [ids["high_today"], ids["low_today"], ids["high_old"]]
    r = client.post(
        ACTIONS,
        json={"action": "resolve", "ids": ok, "reason": "false_alarm", "note": "uji"},
        headers=coord,
    )
    assert r.status_code == 200, r.text
    assert sorted(ids_of(r.json())) == sorted(ok)
    assert {f["properties"]["status"] for f in r.json()["features"]} == {"resolved"}
    for i in ok:
        assert note_rows(session, i) == [
            ("resolve", "q-coordinator", "false_alarm"),
            ("note", "q-coordinator", "uji"),
        ]
        assert audit_rows(session, i) == [("resolve", "q-coordinator")]
    assert client.get(QUEUE, headers=coord).json()["numberMatched"] == 2

    missing = client.post(
        ACTIONS, json={"action": "note", "ids": [987654], "note": "x"}, headers=coord
    )
    assert missing.status_code == 404 and "987654" in missing.json()["detail"]
    too_many = client.post(
        ACTIONS, json={"action": "note", "ids": list(range(1, 202)), "note": "x"}, headers=coord
    )
    assert too_many.status_code == 422 and too_many.json()["field"] == "ids"
    bad = client.post(ACTIONS, json={"action": "delete", "ids": ok}, headers=coord)
    assert bad.status_code == 422 and bad.json()["field"] == "action"


def test_reopen_refused_while_a_newer_episode_is_open(
    client: TestClient, session: Session, queue: dict[str, Any]
) -> None:
    tk = queue["tokens"]
    old = add_alert(session, "g", status="resolved", last=TODAY - dt.timedelta(days=30))
    session.execute(text("UPDATE alert SET episode_key = 'test-shared' WHERE id = :i"), {"i": old})
    newer = add_alert(session, "h")
    session.execute(
        text("UPDATE alert SET episode_key = 'test-shared' WHERE id = :i"), {"i": newer}
    )
    r = client.post(f"/api/v1/alerts/{old}/reopen", headers=auth(tk["admin"]))
    assert r.status_code == 409
    assert r.json()["errors"] == {"ids": [old]}
    assert f"newer open episode ({newer})" in r.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "planner"])
def test_roles_without_personal_data_see_counts_and_areas_only(
    client: TestClient, session: Session, queue: dict[str, Any], role: str
) -> None:
    ids, tk = queue["ids"], queue["tokens"]
    client.post(
        f"/api/v1/alerts/{ids['high_today']}/assign",
        json={"user": "q-coordinator"},
        headers=auth(tk["admin"]),
    )
    r = client.get(QUEUE, headers=auth(tk[role]))
    assert r.status_code == 200, r.text
    doc = r.json()
    # The alert about a person is not theirs to see (the database hides it); the rest is
    # rule, severity, status, area and span.
    assert ids["person"] not in ids_of(doc)
    assert doc["numberMatched"] == 4
    assert "far_from_sponsor" not in doc["totals"]["rule"]
    assert "Ratna" not in r.text and "q-coordinator" not in r.text
    for f in doc["features"]:
        assert f["geometry"] is None
        assert set(f["properties"]) == {
            "id",
            "rule",
            "severity",
            "status",
            "kecamatan_code",
            "kecamatan",
            "desa_code",
            "desa",
            "first_seen_at",
            "last_seen_at",
            "occurrences",
        }
    assert client.get(f"{QUEUE}?assignee=none", headers=auth(tk[role])).status_code == 403
    aid = ids["high_today"]
    assert client.get(f"/api/v1/alerts/{aid}", headers=auth(tk[role])).status_code == 403
    for path, body in (
        (f"/api/v1/alerts/{aid}/notes", {"note": "x"}),
        (f"/api/v1/alerts/{aid}/assign", {"user": "q-admin"}),
        (f"/api/v1/alerts/{aid}/resolve", {"reason": "explained"}),
        (ACTIONS, {"action": "acknowledge", "ids": [aid]}),
    ):
        assert client.post(path, json=body, headers=auth(tk[role])).status_code == 403, path
    assert note_rows(session, aid) == [("assign", "q-admin", "q-coordinator")]
