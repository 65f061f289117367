"""End to end in headless Chromium: sign in on the dashboard, show every view, stay offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page
from tests.maps.seed import FAKE_NAME, seed_map_data

# What each view must have drawn inside the map frame (CSS selector, minimum count).
DRAWN = {
    "overview": [("path.leaflet-interactive", 19), (".tpm-legend", 1)],
    "heatmap": [("canvas.leaflet-heatmap-layer", 1), (".tpm-legend", 1)],
    "hexbins": [("path.leaflet-interactive", 5), (".tpm-legend", 1)],
    "timeline": [(".tpm-timeline input[type=range]", 1), ("path.leaflet-interactive", 19)],
}


@pytest.mark.browser
def test_dashboard_and_views_offline(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with committed.begin() as conn:
        seed_map_data(conn)
    with Session(committed) as session:
        _user, token = create_user(session=session, name="browser-coordinator", role="coordinator")
        session.commit()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser, http_errors=True)

            page.goto(live_server + "/")
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            assert not page.is_visible("#signin")
            # the alert panel is either fed by the alerts service or says it is unavailable
            page.wait_for_selector("#alerts[data-state]")
            assert page.get_attribute("#alerts", "data-state") in {"ready", "unavailable"}
            assert page.inner_text("#alert-state").strip()
            assert page.evaluate("sessionStorage.getItem('timpora.token')") == token

            views = page.eval_on_selector_all("#f-view option", "os => os.map(o => o.value)")
            assert set(DRAWN) <= set(views)
            for view in views:
                # views registered by other features (hotspots, patrol): Leaflet drew a map
                checks = DRAWN.get(view, [(".leaflet-container", 1)])
                page.select_option("#f-view", view)
                page.click("#filters button[type=submit]")
                page.wait_for_selector(f"#map[data-view={view}]")
                frame = page.frame_locator("#map")
                frame.locator(".leaflet-container").wait_for()
                for selector, minimum in checks:
                    frame.locator(selector).first.wait_for(state="attached")
                    count = frame.locator(selector).count()
                    assert count >= minimum, (view, selector, count)
                text = frame.locator("body").inner_text()
                assert FAKE_NAME not in text
                page.wait_for_timeout(300)
                page.screenshot(path=str(artifacts_dir / f"dashboard_{view}.png"))

            # English and a filter reach the map
            page.select_option("#f-view", "heatmap")
            page.select_option("#f-kind", "smuggling")
            page.select_option("#f-lang", "en")
            page.wait_for_selector("#map[data-view=heatmap]")
            frame = page.frame_locator("#map")
            frame.locator(".tpm-legend").wait_for()
            page.wait_for_function(
                "() => document.getElementById('map').srcdoc.includes('Count per 500 m cell')"
            )
            assert "Total: 5" in frame.locator(".tpm-legend").inner_text()
            page.screenshot(path=str(artifacts_dir / "dashboard_heatmap_en.png"))
        finally:
            browser.close()

    assert watched.foreign(live_server) == []
    assert any(u.endswith("/static/vendor/leaflet.js") for u in watched.requests)
    assert watched.errors == []
