"""Stored and reflected script injection, in headless Chromium: payloads planted in workplace,
zone, incident, kecamatan, town and user names and sent as filter parameters never run, while
every map view and the dashboard still render."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page
from tests.browser.test_dashboard_browser import DRAWN
from tests.maps.seed import QUIET_KECAMATAN, seed_map_data

# Each payload, if it ran, would set window.__pwned (in the page or the map frame) to its key.
PAYLOADS = {
    "template": "Kebun ${window.__pwned='template'}",
    "close": "</script><script>window.__pwned='close'</script>",
    "img": "<img src=x onerror=\"window.__pwned='img'\">",
    "quote": "\"'><svg onload=\"window.__pwned='quote'\">",
    "backtick": "`;window.__pwned='backtick';`",
    "jinja": "{{ 7*7 }}{% if true %}jinja-ran{% endif %}",
}
# One string carrying several payloads, for single-name places (a kecamatan, a town, a user).
MIXED = "X`${window.__pwned='mixed'}`<img src=x onerror=\"window.__pwned='mixed'\">"
# And for query parameters.
FILTER = "</script><script>window.__pwned='f'</script>\"'><svg onload=\"window.__pwned='f'\">`${1}"

# Every tooltip of every Leaflet layer, rendered as Leaflet renders it when it opens: a string
# as innerHTML, a node appended. Returns the texts shown.
OPEN_TOOLTIPS = """
async () => {
  const maps = Object.keys(window).filter((k) => k.startsWith("map_"))
    .map((k) => window[k]).filter((v) => v instanceof L.Map);
  const shown = [];
  const leaves = [];
  const walk = (layer, bound) => {
    const tip = (layer.getTooltip && layer.getTooltip()) || bound;
    if (layer.getLayers) { layer.getLayers().forEach((l) => walk(l, tip)); }
    else if (tip) { leaves.push([layer, tip]); }
  };
  maps.forEach((m) => m.eachLayer((l) => walk(l, null)));
  for (const [layer, tip] of leaves) {
    let content = tip._content;
    if (typeof content === "function") { content = content(layer); }
    const box = document.createElement("div");
    document.body.appendChild(box);
    if (typeof content === "string") { box.innerHTML = content; }
    else if (content) { box.appendChild(content); }
    shown.push(box.textContent);
  }
  await new Promise((resolve) => setTimeout(resolve, 400));  // let any onerror fire
  return shown;
}
"""


def _pwned(page: Any) -> list[Any]:
    """window.__pwned and a changed title in the page and in every frame."""
    found = []
    for frame in page.frames:
        value = frame.evaluate("() => [window.__pwned || null, document.title]")
        if value[0] is not None or "pwned" in str(value[1]).lower():
            found.append((frame.url[:60], value))
    return found


@pytest.fixture
def planted(committed: Engine) -> Iterator[dict[str, Any]]:
    """Map data with the payloads in every name a map or the dashboard shows."""
    with committed.begin() as conn:
        seed = seed_map_data(conn)
        lon, lat = seed.busy_point
        for i, payload in enumerate(PAYLOADS.values()):
            conn.execute(
                text(
                    "INSERT INTO workplace (name, sector, geom) VALUES "
                    "(:name, 'plantation', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                ),
                {"name": payload, "lon": lon + 0.003 * i, "lat": lat - 0.01},
            )
            conn.execute(
                text(
                    "INSERT INTO zone (name, kind, geom) SELECT :name, 'watch', "
                    "ST_Multi(ST_Transform(ST_Buffer(ST_Transform("
                    "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649), 400), 4326))"
                ),
                {"name": f"zone {payload}", "lon": lon - 0.02 * (i + 1), "lat": lat + 0.02},
            )
        conn.execute(text("UPDATE incident SET description = :d"), {"d": MIXED})
        kecamatan = conn.execute(
            text("SELECT code, name FROM admin_area WHERE level = 'kecamatan' AND name = :n"),
            {"n": QUIET_KECAMATAN},
        ).one()
        town = conn.execute(
            text("SELECT id, name FROM reference_feature WHERE kind = 'town' ORDER BY id LIMIT 1")
        ).one()
        conn.execute(
            text("UPDATE admin_area SET name = :name WHERE code = :code"),
            {"name": f"Paloh {MIXED}", "code": kecamatan.code},
        )
        conn.execute(
            text("UPDATE reference_feature SET name = :name WHERE id = :id"),
            {"name": f"Kota {MIXED}", "id": town.id},
        )
    with Session(committed) as session:
        _user, token = create_user(session=session, name=f"Admin {MIXED}", role="admin")
        session.commit()
    try:
        yield {"token": token, "kecamatan_code": kecamatan.code}
    finally:
        with committed.begin() as conn:
            conn.execute(text("DELETE FROM zone WHERE name LIKE 'zone %'"))
            conn.execute(
                text("UPDATE admin_area SET name = :name WHERE code = :code"),
                {"name": kecamatan.name, "code": kecamatan.code},
            )
            conn.execute(
                text("UPDATE reference_feature SET name = :name WHERE id = :id"),
                {"name": town.name, "id": town.id},
            )


@pytest.mark.browser
def test_planted_payloads_never_run(
    planted: dict[str, Any], live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    token = planted["token"]
    shown: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # Console errors are expected here: the refused filter values and the blocked
            # image of a payload; uncaught exceptions are not.
            page, watched = open_page(browser, console=False)
            page.goto(live_server + "/")
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            page.wait_for_selector("#alerts[data-state]")
            assert MIXED in page.inner_text("#who-name")  # the user name, shown as text
            options = page.eval_on_selector_all("#f-kecamatan option", "os => os.map(o => o.text)")
            assert f"Paloh {MIXED}" in options

            views = page.eval_on_selector_all("#f-view option", "os => os.map(o => o.value)")
            assert set(DRAWN) | {"hotspots", "patrol"} <= set(views)
            for view in views:
                page.select_option("#f-view", view)
                page.click("#filters button[type=submit]")
                page.wait_for_selector(f"#map[data-view={view}]")
                frame = page.frame_locator("#map")
                frame.locator(".leaflet-container").wait_for()
                for selector, minimum in DRAWN.get(view, [("path.leaflet-interactive", 1)]):
                    frame.locator(selector).first.wait_for(state="attached")
                    assert frame.locator(selector).count() >= minimum, (view, selector)
                map_frame = next(f for f in page.frames if f.parent_frame is not None)
                shown += map_frame.evaluate(OPEN_TOOLTIPS)
                page.screenshot(path=str(artifacts_dir / f"injection_{view}.png"))
                assert _pwned(page) == [], view

            # the planted names were shown, as the text they are
            for key, payload in PAYLOADS.items():
                assert any(payload in s for s in shown), key
                assert any(f"zone {payload}" in s for s in shown), key
            assert any(f"Paloh {MIXED}" in s for s in shown)
            assert any(f"Kota {MIXED}" in s for s in shown)

            # the kecamatan filter with the planted name in the caption
            page.select_option("#f-view", "overview")
            page.select_option("#f-kecamatan", planted["kecamatan_code"])
            page.click("#filters button[type=submit]")
            page.frame_locator("#map").locator(".tpm-caption").wait_for()
            assert _pwned(page) == []

            # filter parameters: a value the API refuses is reported as text in the page
            page.evaluate(
                "(v) => { const o = document.createElement('option'); o.value = v; o.text = v;"
                " document.getElementById('f-kecamatan').appendChild(o); }",
                PAYLOADS["img"],
            )
            page.select_option("#f-kecamatan", PAYLOADS["img"])
            page.click("#filters button[type=submit]")
            page.wait_for_function(
                "() => document.getElementById('map-status').textContent.includes('onerror')"
            )
            page.wait_for_timeout(300)
            assert _pwned(page) == []

            # and the same parameters on the map pages opened directly
            page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
            for view in views:
                for name in ("kecamatan", "kind", "lang", "start", "layer", "eps_m", "extra"):
                    page.goto(f"{live_server}/maps/{view}?{name}={quote(FILTER)}")
                    assert _pwned(page) == [], (view, name)
            page.goto(f"{live_server}/maps/overview?extra={quote(FILTER)}")
            page.locator(".leaflet-container").wait_for()
            shown_direct = page.evaluate(OPEN_TOOLTIPS)
            assert any(PAYLOADS["template"] in s for s in shown_direct)
            assert _pwned(page) == []
        finally:
            browser.close()

    assert watched.foreign(live_server) == []
    assert watched.errors == []
