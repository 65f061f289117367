"""In headless Chromium: on the dashboard's workplace risk view, the "Map PNG" and "Map PDF"
buttons print the risk view (``layer=risk`` with the view's kecamatan and language), not a heat
map, and the files hold no person; they print the map on screen, not a view or filter chosen and
not yet applied."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page
from tests.geo.test_risk import build_sites
from tests.maps.briefing_seed import pdf_text


@pytest.mark.browser
def test_snapshot_buttons_print_the_risk_view(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with Session(committed) as session:
        ids = build_sites(session)["ids"]
        kecamatan = session.execute(
            text("SELECT kecamatan_code FROM workplace WHERE id = :id"), {"id": ids["quota"]}
        ).scalar_one()
        _, viewer = create_user(session=session, name="risk-snap-viewer", role="viewer")
        session.commit()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser, http_errors=True)
            page.goto(live_server + "/")
            page.fill("#token", viewer)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#jobs:not([hidden])")
            page.select_option("#f-lang", "en")
            page.select_option("#f-view", "risk")
            page.select_option("#f-kecamatan", kecamatan)
            page.fill("#f-start", "2025-01-01")  # a period the risk view does not use
            page.click("#filters button[type=submit]")
            expect(page.locator("#map")).to_have_attribute("data-view", "risk")
            page.click("#jobs-export summary")
            for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
                with (
                    page.expect_request(lambda r: "/maps/snapshot." in r.url) as asked,
                    page.expect_download() as info,
                ):
                    page.click(f"#x-{fmt}")
                query = parse_qs(urlsplit(asked.value.url).query)
                assert query == {"layer": ["risk"], "kecamatan": [kecamatan], "lang": ["en"]}
                download = info.value
                assert download.suggested_filename.startswith("timpora-risk-")
                path = download.path()
                assert path is not None
                body = Path(path).read_bytes()
                assert body.startswith(magic)
                if fmt == "pdf":
                    _, printed = pdf_text(body)
                    assert "Workplace risk — Sambas Regency" in printed
                    assert "1. risk-test quota" in printed
                    assert "Worker" not in printed  # no person's name
                (artifacts_dir / f"dashboard_risk_snapshot.{fmt}").write_bytes(body)
            expect(page.locator("#x-status")).to_contain_text("timpora-risk-")
            page.screenshot(path=str(artifacts_dir / "dashboard_risk_snapshot_page.png"))

            # A view chosen but not applied is not what is on screen: the buttons still print
            # the risk map, and print the heat map once it is drawn (with its own filters).
            page.select_option("#f-view", "heatmap")
            with page.expect_request(lambda r: "/maps/snapshot." in r.url) as asked:
                page.click("#x-png")
            assert parse_qs(urlsplit(asked.value.url).query)["layer"] == ["risk"]
            page.click("#filters button[type=submit]")
            expect(page.locator("#map")).to_have_attribute("data-view", "heatmap")
            page.fill("#f-start", "2025-02-01")  # typed, not applied
            with page.expect_request(lambda r: "/maps/snapshot." in r.url) as asked:
                page.click("#x-png")
            query = parse_qs(urlsplit(asked.value.url).query)
            assert (query["layer"], query["start"]) == (["heat"], ["2025-01-01"])
        finally:
            browser.close()
    assert watched.errors == []
    assert watched.foreign(live_server) == []
