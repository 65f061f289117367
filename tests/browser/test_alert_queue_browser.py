"""The dashboard's alert panel as a coordinator uses it, in headless Chromium: the queue in
priority order with the true open total, a click that flies the map to the alert and marks its
subjects, resolving with a reason, a selection assigned at once, the map's kecamatan filter
driving the queue, and the English switch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.api.queue_seed import TODAY, add_alert
from tests.browser.chromium import ARGS, CHROMIUM, open_page
from tests.maps.seed import seed_map_data


@pytest.mark.browser
def test_alert_queue_panel(committed: Engine, live_server: str, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with committed.begin() as conn:
        seed = seed_map_data(conn)
        incident, quiet_incident, wp = conn.execute(
            text(
                "SELECT (SELECT min(id) FROM incident WHERE kecamatan_code = :busy), "
                "(SELECT min(id) FROM incident WHERE kecamatan_code = :quiet), "
                "(SELECT min(id) FROM workplace)"
            ),
            {"busy": seed.busy_code, "quiet": seed.quiet_code},
        ).one()
        busy, quiet = seed.busy_point, seed.quiet_point
        ids = {
            "top": add_alert(conn, "b1", severity=5, point=busy, incident=incident),
            "repeats": add_alert(
                conn,
                "b2",
                severity=3,
                occurrences=4,
                last=TODAY.replace(hour=7),
                first=TODAY - dt.timedelta(days=6),
                kecamatan="Paloh",
                point=quiet,
                incident=quiet_incident,
            ),
            "once": add_alert(
                conn,
                "b3",
                severity=3,
                last=TODAY.replace(hour=9),
                kecamatan="Paloh",
                point=quiet,
                incident=quiet_incident,
            ),
            "low": add_alert(conn, "b4", severity=1, point=busy),
        }
        conn.execute(
            text("UPDATE alert SET workplace_id = :w WHERE id = :i"), {"w": wp, "i": ids["top"]}
        )
    with Session(committed) as session:
        _user, token = create_user(session=session, name="Koordinator Peta", role="coordinator")
        create_user(session=session, name="Analis Peta", role="analyst")
        _viewer, viewer_token = create_user(session=session, name="Pemirsa Peta", role="viewer")
        session.commit()
    order = [ids["top"], ids["repeats"], ids["once"], ids["low"]]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser, http_errors=True)
            page.goto(live_server + "/")
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#alerts")).to_have_attribute("data-state", "ready")
            items = page.locator("#alert-list li")
            expect(items).to_have_count(4)
            assert [int(items.nth(i).get_attribute("data-alert-id") or 0) for i in range(4)] == (
                order
            )
            expect(page.locator("#alert-count")).to_have_text("4")
            expect(page.locator("#alert-totals")).to_contain_text("Tingkat 3: 2")
            expect(items.nth(1)).to_contain_text("4 kali")
            frame = page.frame_locator("#map")
            frame.locator(".leaflet-container").wait_for()
            page.screenshot(path=str(artifacts_dir / "alert_queue_id.png"))

            # A click flies the map to the alert and marks it and its subjects.
            items.nth(0).click()
            expect(page.locator("#map")).to_have_attribute("data-focus", str(ids["top"]))
            expect(frame.locator("path.timpora-focus")).to_have_count(1)
            assert frame.locator("path.timpora-focus-subject").count() >= 2  # incident, workplace
            expect(frame.locator("body")).to_have_attribute("data-focus", str(ids["top"]))
            expect(page.locator("#alert-detail")).to_be_visible()
            page.wait_for_timeout(1200)  # the fly animation
            page.screenshot(path=str(artifacts_dir / "alert_queue_focus.png"))

            # Resolving needs a reason; with one, the alert leaves the queue and the total drops.
            page.click("#a-resolve")
            expect(page.locator("#action-state")).to_have_text("Pilih alasan penyelesaian.")
            page.select_option("#a-reason", "false_alarm")
            page.fill("#a-note", "Bukan WNA, salah input <b>patroli</b>")
            page.click("#a-resolve")
            expect(page.locator("#action-state")).to_have_attribute("data-done", "resolve")
            expect(items).to_have_count(3)
            expect(page.locator("#alert-count")).to_have_text("3")
            expect(page.locator("#detail-notes")).to_contain_text("<b>patroli</b>")  # as text
            expect(page.locator("#detail-notes b")).to_have_count(0)

            # A selection: both Paloh alerts assigned at once.
            page.locator(f'#alert-list li[data-alert-id="{ids["repeats"]}"] input.pick').check()
            page.locator(f'#alert-list li[data-alert-id="{ids["once"]}"] input.pick').check()
            expect(page.locator("#sel-count")).to_have_text("2 dipilih")
            page.select_option("#a-user", "Analis Peta")
            page.click("#a-assign")
            expect(page.locator("#action-state")).to_have_attribute("data-done", "assign")
            expect(
                page.locator("#alert-list li", has_text="ditugaskan ke Analis Peta")
            ).to_have_count(2)

            # The map's kecamatan filter drives the queue.
            page.select_option("#f-kecamatan", seed.quiet_code)
            page.click("#filters button[type=submit]")
            expect(items).to_have_count(2)
            expect(page.locator("#alert-count")).to_have_text("2")

            # English.
            page.select_option("#f-lang", "en")
            expect(page.locator("#alerts h2")).to_contain_text("Alert queue")
            expect(items.nth(0)).to_contain_text("4 times")
            expect(items.nth(0)).to_contain_text("assigned to Analis Peta")
            expect(page.locator("#q-status")).to_contain_text("Open")
            items.nth(0).click()
            expect(page.locator("#map")).to_have_attribute("data-focus", str(ids["repeats"]))
            expect(page.locator("#detail-notes")).to_contain_text("assigned")
            expect(frame.locator("path.timpora-focus")).to_have_count(1)
            expect(frame.locator("path.timpora-focus-subject")).to_have_count(1)  # its incident
            page.wait_for_timeout(1200)
            page.screenshot(path=str(artifacts_dir / "alert_queue_en.png"))

            # A viewer sees the queue as counts, rule, severity and area: nothing to click or
            # select, no assignee.
            viewer, viewer_watched = open_page(browser, http_errors=True)
            viewer.goto(live_server + "/")
            viewer.fill("#token", viewer_token)
            viewer.click("#signin-form button[type=submit]")
            expect(viewer.locator("#alerts")).to_have_attribute("data-state", "ready")
            expect(viewer.locator("#alert-list li")).to_have_count(3)
            expect(viewer.locator("#alert-count")).to_have_text("3")
            expect(viewer.locator("#alert-list input.pick")).to_have_count(0)
            expect(viewer.locator("#q-assignee-label")).to_be_hidden()
            expect(viewer.locator("#alert-list")).not_to_contain_text("Analis Peta")
            viewer.locator("#alert-list li").first.click()
            expect(viewer.locator("#alert-actions")).to_be_hidden()
            expect(viewer.locator("#alert-detail")).to_be_hidden()
            viewer.screenshot(path=str(artifacts_dir / "alert_queue_viewer.png"))
        finally:
            browser.close()

    assert watched.foreign(live_server) == [] and viewer_watched.foreign(live_server) == []
    assert watched.errors == [] and viewer_watched.errors == []
    with committed.connect() as conn:
        status, reason = conn.execute(
            text("SELECT status, closed_reason FROM alert WHERE id = :i"), {"i": ids["top"]}
        ).one()
        notes = conn.execute(
            text("SELECT action, body FROM alert_note WHERE alert_id = :i ORDER BY id"),
            {"i": ids["top"]},
        ).all()
        audit = conn.execute(
            text("SELECT action, user_name FROM audit_log WHERE resource = :r"),
            {"r": f"alerts/{ids['top']}"},
        ).all()
    assert (status, reason) == ("resolved", "false_alarm")
    assert [tuple(n) for n in notes] == [
        ("resolve", "false_alarm"),
        ("note", "Bukan WNA, salah input <b>patroli</b>"),
    ]
    assert [tuple(a) for a in audit] == [("resolve", "Koordinator Peta")]
