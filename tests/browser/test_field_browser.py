"""The offline field form in headless Chromium: record with no signal, reload offline, send once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.field.devices import register_device
from tests.browser.test_dashboard_browser import ARGS, CHROMIUM

SAMBAS_TOWN = {"longitude": 109.3021, "latitude": 1.3549, "accuracy": 12}
SINGAPORE = {"longitude": 103.85, "latitude": 1.29, "accuracy": 12}


@pytest.mark.browser
def test_field_form_records_offline_and_sends_each_entry_once(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with Session(committed) as session:
        _device, token = register_device(session=session, name="HP Form", team="Tim A", kind="form")
        session.commit()
    assert token

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 412, "height": 915},  # a phone
                geolocation=SAMBAS_TOWN,
                permissions=["geolocation"],
                locale="id-ID",
            )
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(live_server + "/field/")
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            expect(page.locator("#who")).to_contain_text("HP Form")
            page.wait_for_selector("#map path", state="attached")  # the regency's outline
            # The service worker has the shell and the outline before the signal goes.
            # (page.evaluate runs outside the page's CSP; wait_for_function would need eval)
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            cached = "Promise.all(['/field/', '/field/api/context'].map(u => caches.match(u)))"
            for _ in range(100):
                if all(page.evaluate(f"{cached}.then(hits => hits.map(Boolean))")):
                    break
                page.wait_for_timeout(100)
            else:
                raise AssertionError("the service worker did not cache the shell")

            context.set_offline(True)
            page.wait_for_selector("#net[data-state=offline]")
            for n in range(3):
                page.click("#locate")
                expect(page.locator("#position")).not_to_be_empty()
                page.fill("#note", f"catatan luring {n}")
                page.click("#save")
                expect(page.locator("#outbox li")).to_have_count(n + 1)
            expect(page.locator("#outbox li[data-status=pending]")).to_have_count(3)

            page.reload()  # no signal: the service worker serves the shell
            page.wait_for_selector("#app:not([hidden])")
            page.wait_for_selector("#map path", state="attached")
            expect(page.locator("#outbox li[data-status=pending]")).to_have_count(3)
            page.screenshot(path=str(artifacts_dir / "field_form_offline.png"), full_page=True)

            context.set_offline(False)
            expect(page.locator("#outbox li[data-status=accepted]")).to_have_count(
                3, timeout=20_000
            )

            # A report the server refuses shows why.
            context.set_geolocation(SINGAPORE)
            page.click("#locate")
            expect(page.locator("#position")).to_contain_text("103.85")
            page.click("#save")
            page.wait_for_selector("#outbox li[data-status=refused] .reason")
            reason = page.inner_text("#outbox li[data-status=refused] .reason")
            assert "outside Kabupaten Sambas" in reason
            page.click("#lang")
            assert page.inner_text("h1") == "Field report"
            expect(page.locator("#who")).to_contain_text("Device: HP Form")
            page.screenshot(path=str(artifacts_dir / "field_form_sent_en.png"), full_page=True)
        finally:
            browser.close()

    with committed.connect() as conn:
        notes = (
            conn.execute(
                text("SELECT note FROM sighting WHERE external_ref LIKE 'field:%' ORDER BY note")
            )
            .scalars()
            .all()
        )
    assert notes == ["catatan luring 0", "catatan luring 1", "catatan luring 2"]
    assert errors == [], errors
