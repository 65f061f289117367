"""Follow-up actions and coordination meetings through the API: the list order (overdue first),
filters and 422s, who may change what (planners: their own agency's), what roles without
personal data see, the history of notes, audit rows, and that nothing can be deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.times import today_wib
from geo.users import create_user
from tests.api.helpers import ROLES, auth


def agencies(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(text("SELECT id, short_name FROM agency ORDER BY id LIMIT 3")).all()
    assert len(rows) >= 2, "the agency table is seeded"
    return [(r.id, r.short_name) for r in rows]


def users(session: Session, prefix: str, agency_id: int) -> dict[str, str]:
    """A user of every role, all of agency ``agency_id``, which acts with its full roles (its
    function needs personal data: without, admins and analysts act as recorders)."""
    short_name = session.execute(
        text("UPDATE agency SET personal_data = true WHERE id = :id RETURNING short_name"),
        {"id": agency_id},
    ).scalar_one()
    tokens = {}
    for role in ROLES:
        _, token = create_user(
            session=session, name=f"{prefix}-{role}", role=role, agency=short_name
        )
        tokens[role] = token
    session.flush()
    return tokens


def day(offset: int) -> str:
    return (today_wib() + dt.timedelta(days=offset)).isoformat()


def create(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/actions", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_overdue_actions_come_first(client: TestClient, session: Session) -> None:
    (a1, s1), (a2, _s2), *_ = agencies(session)
    tokens = users(session, "ord", a1)
    admin = tokens["admin"]
    later = create(client, admin, title="Sosialisasi RPTKA", agency=s1, due_on=day(10))
    soon = create(client, admin, title="Cek penginapan", agency=a2, due_on=day(2))
    late = create(client, admin, title="Razia jalan tikus", agency=a2, due_on=day(-3))
    later_late = create(client, admin, title="Laporan Kejari", agency=a1, due_on=day(-1))
    closed_late = create(client, admin, title="Selesai", agency=a1, due_on=day(-20))
    response = client.post(
        f"/api/v1/actions/{closed_late['id']}/status",
        json={"status": "done", "reason": "completed"},
        headers=auth(admin),
    )
    assert response.status_code == 200, response.text

    body = client.get("/api/v1/actions?limit=500", headers=auth(admin)).json()
    ids = [a["id"] for a in body["actions"]]
    mine = [i for i in ids if i in {later["id"], soon["id"], late["id"], later_late["id"]}]
    assert mine == [late["id"], later_late["id"], soon["id"], later["id"]]
    assert closed_late["id"] not in ids  # open and in progress unless asked
    first = body["actions"][0]
    assert first["overdue"] is True and first["id"] == late["id"]

    every = client.get("/api/v1/actions?status=any&limit=500", headers=auth(admin)).json()
    every_ids = [a["id"] for a in every["actions"]]
    # A done action is not overdue, however old its due day: it sorts by due day.
    assert every_ids.index(closed_late["id"]) > every_ids.index(later_late["id"])

    # Keyset pages of one give the same order.
    paged: list[int] = []
    url: str | None = "/api/v1/actions?limit=1"
    while url and len(paged) < len(ids):
        page = client.get(url, headers=auth(admin)).json()
        paged += [a["id"] for a in page["actions"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert paged == ids

    overdue = client.get("/api/v1/actions?overdue=true", headers=auth(admin)).json()
    assert {a["id"] for a in overdue["actions"]} >= {late["id"], later_late["id"]}
    assert all(a["overdue"] for a in overdue["actions"])
    by_agency = client.get(f"/api/v1/actions?agency={a2}", headers=auth(admin)).json()
    assert {a["agency_id"] for a in by_agency["actions"]} == {a2}
    due = client.get(
        f"/api/v1/actions?due_after={day(0)}&due_before={day(5)}", headers=auth(admin)
    ).json()
    assert [a["id"] for a in due["actions"]] == [soon["id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("status=closed", "status", id="status"),
        pytest.param("agency=NoSuchAgency", "agency", id="agency"),
        pytest.param("due_before=31-12-2026", "due_before", id="due_before"),
        pytest.param("due_after=2026-02-30", "due_after", id="due_after"),
        pytest.param("overdue=maybe", "overdue", id="overdue"),
        pytest.param("meeting=abc", "meeting", id="meeting"),
        pytest.param("after=99999999", "after", id="after"),
    ],
)
def test_bad_list_values_are_422_naming_them(
    client: TestClient, session: Session, query: str, field: str
) -> None:
    tokens = users(session, "bad", agencies(session)[0][0])
    response = client.get(f"/api/v1/actions?{query}", headers=auth(tokens["viewer"]))
    assert response.status_code == 422, response.text
    assert field in response.text
    assert query.split("=", 1)[1] in response.text


def test_status_history_notes_and_audit(client: TestClient, session: Session) -> None:
    (a1, s1), *_ = agencies(session)
    tokens = users(session, "his", a1)
    coordinator = tokens["coordinator"]
    action = create(client, coordinator, title="Rapat lanjutan", agency=s1, due_on=day(7))
    url = f"/api/v1/actions/{action['id']}"
    no_reason = client.post(f"{url}/status", json={"status": "dropped"}, headers=auth(coordinator))
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    bad_reason = client.post(
        f"{url}/status", json={"status": "done", "reason": "whatever"}, headers=auth(coordinator)
    )
    assert bad_reason.status_code == 422 and "whatever" in bad_reason.text
    moved = client.post(
        f"{url}/status",
        json={"status": "in_progress", "note": "Surat sudah dikirim"},
        headers=auth(coordinator),
    )
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
    noted = client.post(
        f"{url}/notes", json={"body": "Menunggu jawaban"}, headers=auth(coordinator)
    )
    assert noted.status_code == 201
    done = client.post(
        f"{url}/status", json={"status": "done", "reason": "completed"}, headers=auth(coordinator)
    ).json()
    assert done["status"] == "done" and done["close_reason"] == "completed" and done["closed_at"]
    again = client.post(
        f"{url}/status", json={"status": "done", "reason": "completed"}, headers=auth(coordinator)
    )
    assert again.status_code == 409

    full = client.get(url, headers=auth(coordinator)).json()
    history = [(n["status_from"], n["status_to"], n["body"]) for n in full["notes"]]
    assert history == [
        ("open", "in_progress", "Surat sudah dikirim"),
        (None, None, "Menunggu jawaban"),
        ("in_progress", "done", ""),
    ]
    assert {n["agency_id"] for n in full["notes"]} == {a1}
    audit = (
        session.execute(
            text("SELECT action FROM audit_log WHERE resource = :r ORDER BY id"),
            {"r": f"actions/{action['id']}"},
        )
        .scalars()
        .all()
    )
    assert [a for a in audit if a != "read"] == ["create", "status", "note", "status"]
    assert "read" in audit  # notes are free text: reading them is audited


def test_planner_may_update_only_its_own_agencys_actions(
    client: TestClient, session: Session
) -> None:
    (a1, _), (a2, _), *_ = agencies(session)
    own = users(session, "own", a1)
    mine = create(client, own["admin"], title="Patroli gabungan", agency=a1, due_on=day(3))
    theirs = create(client, own["admin"], title="Pemeriksaan TKA", agency=a2, due_on=day(3))
    planner = auth(own["planner"])
    ok = client.post(
        f"/api/v1/actions/{mine['id']}/status",
        json={"status": "done", "reason": "completed", "note": "Sudah dilaksanakan"},
        headers=planner,
    )
    assert ok.status_code == 200, ok.text
    assert set(ok.json()) <= {
        "id", "title", "agency_id", "agency", "agency_name", "due_on", "status", "overdue",
        "meeting_id", "meeting_title", "meeting_held_on", "closed_at", "close_reason",
    }  # fmt: skip
    assert (
        client.post(
            f"/api/v1/actions/{mine['id']}/notes", json={"body": "Foto terlampir"}, headers=planner
        ).status_code
        == 201
    )
    refused = client.post(
        f"/api/v1/actions/{theirs['id']}/status", json={"status": "in_progress"}, headers=planner
    )
    assert refused.status_code == 403
    assert (
        client.post(
            f"/api/v1/actions/{theirs['id']}/notes", json={"body": "x"}, headers=planner
        ).status_code
        == 403
    )
    for role in ("planner", "viewer"):
        created = client.post(
            "/api/v1/actions",
            json={"title": "x", "agency": a1, "due_on": day(1)},
            headers=auth(own[role]),
        )
        assert created.status_code == 403
    assert (
        client.post(
            f"/api/v1/actions/{mine['id']}/notes", json={"body": "x"}, headers=auth(own["viewer"])
        ).status_code
        == 403
    )


def test_roles_without_personal_data_see_no_notes_links_or_meeting_notes(
    client: TestClient, session: Session
) -> None:
    (a1, s1), *_ = agencies(session)
    tokens = users(session, "see", a1)
    area = session.execute(text("SELECT code FROM admin_area ORDER BY code LIMIT 1")).scalar_one()
    meeting = client.post(
        "/api/v1/meetings",
        json={
            "held_on": day(-7),
            "title": "Rapat Timpora triwulan IV",
            "place": "Aula Imigrasi Sambas",
            "notes": "Dibahas laporan warga tentang seseorang bernama Uji",
            "actions": [
                {"title": "Patroli perbatasan", "agency": s1, "due_on": day(5),
                 "links": [f"admin_area:{area}"]},
            ],
        },
        headers=auth(tokens["analyst"]),
    )  # fmt: skip
    assert meeting.status_code == 201, meeting.text
    meeting_id = meeting.json()["id"]
    action_id = meeting.json()["actions"][0]["id"]
    assert meeting.json()["actions"][0]["links"] == [{"kind": "admin_area", "target": area}]
    client.post(
        f"/api/v1/actions/{action_id}/notes",
        json={"body": "Nama saksi: Uji"},
        headers=auth(tokens["analyst"]),
    )
    for role in ("planner", "viewer"):
        headers = auth(tokens[role])
        listed = client.get(f"/api/v1/actions?meeting={meeting_id}", headers=headers).json()
        one = client.get(f"/api/v1/actions/{action_id}", headers=headers).json()
        held = client.get(f"/api/v1/meetings/{meeting_id}", headers=headers).json()
        meetings = client.get("/api/v1/meetings", headers=headers).json()["meetings"]
        for shown in (listed["actions"][0], one, held["actions"][0]):
            assert shown["title"] == "Patroli perbatasan"
            assert "notes" not in shown and "links" not in shown and "created_by" not in shown
        assert "notes" not in held and all("notes" not in m for m in meetings)
        assert "Uji" not in str([listed, one, held, meetings])
    personal = client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(tokens["coordinator"]))
    assert "Uji" in personal.json()["notes"]


def test_links_must_exist(client: TestClient, session: Session) -> None:
    (a1, _), *_ = agencies(session)
    tokens = users(session, "lnk", a1)
    for link, value in [
        ("incident:2000000000", "2000000000"),
        ("zone:abc", "abc"),
        ("admin_area:99.99.99", "99.99.99"),
        ("person:1", "person"),
    ]:
        response = client.post(
            "/api/v1/actions",
            json={"title": "x", "agency": a1, "due_on": day(1), "links": [link]},
            headers=auth(tokens["admin"]),
        )
        assert response.status_code == 422, (link, response.text)
        assert "links" in response.text and value in response.text
    bad_meeting = client.post(
        "/api/v1/actions",
        json={"title": "x", "agency": a1, "due_on": day(1), "meeting": 2000000000},
        headers=auth(tokens["admin"]),
    )
    assert bad_meeting.status_code == 422 and "meeting" in bad_meeting.text


def test_patch_changes_due_day_and_adds_links_only(client: TestClient, session: Session) -> None:
    (a1, _), (a2, s2), *_ = agencies(session)
    tokens = users(session, "pat", a1)
    admin = auth(tokens["admin"])
    action = create(client, tokens["admin"], title="Koordinasi", agency=a1, due_on=day(1))
    zone = client.post(
        "/api/v1/zones",
        json={
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[109.28, 1.33], [109.32, 1.33], [109.32, 1.37], [109.28, 1.33]]],
            },
            "properties": {"name": "Zona tindak lanjut", "kind": "watch"},
        },
        headers=admin,
    )
    assert zone.status_code == 201, zone.text
    changed = client.patch(
        f"/api/v1/actions/{action['id']}",
        json={"due_on": day(9), "agency": s2, "add_links": [{"kind": "zone", "target": zone.json()["id"]}]},
        headers=admin,
    ).json()  # fmt: skip
    assert changed["due_on"] == day(9) and changed["agency_id"] == a2
    assert changed["links"] == [{"kind": "zone", "target": str(zone.json()["id"])}]
    assert (
        client.patch(f"/api/v1/actions/{action['id']}", json={}, headers=admin).status_code == 422
    )
    details = session.execute(
        text("SELECT details FROM audit_log WHERE resource = :r AND action = 'update'"),
        {"r": f"actions/{action['id']}"},
    ).scalar_one()
    assert details["due_on"] == [day(1), day(9)]


@pytest.mark.parametrize("table", ["follow_up_action", "follow_up_note", "coordination_meeting"])
def test_nothing_is_deleted(session: Session, table: str) -> None:
    session.execute(text("SET LOCAL ROLE timpora_personal"))
    with pytest.raises(DBAPIError, match="permission denied"), session.begin_nested():
        session.execute(text(f"DELETE FROM {table}"))
    session.execute(text("RESET ROLE"))


def test_contributions_count_per_agency(client: TestClient, session: Session) -> None:
    (a1, _), (a2, _), *_ = agencies(session)
    one = users(session, "ca", a1)
    two = users(session, "cb", a2)
    before = client.get("/api/v1/agencies/contributions", headers=auth(one["viewer"])).json()
    count = {a["agency_id"]: a for a in before["agencies"]}
    # Agency 1 reports an incident; agency 2 closes two actions and drops one.
    incident = client.post(
        "/api/v1/incidents",
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [109.3021, 1.3549]},
            "properties": {"kind": "illegal_work", "severity": 2, "occurred_at": day(0)},
        },
        headers=auth(one["analyst"]),
    )
    assert incident.status_code == 201, incident.text
    for outcome in ("done", "done", "dropped"):
        action = create(client, two["admin"], title="T", agency=a2, due_on=day(1))
        client.post(
            f"/api/v1/actions/{action['id']}/status",
            json={"status": outcome, "reason": "completed" if outcome == "done" else "not_needed"},
            headers=auth(two["admin"]),
        )
    after = client.get("/api/v1/agencies/contributions", headers=auth(one["viewer"])).json()
    now = {a["agency_id"]: a for a in after["agencies"]}
    assert now[a1]["reports"] == count[a1]["reports"] + 1
    assert now[a2]["actions_closed"] == count[a2]["actions_closed"] + 2
    assert now[a1]["actions_closed"] == count[a1]["actions_closed"]
    assert after["totals"]["actions_closed"] == sum(a["actions_closed"] for a in after["agencies"])
    assert set(now[a1]) == {
        "agency_id", "agency", "agency_name", "reports", "alerts_handled", "actions_closed"
    }  # fmt: skip
    past = client.get(
        "/api/v1/agencies/contributions?from=2001-01-01&to=2001-01-31", headers=auth(one["viewer"])
    ).json()
    assert past["totals"] == {"reports": 0, "alerts_handled": 0, "actions_closed": 0}
    bad = client.get("/api/v1/agencies/contributions?from=2026-13-01", headers=auth(one["viewer"]))
    assert bad.status_code == 422 and "2026-13-01" in bad.text


def test_alerts_handled_count_the_alerts_an_agencys_users_acted_on(
    client: TestClient, session: Session
) -> None:
    from tests.api.queue_seed import add_alert

    (a1, _), (a2, _), *_ = agencies(session)
    one = users(session, "ha", a1)
    two = users(session, "hb", a2)
    before = client.get("/api/v1/agencies/contributions", headers=auth(one["viewer"])).json()
    count = {a["agency_id"]: a["alerts_handled"] for a in before["agencies"]}
    now = dt.datetime.now(dt.UTC)
    first, second = (add_alert(session, f"handled-{i}", last=now) for i in range(2))
    session.flush()
    # Agency 2 acknowledges both and notes the first (still two alerts); agency 1 notes one.
    acted = client.post(
        "/api/v1/alerts/actions",
        json={"action": "acknowledge", "ids": [first, second]},
        headers=auth(two["coordinator"]),
    )
    assert acted.status_code == 200, acted.text
    for token, alert in ((two["analyst"], first), (one["coordinator"], second)):
        noted = client.post(
            f"/api/v1/alerts/{alert}/notes", json={"note": "dicek"}, headers=auth(token)
        )
        assert noted.status_code == 200, noted.text
    after = client.get("/api/v1/agencies/contributions", headers=auth(one["planner"])).json()
    handled = {a["agency_id"]: a["alerts_handled"] for a in after["agencies"]}
    assert handled[a2] == count[a2] + 2
    assert handled[a1] == count[a1] + 1


def test_a_coordinator_without_personal_data_reports_on_its_own_agencys_actions(
    client: TestClient, session: Session
) -> None:
    """A police coordinator acts as 'liaison': like a planner, it moves its own agency's
    actions on (status, notes), and no other agency's."""
    (a1, _), *_ = agencies(session)
    own = users(session, "lia", a1)
    polres = session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar_one()
    _, token = create_user(session=session, name="lia-polres", role="coordinator", agency="POLRES")
    session.flush()
    mine = create(client, own["admin"], title="Razia gabungan", agency=polres, due_on=day(2))
    theirs = create(client, own["admin"], title="Cek izin", agency=a1, due_on=day(2))
    liaison = auth(token)
    moved = client.post(
        f"/api/v1/actions/{mine['id']}/status", json={"status": "in_progress"}, headers=liaison
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "in_progress"
    noted = client.post(
        f"/api/v1/actions/{mine['id']}/notes", json={"body": "Tim siap"}, headers=liaison
    )
    assert noted.status_code == 201, noted.text
    refused = client.post(
        f"/api/v1/actions/{theirs['id']}/status", json={"status": "in_progress"}, headers=liaison
    )
    assert refused.status_code == 403
    created = client.post(
        "/api/v1/actions", json={"title": "x", "agency": polres, "due_on": day(1)}, headers=liaison
    )
    assert created.status_code == 403
