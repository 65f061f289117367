"""The dashboard's follow-up panel in headless Chromium: the overdue action first, a planner's
status change on its own agency's action (and no form on another agency's), both languages,
the contributions table, and titles shown as text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from geo.followup import actions, values
from geo.users import create_user, operator_principal
from tests.browser.chromium import ARGS, CHROMIUM, open_page

HOSTILE = '<img src=x onerror="document.title=1">Periksa & laporkan'
NOTE = "Sudah dilaksanakan <b>di Sambas</b>"


def _day(offset: int) -> dt.date:
    return values.today_wib() + dt.timedelta(days=offset)


@pytest.mark.browser
def test_overdue_action_first_and_a_planners_change(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with Session(committed) as session:
        _, token = create_user(session=session, name="fu-planner", role="planner", agency="POLRES")
        _, coordinator = create_user(
            session=session, name="fu-coordinator", role="coordinator", agency="IMIGRASI"
        )
        admin = operator_principal()
        ids = {}
        for key, title, agency, due in (
            ("later", "Sosialisasi izin tinggal", "POLRES", 6),
            ("late", "Razia jalan tikus Sajingan", "KODIM", -3),
            ("soon", HOSTILE, "POLRES", 1),
        ):
            checked = values.parse_action_in(session, title=title, agency=agency, due_on=_day(due))
            ids[key] = actions.insert_action(session=session, principal=admin, action=checked)
        session.commit()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser, http_errors=True)
            metas: list[str] = []
            page.on(
                "request", lambda r: metas.append(r.url) if "/dashboard/meta" in r.url else None
            )
            page.goto(live_server + "/")
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#followup:not([hidden])")
            page.click("#fu-panel summary")
            rows = page.locator("#fu-list tbody tr")
            expect(rows).to_have_count(3)
            # The panels start from the dashboard's sign-in: the meta is fetched once.
            assert len(metas) == 1, metas
            first = rows.nth(0)
            expect(first).to_have_attribute("data-action", str(ids["late"]))
            expect(first).to_have_class("overdue")
            expect(first.locator(".flag")).to_have_text("lewat tenggat")
            expect(rows.nth(1)).to_have_attribute("data-action", str(ids["soon"]))
            expect(rows.nth(2)).to_have_attribute("data-action", str(ids["later"]))
            expect(page.locator("#fu-count")).to_have_text("1 lewat tenggat")
            # A title is text, never markup.
            expect(rows.nth(1).locator("td").nth(2)).to_have_text(HOSTILE)
            expect(rows.nth(1).locator("img")).to_have_count(0)
            # The planner may change its own agency's (POLRES) actions, not KODIM's.
            expect(first.locator("form")).to_have_count(0)
            expect(rows.nth(2).locator("form")).to_have_count(1)
            contributions = page.locator("#fu-contrib tbody tr[data-agency=POLRES] td")
            expect(contributions.nth(3)).to_have_text("0")
            page.screenshot(path=str(artifacts_dir / "dashboard_followup_id.png"))

            form = rows.nth(2).locator("form")
            form.locator("select").nth(0).select_option("done")
            form.locator("select").nth(1).select_option("completed")
            form.locator("input").fill(NOTE)
            form.locator("button[type=submit]").click()
            expect(rows).to_have_count(2)
            expect(page.locator("#fu-state")).to_contain_text("Sosialisasi izin tinggal")
            page.click("#fu-period button[type=submit]")
            expect(contributions.nth(3)).to_have_text("1")

            page.select_option("#f-lang", "en")
            expect(page.locator("#fu-panel summary span").first).to_have_text("Follow-up actions")
            expect(rows.nth(0).locator(".flag")).to_have_text("overdue")
            expect(rows.nth(0).locator("td.status")).to_have_text("open")
            total = page.locator("#fu-contrib tbody tr.total td")
            expect(total.nth(0)).to_have_text("Total")
            expect(total.nth(3)).to_have_text("1")
            page.select_option("#fu-status", "done")
            expect(rows).to_have_count(1)
            expect(rows.nth(0).locator("td.status")).to_have_text("done (completed)")
            page.select_option("#fu-status", "")
            expect(rows).to_have_count(2)
            page.screenshot(path=str(artifacts_dir / "dashboard_followup_en.png"))
            # No history for a planner (notes are free text); none of the rows offers one.
            expect(page.locator("#fu-list .history-toggle")).to_have_count(0)

            # A coordinator reads the closed action's history: the planner's change and note,
            # as text.
            page.click("#sign-out")
            page.fill("#token", coordinator)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#followup:not([hidden])")
            page.click("#fu-panel summary")
            page.select_option("#fu-status", "done")
            done = page.locator("#fu-list tbody tr")
            expect(done).to_have_count(1)
            done.nth(0).locator(".history-toggle").click()
            entry = done.nth(0).locator("ul.history li")
            expect(entry).to_have_count(1)
            expect(entry).to_contain_text("fu-planner (POLRES) · open → done (completed): " + NOTE)
            expect(done.nth(0).locator("ul.history b")).to_have_count(0)
            expect(done.nth(0).locator("form")).to_have_count(1)  # a coordinator may change any
            page.screenshot(path=str(artifacts_dir / "dashboard_followup_history.png"))
        finally:
            browser.close()
    assert watched.errors == []
    assert watched.foreign(live_server) == []
