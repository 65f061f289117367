"""Widening a restricted report from the dashboard, in headless Chromium: the reporting agency's
user sees its reports shared with fewer than the whole Timpora, and widens one to one more agency
and another to the whole Timpora; both languages; the stored sharing follows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page


def report(server: str, token: str, **sharing: Any) -> int:
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.31, 1.37]},
        "properties": {"kind": "other", "severity": 2, "occurred_at": "2026-11-03T10:00:00"}
        | sharing,
    }
    r = httpx.post(
        f"{server}/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def sharing_of(engine: Engine, incident_id: int) -> tuple[str, list[str]]:
    with engine.connect() as conn:
        level, names = conn.execute(
            text(
                "SELECT i.sharing, ARRAY(SELECT a.short_name FROM agency a "
                "WHERE a.id = ANY(i.shared_with) ORDER BY 1) FROM incident i WHERE i.id = :id"
            ),
            {"id": incident_id},
        ).one()
    return str(level), list(names)


@pytest.mark.browser
def test_reporting_agency_widens_its_restricted_reports(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with Session(committed) as session:
        _, token = create_user(
            session=session, name="widen-kejari", role="analyst", agency="KEJARI"
        )
        _, viewer = create_user(session=session, name="widen-viewer", role="viewer")
        session.commit()
    to_kodim = report(live_server, token, sharing="agencies", shared_with=["KODIM"])
    ours = report(live_server, token, sharing="agency")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser)
            page.goto(live_server + "/")
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#jobs-sharing")).to_be_visible()
            page.click("#jobs-sharing summary")
            first = page.locator(f'#sh-list tr[data-record="incidents:{to_kodim}"]')
            second = page.locator(f'#sh-list tr[data-record="incidents:{ours}"]')
            expect(first).to_contain_text("KEJARI, KODIM")
            expect(second).to_contain_text("hanya KEJARI")
            # The choices reach only agencies the record does not reach yet.
            offered = second.locator("select option")
            values = [offered.nth(i).get_attribute("value") for i in range(offered.count())]
            assert "KODIM" in values and "KEJARI" not in values and values[-1] == ""
            assert "KODIM" not in [
                first.locator("select option").nth(i).get_attribute("value")
                for i in range(first.locator("select option").count())
            ]
            page.screenshot(path=str(artifacts_dir / "dashboard_widen_id.png"), full_page=True)

            second.locator("select").select_option("KODIM")
            second.locator("button").click()
            expect(page.locator("#sh-status")).to_have_text(f"Diperluas: Kejadian #{ours}")
            expect(second).to_contain_text("KEJARI, KODIM")

            first.locator("select").select_option("")  # the whole Timpora
            first.locator("button").click()
            expect(page.locator("#sh-status")).to_have_text(f"Diperluas: Kejadian #{to_kodim}")
            expect(first).to_have_count(0)  # no longer restricted: off the list

            page.select_option("#f-lang", "en")
            expect(page.locator("#jobs-sharing summary")).to_contain_text(
                "Our agency's restricted reports"
            )
            expect(second.locator("button")).to_have_text("Widen")
            page.screenshot(path=str(artifacts_dir / "dashboard_widen_en.png"), full_page=True)

            # A viewer reported nothing and may change nothing: no panel.
            page.click("#sign-out")
            page.fill("#token", viewer)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#jobs:not([hidden])")
            expect(page.locator("#jobs-sharing")).to_be_hidden()
        finally:
            browser.close()
    assert watched.errors == [], watched.errors
    assert sharing_of(committed, to_kodim) == ("timpora", [])
    assert sharing_of(committed, ours) == ("agencies", ["KODIM"])
