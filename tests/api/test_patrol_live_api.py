"""The patrol panel's data over HTTP: live positions on the stream, a day's replay, the patrol
view's visited and missed stops, the briefing's coverage page — for roles that manage patrols
only."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
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
from geo.db import Database
from geo.field import devices, tracks
from geo.field.batcher import PositionBatcher
from geo.field.osmand import Position
from geo.settings import Settings
from geo.times import WIB
from geo.users import create_user
from tests.api.helpers import ARUK, auth, make_tokens

TODAY = dt.datetime.now(WIB).replace(hour=9, minute=0, second=0, microsecond=0)


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
    while not (srv.started and app.state.position_hub.listening.is_set()):
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        srv.should_exit = True
        thread.join(10)


def test_a_teams_position_reaches_a_planners_stream_and_never_a_viewers(
    committed: Engine, server: tuple[str, FastAPI]
) -> None:
    base, _app = server
    with Session(committed) as s:
        _, planner = create_user(session=s, name="live-planner", role="planner")
        _, viewer = create_user(session=s, name="live-viewer", role="viewer")
        _, coordinator = create_user(session=s, name="live-coord", role="coordinator")
        devices.register_device(
            session=s, name="HP Live", team="Tim Live", kind="traccar", identifier="hp-live"
        )
        s.commit()
    # Officers' movements: roles that do not manage patrols are refused before a stream opens,
    # and the dashboard is told not to show the panel at all.
    for token in (viewer, coordinator):
        refused = httpx.get(
            f"{base}/api/v1/patrols/positions/stream", params={"access_token": token}, timeout=10
        )
        assert refused.status_code == 403
        meta = httpx.get(f"{base}/dashboard/meta", headers=auth(token), timeout=10).json()
        assert meta["patrols"] == {"positions": False, "stream": False, "replay": False}
    meta = httpx.get(f"{base}/dashboard/meta", headers=auth(planner), timeout=10).json()
    assert meta["patrols"] == {"positions": True, "stream": True, "replay": True}

    received: list[tuple[float, dict[str, Any]]] = []
    ready = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(timeout=15) as c,
            c.stream(
                "GET", f"{base}/api/v1/patrols/positions/stream", params={"access_token": planner}
            ) as r,
        ):
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "position":
                    received.append((time.monotonic(), orjson.loads(line[5:])))
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sent = httpx.post(
        f"{base}/osmand",
        params={
            "id": "hp-live",
            "lat": str(ARUK[1]),
            "lon": str(ARUK[0]),
            "timestamp": str(int(at.timestamp())),
            "accuracy": "6",
        },
        timeout=10,
    )
    assert sent.status_code == 200
    answered = time.monotonic()
    thread.join(10)
    assert len(received) == 1
    arrived, feature = received[0]
    assert arrived - answered < 2.0
    assert feature["geometry"]["coordinates"] == [pytest.approx(ARUK[0]), pytest.approx(ARUK[1])]
    assert feature["properties"]["team"] == "Tim Live"
    assert feature["properties"]["device"] == "HP Live"
    assert feature["properties"]["recorded_at"] == at.isoformat()
    with Session(committed) as s:
        audited = s.execute(
            text(
                "SELECT user_name, count(*) FROM audit_log "
                "WHERE resource = 'patrols/positions/stream' GROUP BY user_name"
            )
        ).all()
    assert audited == [("live-planner", 1)]


# --- over the test's own transaction ------------------------------------------------------------


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="plive")


@pytest.fixture(autouse=True)
def batcher_in_test_transaction(app: FastAPI, session: Session) -> None:
    app.state.position_batcher = PositionBatcher(
        session_factory=lambda: nullcontext(session), margin_m=10_000.0
    )


@pytest.fixture
def walked(session: Session) -> dt.datetime:
    """Tim Jalan walks 1.1 km east from PLBN Aruk this morning (09:00 WIB), a fix a minute."""
    devices.register_device(
        session=session, name="HP Jalan", team="Tim Jalan", kind="traccar", identifier="hp-jalan"
    )
    start = TODAY.astimezone(dt.UTC)
    tracks.record_positions(
        session=session,
        positions=[
            Position(
                "hp-jalan",
                start + dt.timedelta(minutes=i),
                ARUK[0] + 0.001 * i,
                ARUK[1],
                accuracy_m=5.0,
            )
            for i in range(11)
        ],
        margin_m=10_000.0,
    )
    session.flush()
    return start


def test_replay_for_planners_one_day_at_most(
    client: TestClient, session: Session, tokens: dict[str, str], walked: dt.datetime
) -> None:
    day = TODAY.date().isoformat()
    r = client.get("/api/v1/patrols/replay", params={"day": day}, headers=auth(tokens["planner"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["day"] == day and body["end"] - body["start"] == 86_400
    (team,) = body["features"]
    assert team["properties"]["team"] == "Tim Jalan"
    assert len(team["properties"]["times"][0]) == 11  # one a minute; the default step is 30 s
    for role in ("viewer", "coordinator"):
        denied = client.get(
            "/api/v1/patrols/replay", params={"day": day}, headers=auth(tokens[role])
        )
        assert denied.status_code == 403
    # A day, not a range; a step the caps allow.
    bad_day = client.get(
        "/api/v1/patrols/replay",
        params={"day": f"{day}/2026-12-31"},
        headers=auth(tokens["planner"]),
    )
    assert bad_day.status_code == 422 and "day" in bad_day.text
    bad_step = client.get(
        "/api/v1/patrols/replay",
        params={"day": day, "step_s": 1},
        headers=auth(tokens["planner"]),
    )
    assert bad_step.status_code == 422 and "step_s" in bad_step.text
    # The tracks endpoint keeps its 31-day cap.
    too_long = client.get(
        "/api/v1/patrols/tracks",
        params={"start": "2026-01-01", "end": "2026-03-01"},
        headers=auth(tokens["planner"]),
    )
    assert too_long.status_code == 422
    audited = session.execute(
        text("SELECT count(*) FROM audit_log WHERE resource = 'patrols/replay'")
    ).scalar_one()
    assert audited == 1


def test_patrol_view_marks_logged_stops_visited_or_missed(
    client: TestClient, session: Session, tokens: dict[str, str], walked: dt.datetime
) -> None:
    # Two patrols logged for the day: one on the walk, one 2 km north of it.
    for lat, note in ((ARUK[1] + 0.001, "on"), (ARUK[1] + 0.02, "off")):
        r = client.post(
            "/api/v1/patrols/log",
            json={
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [ARUK[0] + 0.005, lat]},
                "properties": {
                    "patrolled_at": walked.isoformat(),
                    "team": "Tim Jalan",
                    "radius_m": 500,
                    "note": note,
                },
            },
            headers=auth(tokens["planner"]),
        )
        assert r.status_code == 201, r.text
    day = TODAY.date().isoformat()
    page = client.get(
        "/maps/patrol", params={"day": day, "lang": "en"}, headers=auth(tokens["planner"])
    )
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "Plan vs tracks, " + day in html
    assert "1 of 2 stops visited" in html
    assert "visited · by Tim Jalan" in html and "missed · closest" in html
    assert html.count("tpm-stop-visited") == 1 and html.count("tpm-stop-missed") == 1
    assert "tpm-track" in html and "Tim Jalan: 1.1 km" in html
    assert (
        session.execute(
            text("SELECT count(*) FROM audit_log WHERE resource = 'maps/patrol?day'")
        ).scalar_one()
        == 1
    )
    # Without a day the view is the plan alone, for every role; with one, only for planners.
    plain = client.get("/maps/patrol", headers=auth(tokens["viewer"]))
    assert plain.status_code == 200 and "Tim Jalan" not in plain.text
    denied = client.get("/maps/patrol", params={"day": day}, headers=auth(tokens["viewer"]))
    assert denied.status_code == 403


def test_briefing_coverage_page_for_planners_only(
    client: TestClient, tokens: dict[str, str], walked: dt.datetime
) -> None:
    from pypdf import PdfReader

    start = TODAY.date().isoformat()
    end = (TODAY.date() + dt.timedelta(days=1)).isoformat()
    params: dict[str, Any] = {"start": start, "end": end, "patrol_coverage": "true", "lang": "en"}
    r = client.get("/maps/briefing.pdf", params=params, headers=auth(tokens["planner"]))
    assert r.status_code == 200, r.text[:300]
    import io

    reader = PdfReader(io.BytesIO(r.content))
    coverage = reader.pages[5].extract_text()
    assert "Patrol coverage" in coverage and "Tim Jalan" in coverage
    assert "1.1" in coverage  # km walked
    assert "0.2" in coverage  # 10 minutes tracked, in hours
    denied = client.get("/maps/briefing.pdf", params=params, headers=auth(tokens["viewer"]))
    assert denied.status_code == 403
    # Without the option: the same pack one page shorter (seven pages, eight when a
    # coordination meeting is on record), for every role.
    plain = client.get(
        "/maps/briefing.pdf", params={"start": start, "end": end}, headers=auth(tokens["viewer"])
    )
    assert plain.status_code == 200
    assert len(PdfReader(io.BytesIO(plain.content)).pages) == len(reader.pages) - 1 >= 7
    too_long = client.get(
        "/maps/briefing.pdf",
        params={**params, "start": "2025-01-01"},
        headers=auth(tokens["planner"]),
    )
    assert too_long.status_code == 422
