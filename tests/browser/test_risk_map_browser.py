"""In headless Chromium: the ``risk`` view draws the ranking as graduated symbols with a map
key, a saved inspection plan's route and numbered stops whose popups give reasons and agencies,
the suppressed class for a viewer, and nothing from outside the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from geo import inspection_plan
from geo.users import Principal, create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page
from tests.geo.test_risk import AS_OF, SITES, build_sites


@pytest.mark.browser
def test_risk_view_with_a_plan(committed: Engine, live_server: str, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with Session(committed) as session:
        build_sites(session)
        request = inspection_plan.parse_request(
            session=session,
            start_lon=SITES["hidden"][0],
            start_lat=SITES["hidden"][1] - 0.0001,
            date=AS_OF,
            max_route_km=30,
        )
        plan = inspection_plan.make_plan(
            session=session, request=request, principal=Principal(name="plan", role="admin")
        )
        _, viewer = create_user(session=session, name="risk-map-viewer", role="viewer")
        session.commit()
    stops = [f for f in plan["features"] if f["properties"]["kind"] == "stop"]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for lang in ("id", "en"):
                page, watched = open_page(browser, http_errors=True)
                page.set_extra_http_headers({"Authorization": f"Bearer {viewer}"})
                page.goto(f"{live_server}/maps/risk?lang={lang}&as_of={AS_OF}&plan={plan['id']}")
                page.locator(".leaflet-container").wait_for()
                legend = page.locator(".tpm-legend")
                expect(legend).to_contain_text("Peringkat 1–10" if lang == "id" else "Ranks 1–10")
                expect(legend).to_contain_text("<3")  # the suppressed class, for a viewer
                expect(page.locator(".tpm-plan-stop")).to_have_count(len(stops))
                expect(page.locator(".tpm-key")).to_be_visible()
                page.locator(".tpm-plan-stop").first.click()
                popup = page.locator(".leaflet-popup-content")
                expect(popup).to_contain_text("Instansi" if lang == "id" else "Agencies")
                expect(popup).to_contain_text("IMIGRASI")
                content = page.content()
                for person in ("Hidden Worker", "Quota Worker", "Expired Worker", "Own Worker"):
                    assert person not in content
                page.wait_for_timeout(300)
                page.screenshot(path=str(artifacts_dir / f"map_risk_plan_{lang}.png"))
                assert watched.foreign(live_server) == []
                assert watched.errors == []
                page.close()
        finally:
            browser.close()
