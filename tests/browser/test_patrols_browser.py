"""In headless Chromium: the dashboard's patrol panel shows a team's last position live, replays
the day's track, and the patrol view marks the day's stops visited or missed; a viewer sees no
trace of it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from geo.field import devices, tracks
from geo.field.osmand import Position
from geo.patrol import log_patrol
from geo.times import WIB
from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page

ARUK = (109.6467, 1.4133)


@pytest.mark.browser
def test_patrol_panel_live_position_replay_and_visited_stops(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Tim Utara walked 2 km east from PLBN Aruk over the last two hours, a fix a minute.
    started = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
    day = started.astimezone(WIB).date().isoformat()
    with Session(committed) as session:
        _, planner = create_user(session=session, name="browser-planner", role="planner")
        _, viewer = create_user(session=session, name="browser-viewer", role="viewer")
        devices.register_device(
            session=session, name="HP Utara 1", team="Tim Utara", kind="traccar", identifier="u1"
        )
        devices.register_device(
            session=session,
            name="HP <b>Selatan</b>",
            team="Tim <i>Selatan</i>",
            kind="traccar",
            identifier="s1",
        )
        tracks.record_positions(
            session=session,
            positions=[
                Position("u1", started + dt.timedelta(minutes=i), ARUK[0] + 0.001 * i, ARUK[1], 5.0)
                for i in range(20)
            ],
            margin_m=10_000.0,
        )
        # The day's logged patrols: one on the walk, one 3 km north that nobody reached.
        for lat in (ARUK[1] + 0.001, ARUK[1] + 0.027):
            log_patrol(
                session=session,
                lon=ARUK[0] + 0.01,
                lat=lat,
                patrolled_at=started,
                team="Tim Utara",
                radius_m=500.0,
            )
        session.commit()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # A viewer: no panel, no toggle, no request for positions or tracks.
            page, watched = open_page(browser, http_errors=True)
            page.goto(live_server + "/")
            page.fill("#token", viewer)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            expect(page.locator("#map")).to_have_attribute("data-view", re.compile(".+"))
            expect(page.locator("#patrol-toggle")).to_be_hidden()
            expect(page.locator("#patrols")).to_be_hidden()
            assert not [u for u in watched.requests if "/api/v1/patrols" in u]
            page.close()

            page, watched = open_page(browser, http_errors=True)
            page.goto(live_server + "/")
            page.fill("#token", planner)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            page.click("#patrol-toggle")
            panel = page.locator("#patrols")
            expect(panel).to_be_visible()
            expect(panel).to_have_attribute("data-live", "ready")
            expect(panel).to_have_attribute("data-replay", "ready")
            expect(page.locator("#patrol-state")).to_contain_text("Posisi langsung tersambung")
            tips = page.locator("#patrol-map .patrol-tip")
            expect(tips.filter(has_text="Tim Utara")).to_have_count(1)
            expect(tips.filter(has_text="Tim Utara")).to_contain_text("HP Utara 1")

            # A position arrives from Tim Selatan's phone: it appears without a reload, its
            # markup-looking name shown as text.
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            sent = httpx.post(
                live_server + "/osmand",
                params={
                    "id": "s1",
                    "lat": str(ARUK[1] - 0.03),
                    "lon": str(ARUK[0] - 0.02),
                    "timestamp": str(int(now.timestamp())),
                    "accuracy": "6",
                },
                timeout=10,
            )
            assert sent.status_code == 200
            south = tips.filter(has_text="Tim <i>Selatan</i>")
            expect(south).to_have_count(1, timeout=10_000)
            expect(south).to_contain_text("HP <b>Selatan</b>")
            expect(page.locator("#patrol-map i, #patrol-map b")).to_have_count(0)
            expect(page.locator("#patrol-list li")).to_have_count(2)

            # Replay the day: play to the end, then scrub back to the walk's middle.
            page.fill("#patrol-day", day)
            page.dispatch_event("#patrol-day", "change")
            expect(panel).to_have_attribute("data-replay", "ready")
            page.click("#patrol-play")
            expect(page.locator("#patrol-play")).to_have_text("Jeda")
            expect(page.locator("#patrol-play")).to_have_text("Putar", timeout=30_000)
            # The day ends, for the replay, with Tim Selatan's position just sent.
            expect(panel).to_have_attribute("data-clock", str(int(now.timestamp())))
            middle = int(started.timestamp()) + 10 * 60
            page.fill("#patrol-time", str(middle))
            expect(panel).to_have_attribute("data-clock", str(middle))
            expect(page.locator("#patrol-clock")).to_have_text(
                (started + dt.timedelta(minutes=10)).astimezone(WIB).strftime("%H:%M WIB")
            )
            page.wait_for_timeout(300)
            page.screenshot(path=str(artifacts_dir / "dashboard_patrols_replay.png"))

            # The day's plan against the tracks, in the map frame.
            page.click("#patrol-compare")
            expect(page.locator("#map")).to_have_attribute("data-view", "patrol-day")
            frame = page.frame_locator("#map")
            box = frame.locator(".tpm-visits-box")
            expect(box).to_contain_text("1 dari 2 titik dikunjungi")
            expect(box.locator("li.visited")).to_have_count(1)
            expect(box.locator("li.missed")).to_have_count(1)
            expect(frame.locator("path.tpm-stop-visited")).to_have_count(1)
            expect(frame.locator("path.tpm-stop-missed")).to_have_count(1)
            expect(frame.locator("path.tpm-track").first).to_be_attached()
            page.wait_for_timeout(300)
            page.screenshot(path=str(artifacts_dir / "dashboard_patrols_compare.png"))
        finally:
            browser.close()

    assert watched.foreign(live_server) == []
    assert watched.errors == []
