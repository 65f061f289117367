"""The dashboard's daily jobs in headless Chromium: download the current view (data in four
formats, map snapshots, the briefing pack) and import a file with its per-row report, each for
the roles allowed to."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page
from tests.maps.seed import FAKE_NAME, Seed, seed_map_data

IO_DATA = Path(__file__).resolve().parent.parent / "data" / "io"


def _sign_in(page: Any, live_server: str, token: str) -> None:
    page.goto(live_server + "/")
    page.fill("#token", token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#jobs:not([hidden])")


def _download(page: Any, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    path = download.path()
    assert path is not None
    page.wait_for_selector("#x-status[data-file]")
    return download.suggested_filename, Path(path).read_bytes()


def _users(engine: Engine, prefix: str, *roles: str) -> dict[str, str]:
    with Session(engine) as session:
        tokens = {
            role: create_user(session=session, name=f"{prefix}-{role}", role=role)[1]
            for role in roles
        }
        session.commit()
    return tokens


@pytest.mark.browser
def test_download_the_current_view(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with committed.begin() as conn:
        seed: Seed = seed_map_data(conn)
    tokens = _users(committed, "jobs-export", "analyst")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser, http_errors=True)
            _sign_in(page, live_server, tokens["analyst"])
            page.click("#jobs-export summary")
            # The current filters: the quiet kecamatan's incidents.
            page.select_option("#f-kecamatan", seed.quiet_code)
            page.select_option("#x-format", "csv")
            name, body = _download(page, "#x-data")
            assert name.endswith(".csv")
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
            assert len(rows) == seed.incidents[seed.quiet_code]
            page.select_option("#x-format", "geojson")
            name, body = _download(page, "#x-data")
            collection = json.loads(body)
            assert len(collection["features"]) == seed.incidents[seed.quiet_code]
            page.select_option("#x-format", "gpkg")
            name, body = _download(page, "#x-data")
            assert name.endswith(".gpkg") and body.startswith(b"SQLite format 3\x00")
            page.select_option("#x-format", "xlsx")
            name, body = _download(page, "#x-data")
            assert name.endswith(".xlsx") and body.startswith(b"PK")
            name, body = _download(page, "#x-png")
            assert name.endswith(".png") and body.startswith(b"\x89PNG")
            name, body = _download(page, "#x-pdf")
            assert name.endswith(".pdf") and body.startswith(b"%PDF")
            page.select_option("#f-lang", "en")
            name, body = _download(page, "#x-brief")
            assert name.startswith("timpora-briefing") and body.startswith(b"%PDF")
            assert FAKE_NAME.encode() not in body
            assert page.inner_text("#jobs-export summary") == "Download this view"
            page.screenshot(path=str(artifacts_dir / "dashboard_jobs_export.png"))
        finally:
            browser.close()
    assert watched.errors == []
    assert watched.foreign(live_server) == []


@pytest.mark.browser
def test_import_with_its_report(committed: Engine, live_server: str, artifacts_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    tokens = _users(committed, "jobs-import", "analyst")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser)
            _sign_in(page, live_server, tokens["analyst"])
            page.click("#jobs-import summary")
            layers = page.eval_on_selector_all("#i-layer option", "os => os.map(o => o.value)")
            assert set(layers) == {"workplaces", "foreigners", "incidents", "sightings"}

            page.select_option("#i-layer", "workplaces")
            page.set_input_files("#i-file", str(IO_DATA / "workplaces_id.csv"))
            page.check("#i-dry")
            page.click("#import-form button[type=submit]")
            page.wait_for_selector("#i-status[data-job=succeeded]", timeout=120_000)
            assert page.inner_text("#i-status").endswith("3")
            with committed.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM workplace")).scalar_one() == 0

            page.uncheck("#i-dry")
            page.click("#import-form button[type=submit]")
            page.wait_for_selector("#i-status[data-job=succeeded]", timeout=120_000)
            assert page.inner_text("#i-status").startswith("Diimpor: 3")
            with committed.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM workplace")).scalar_one() == 3
            page.select_option("#i-layer", "foreigners")
            page.set_input_files("#i-file", str(IO_DATA / "foreigners_id.csv"))
            page.click("#import-form button[type=submit]")
            page.wait_for_selector("#i-status[data-job=succeeded]", timeout=120_000)

            # A file with bad rows: rejected whole, each problem in the page's table.
            page.select_option("#f-lang", "en")
            page.select_option("#i-layer", "sightings")
            page.set_input_files("#i-file", str(IO_DATA / "sightings_bad.csv"))
            page.click("#import-form button[type=submit]")
            page.wait_for_selector("#i-status[data-job=failed]", timeout=120_000)
            assert page.inner_text("#i-status").startswith("File rejected")
            cells = page.eval_on_selector_all(
                "#i-report tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
            )
            assert [(c[0], c[1]) for c in cells][:2] == [
                ("3", "observed_at"),
                ("4", "foreigner_ref"),
            ]
            assert all(c[3] for c in cells)  # every row says what is wrong
            page.screenshot(path=str(artifacts_dir / "dashboard_jobs_import.png"))
            with committed.connect() as conn:
                bad = "SELECT count(*) FROM sighting WHERE external_ref LIKE 'BAD-%'"
                assert conn.execute(text(bad)).scalar_one() == 0
        finally:
            browser.close()
    assert watched.errors == []


@pytest.mark.browser
def test_what_each_role_is_offered(committed: Engine, live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    tokens = _users(committed, "jobs-roles", "viewer", "planner", "coordinator")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for role, token in tokens.items():
                page, watched = open_page(browser)
                _sign_in(page, live_server, token)
                # Only writers import; persons are exported one by one only with personal data.
                assert page.is_hidden("#jobs-import"), role
                page.click("#jobs-export summary")
                page.select_option("#f-layer", "incidents")
                assert page.is_visible("#x-data") and page.is_visible("#x-brief"), role
                page.select_option("#f-layer", "sightings")
                assert page.is_visible("#x-data") == (role == "coordinator"), role
                assert page.is_visible("#x-png"), role
                page.close()
                assert watched.errors == [], role
        finally:
            browser.close()


@pytest.mark.browser
def test_admin_adds_rotates_and_revokes_users(
    committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    tokens = _users(committed, "jobs-users", "admin", "analyst")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # An analyst manages no users: the section is not there.
            page, watched = open_page(browser)
            _sign_in(page, live_server, tokens["analyst"])
            assert page.is_hidden("#jobs-users")
            page.close()

            page, watched = open_page(browser)
            page.on("dialog", lambda dialog: dialog.accept())
            _sign_in(page, live_server, tokens["admin"])
            page.click("#jobs-users summary")
            page.wait_for_selector("#u-list[data-count]")
            assert page.is_visible("#u-list tr[data-user='jobs-users-analyst']")
            # The signed-in admin cannot revoke themselves from here.
            own = "#u-list tr[data-user='jobs-users-admin'] button"
            assert page.locator(own).count() == 1

            page.fill("#u-name", "Petugas Baru")
            page.select_option("#u-role", "planner")
            page.click("#u-add button[type=submit]")
            page.wait_for_selector("#u-list tr[data-user='Petugas Baru']")
            first = page.inner_text("#u-token").strip()
            assert first.startswith("tpm_") and page.is_visible("#u-token-box")
            assert _meta_status(live_server, first) == 200

            row = "#u-list tr[data-user='Petugas Baru']"
            page.locator(row + " button").nth(0).click()  # new token
            page.locator("#u-token").filter(has_not_text=first).wait_for()
            second = page.inner_text("#u-token").strip()
            assert second.startswith("tpm_") and second != first
            assert _meta_status(live_server, first) == 401
            assert _meta_status(live_server, second) == 200

            page.locator(row + " button").nth(1).click()  # revoke
            page.wait_for_selector(row + ".revoked")
            assert page.is_hidden("#u-token-box")
            assert _meta_status(live_server, second) == 401
            page.screenshot(path=str(artifacts_dir / "dashboard_jobs_users.png"))
        finally:
            browser.close()
    assert watched.errors == []


def _meta_status(live_server: str, token: str) -> int:
    import httpx

    response = httpx.get(
        live_server + "/dashboard/meta", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code
