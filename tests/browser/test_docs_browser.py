"""The API reference in headless Chromium, offline: Swagger UI lists every operation of the
OpenAPI document at ``/docs``, and ReDoc does at ``/redoc``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.chromium import ARGS, CHROMIUM, open_page


def _operations(live_server: str) -> list[tuple[str, str]]:
    spec: dict[str, Any] = httpx.get(live_server + "/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


@pytest.mark.browser
def test_reference_pages_render_every_operation_offline(
    live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    operations = _operations(live_server)
    assert len(operations) > 20
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser)

            page.goto(live_server + "/docs")
            page.locator(".opblock").first.wait_for()
            assert page.locator(".opblock").count() == len(operations)
            assert page.locator(".errors-wrapper").count() == 0  # no "unable to render"
            shown = {
                (m.strip(), p.strip().replace("\u200b", ""))
                for m, p in page.eval_on_selector_all(
                    ".opblock-summary",
                    "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,"
                    " e.querySelector('.opblock-summary-path').textContent])",
                )
            }
            assert shown == set(operations), set(operations) ^ shown
            page.screenshot(path=str(artifacts_dir / "docs_swagger.png"))

            page.goto(live_server + "/redoc")
            page.locator("[data-section-id^='operation/']").first.wait_for(timeout=60_000)
            assert page.locator("[data-section-id^='operation/']").count() == len(operations)
            page.screenshot(path=str(artifacts_dir / "docs_redoc.png"))
        finally:
            browser.close()

    assert watched.foreign(live_server) == []
    assert watched.errors == []
