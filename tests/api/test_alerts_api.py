"""HTTP face of the alerts: list/filters, names by role, lifecycle, rules, webhooks, SSE."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from geo.alerts import evaluate_for
from geo.db import Database
from geo.settings import Settings
from geo.users import create_user
from tests.geo.alert_synth import (
    T0,
    add_foreigner,
    add_incident,
    add_sighting,
    add_workplace,
    offset,
    point_at_border_distance,
)

ROLES = ("admin", "analyst", "coordinator", "planner", "viewer")
INLAND = (109.30, 1.35)


def tokens(session: Session) -> dict[str, str]:
    out = {}
    for role in ROLES:
        _, token = create_user(session=session, name=f"alerts-{role}", role=role)
        out[role] = token
    session.flush()
    return out


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def seeded(session: Session) -> dict[str, Any]:
    wid = add_workplace(session, *INLAND)
    iid = add_incident(session, *offset(session, *INLAND, 250, 0))
    fid = add_foreigner(session, name="Siti Contoh")
    sid = add_sighting(session, *point_at_border_distance(session, 1200), T0, fid)
    evaluate_for(session=session, layer="incidents", ids=[iid])
    evaluate_for(session=session, layer="sightings", ids=[sid])
    return {"tokens": tokens(session), "wid": wid, "iid": iid, "fid": fid, "sid": sid}


def test_list_filters_and_names_by_role(client: TestClient, seeded: dict[str, Any]) -> None:
    tk = seeded["tokens"]
    r = client.get("/api/v1/alerts?status=new", headers=h(tk["coordinator"]))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    rules = sorted(f["properties"]["rule"] for f in doc["features"])
    assert rules == ["incident_near_workplace", "sighting_near_border"]
    border = next(f for f in doc["features"] if f["properties"]["rule"] == "sighting_near_border")
    p = border["properties"]
    assert p["subject_names"] == {"foreigner": "Siti Contoh"}
    assert p["distance_m"] == pytest.approx(1200, abs=0.01)
    assert p["kecamatan"] == "Sajingan Besar"
    assert p["event_at"].endswith("+07:00")
    assert border["geometry"]["type"] == "Point"
    # Alerts name persons and where they were: planners and viewers are refused, with the reason
    # (docs/privacy.md); they see open alerts counted per rule in the briefing pack.
    for role in ("viewer", "planner"):
        refused = client.get("/api/v1/alerts", headers=h(tk[role]))
        assert refused.status_code == 403
        assert "Siti" not in refused.text and "personal" in refused.text
    analyst = h(tk["analyst"])
    only = client.get(
        "/api/v1/alerts?rule=incident_near_workplace&kecamatan=Sambas", headers=analyst
    ).json()["features"]
    assert [f["properties"]["rule"] for f in only] == ["incident_near_workplace"]
    assert (
        client.get("/api/v1/alerts?bbox=109.0,0.9,109.1,1.0", headers=analyst).json()["features"]
        == []
    )
    assert client.get("/api/v1/alerts?status=open", headers=analyst).status_code == 422
    assert client.get("/api/v1/alerts?bbox=1,2", headers=analyst).status_code == 422
    assert client.get("/api/v1/alerts").status_code == 401


def test_lifecycle_with_audit(client: TestClient, seeded: dict[str, Any], session: Session) -> None:
    tk = seeded["tokens"]
    aid = client.get("/api/v1/alerts", headers=h(tk["coordinator"])).json()["features"][0]["id"]
    assert client.post(f"/api/v1/alerts/{aid}/ack", headers=h(tk["viewer"])).status_code == 403
    r = client.post(
        f"/api/v1/alerts/{aid}/ack", json={"note": "team sent"}, headers=h(tk["coordinator"])
    )
    assert r.status_code == 200
    p = r.json()["properties"]
    assert (p["status"], p["acknowledged_by"], p["ack_note"]) == (
        "acknowledged",
        "alerts-coordinator",
        "team sent",
    )
    assert p["acknowledged_at"].endswith("+07:00")
    again = client.post(f"/api/v1/alerts/{aid}/ack", headers=h(tk["coordinator"]))
    assert again.status_code == 409
    # Resolving takes a reason (docs/alerts.md, "The triage queue").
    assert client.post(f"/api/v1/alerts/{aid}/resolve", headers=h(tk["analyst"])).status_code == 422
    r = client.post(
        f"/api/v1/alerts/{aid}/resolve", json={"reason": "action_taken"}, headers=h(tk["analyst"])
    )
    assert r.status_code == 200 and r.json()["properties"]["status"] == "resolved"
    again = client.post(
        f"/api/v1/alerts/{aid}/resolve", json={"reason": "other"}, headers=h(tk["admin"])
    )
    assert again.status_code == 409
    assert client.post("/api/v1/alerts/999999/ack", headers=h(tk["admin"])).status_code == 404
    audit = session.execute(
        text("SELECT action, user_name FROM audit_log WHERE resource = :r ORDER BY id"),
        {"r": f"alerts/{aid}"},
    ).all()
    assert [tuple(a) for a in audit] == [
        ("ack", "alerts-coordinator"),
        ("resolve", "alerts-analyst"),
    ]
    got = client.get(f"/api/v1/alerts/{aid}", headers=h(tk["coordinator"])).json()
    assert got["properties"]["status"] == "resolved"
    assert client.get(f"/api/v1/alerts/{aid}", headers=h(tk["viewer"])).status_code == 403


def test_rules_edit_validates_and_applies(
    client: TestClient, seeded: dict[str, Any], session: Session
) -> None:
    tk = seeded["tokens"]
    assert client.get("/api/v1/alert-rules", headers=h(tk["coordinator"])).status_code == 403
    rules = client.get("/api/v1/alert-rules", headers=h(tk["analyst"])).json()["rules"]
    assert {r["kind"] for r in rules} >= {"incident_near_workplace", "permit_expiring"}
    bad = client.patch(
        "/api/v1/alert-rules/incident_near_workplace",
        json={"parameters": {"radius_m": -1}},
        headers=h(tk["analyst"]),
    )
    assert bad.status_code == 422
    assert "parameters.radius_m" in bad.json()["detail"]
    assert bad.json()["field"] == "parameters.radius_m"
    ok = client.patch(
        "/api/v1/alert-rules/incident_near_workplace",
        json={"parameters": {"radius_m": 100}, "severity": 5},
        headers=h(tk["admin"]),
    )
    assert ok.status_code == 200
    assert ok.json()["parameters"]["radius_m"] == 100
    # The new radius applies: an incident 250 m away no longer fires.
    iid = add_incident(session, *offset(session, *INLAND, 0, 250))
    assert evaluate_for(session=session, layer="incidents", ids=[iid]).opened == []
    missing = client.patch("/api/v1/alert-rules/nope", json={}, headers=h(tk["admin"]))
    assert missing.status_code == 404


def test_webhooks_admin_only_and_secret_shown_once(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    tk = seeded["tokens"]
    body = {"url": "https://93.184.216.34/hook"}
    assert (
        client.post("/api/v1/webhooks", json=body, headers=h(tk["coordinator"])).status_code == 403
    )
    # Loopback, private and link-local receivers are refused unless an administrator allows them.
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://[::1]/"):
        refused = client.post("/api/v1/webhooks", json={"url": url}, headers=h(tk["admin"]))
        assert refused.status_code == 422 and refused.json()["field"] == "url", url
        assert "TIMPORA_WEBHOOK_ALLOW_PRIVATE" in refused.json()["detail"]
    r = client.post("/api/v1/webhooks", json=body, headers=h(tk["admin"]))
    assert r.status_code == 201 and len(r.json()["secret"]) >= 16
    listed = client.get("/api/v1/webhooks", headers=h(tk["admin"])).json()["webhooks"]
    assert [w["url"] for w in listed] == [body["url"]] and "secret" not in listed[0]
    bad = client.post("/api/v1/webhooks", json={"url": "ftp://x"}, headers=h(tk["admin"]))
    assert bad.status_code == 422
    wid = r.json()["id"]
    assert client.delete(f"/api/v1/webhooks/{wid}", headers=h(tk["admin"])).status_code == 204
    assert client.delete(f"/api/v1/webhooks/{wid}", headers=h(tk["admin"])).status_code == 404


@pytest.fixture
def server(settings: Settings, database: Database) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(settings, database)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (srv.started and app.state.alert_hub.listening.is_set()):
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        srv.should_exit = True
        thread.join(10)


def test_stream_delivers_a_new_alert_within_one_second_of_commit(
    committed: Engine, server: tuple[str, FastAPI]
) -> None:
    base, _app = server
    with Session(committed) as s:
        _, coordinator = create_user(session=s, name="stream-coord", role="coordinator")
        _, viewer = create_user(session=s, name="stream-viewer", role="viewer")
        fid = add_foreigner(s, name="Budi Contoh")
        near = point_at_border_distance(s, 900)
        s.commit()
    received: dict[str, list[tuple[float, dict[str, Any]]]] = {"coordinator": []}
    ready = threading.Barrier(2)

    def listen(role: str, token: str) -> None:
        with (
            httpx.Client(timeout=10) as c,
            c.stream("GET", f"{base}/api/v1/alerts/stream", params={"access_token": token}) as r,
        ):
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.wait(10)
                elif line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "alert":
                    received[role].append((time.monotonic(), orjson.loads(line[5:])))
                    return

    # The stream carries persons' alerts: a viewer is refused before it opens.
    refused = httpx.get(f"{base}/api/v1/alerts/stream", params={"access_token": viewer}, timeout=10)
    assert refused.status_code == 403
    threads = [threading.Thread(target=listen, args=("coordinator", coordinator), daemon=True)]
    for t in threads:
        t.start()
    ready.wait(10)
    with Session(committed) as s:
        sid = add_sighting(s, *near, T0, fid)
        (alert_id,) = evaluate_for(session=s, layer="sightings", ids=[sid]).opened
        s.commit()
        committed_at = time.monotonic()
    for t in threads:
        t.join(5)
    for role in ("coordinator",):
        assert len(received[role]) == 1, role
        at, feature = received[role][0]
        assert at - committed_at < 1.0
        assert feature["type"] == "Feature" and feature["id"] == alert_id
        assert feature["properties"]["rule"] == "sighting_near_border"
    assert received["coordinator"][0][1]["properties"]["subject_names"] == {
        "foreigner": "Budi Contoh"
    }


def _stream_events(base: str, token: str, until: str, events: list[str]) -> None:
    """Read the stream, recording event names, until ``until`` arrives or the stream ends."""
    with (
        httpx.Client(timeout=15) as c,
        c.stream("GET", f"{base}/api/v1/alerts/stream", params={"access_token": token}) as r,
    ):
        events.append(f"status {r.status_code}")
        for line in r.iter_lines():
            if line.startswith(": connected"):
                events.append("connected")
            elif line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
                if events[-1] == until:
                    return
        events.append("closed")


def test_stream_sends_are_audited_for_roles_that_see_names(
    committed: Engine, server: tuple[str, FastAPI]
) -> None:
    base, _app = server
    with Session(committed) as s:
        _, coordinator = create_user(session=s, name="audit-coord", role="coordinator")
        _, viewer = create_user(session=s, name="audit-viewer", role="viewer")
        fid = add_foreigner(s, name="Siti Contoh")
        near = point_at_border_distance(s, 900)
        s.commit()
    seen: dict[str, list[str]] = {"coordinator": []}
    # A viewer never gets the stream (it carries persons' alerts): refused before it opens.
    refused: list[str] = []
    _stream_events(base, viewer, "alert", refused)
    assert refused[0] == "status 403", refused
    threads = [
        threading.Thread(target=_stream_events, args=(base, tk, "alert", seen[role]), daemon=True)
        for role, tk in (("coordinator", coordinator),)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not all("connected" in v for v in seen.values()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with Session(committed) as s:
        sid = add_sighting(s, *near, T0, fid)
        evaluate_for(session=s, layer="sightings", ids=[sid])
        s.commit()
    for t in threads:
        t.join(10)
    assert seen["coordinator"][-1] == "alert"
    with committed.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT user_name, action, record_count, client FROM audit_log "
                "WHERE resource = 'alerts/stream' ORDER BY id"
            )
        ).all()
    # Names went to the coordinator: one row for them.
    assert [(r.user_name, r.action, r.record_count) for r in rows] == [("audit-coord", "read", 1)]
    assert rows[0].client == "127.0.0.1"


@pytest.mark.parametrize("change", ["revoke", "rotate", "role"])
def test_revoking_a_token_ends_its_open_stream(
    committed: Engine,
    server: tuple[str, FastAPI],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    from api import sse
    from geo.users import revoke_user, rotate_token

    monkeypatch.setattr(sse, "REVALIDATE_S", 0.2)
    base, _app = server
    with Session(committed) as s:
        _, token = create_user(session=s, name="stream-revoked", role="coordinator")
        s.commit()
    events: list[str] = []
    thread = threading.Thread(
        target=_stream_events, args=(base, token, "revoked", events), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while "connected" not in events:
        assert time.monotonic() < deadline and thread.is_alive(), events
        time.sleep(0.02)
    time.sleep(0.5)
    assert thread.is_alive()  # a valid token keeps its stream open
    with Session(committed) as s:
        if change == "revoke":
            revoke_user(session=s, name="stream-revoked")
        elif change == "rotate":
            rotate_token(session=s, name="stream-revoked")
        else:
            s.execute(text("UPDATE app_user SET role = 'viewer' WHERE name = 'stream-revoked'"))
        s.commit()
        changed_at = time.monotonic()
    thread.join(5)
    assert not thread.is_alive() and events[-1] == "revoked", events
    assert time.monotonic() - changed_at < 3


def test_query_token_only_on_the_stream(client: TestClient, session: Session) -> None:
    tk = tokens(session)
    refused = client.get("/api/v1/alerts", params={"access_token": tk["admin"]})
    assert refused.status_code == 401
    assert client.get("/api/v1/alerts", headers=h(tk["admin"])).status_code == 200
