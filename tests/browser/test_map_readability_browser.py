"""Readable maps in headless Chromium: place names that never overlap at several zooms, the same
land/sea/Malaysia styling and a map key in every view, legends with their zero class, filters
that zoom to the kecamatan and name it, the timeline opening on a complete month, and the
office's basemap archive drawn under the data, in the views and in the dashboard's frame.

Screenshots of every view in both languages go to ``artifacts/map_<view>_<lang>.png``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.db import Database
from geo.settings import Settings
from geo.times import WIB
from geo.users import create_user
from maps.views import VIEWS
from tests.basemap_archive import vector_tiles, write_pmtiles
from tests.browser.chromium import ARGS, CHROMIUM, Watched
from tests.maps.seed import seed_map_data

BUSY_CODE = "61.01.09"  # Sajingan Besar


@contextlib.contextmanager
def served(settings: Settings, database: Database) -> Iterator[str]:
    """A uvicorn server of ``settings`` on a free port (as the ``live_server`` fixture)."""
    import uvicorn

    from api.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="basemap-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def visible_label_boxes(frame: Any) -> list[tuple[str, dict[str, float]]]:
    """Boxes of the names on screen, read from one placement: boxes are read one by one, so a
    reading that a new placement (after a zoom or pan) interrupted is read again."""
    pane = frame.locator(".leaflet-tpm-labels-pane")
    for _attempt in range(20):
        before = pane.get_attribute("data-placed")
        frame.wait_for_timeout(300)
        labels = frame.locator(".tpm-label-shown")
        boxes = []
        for i in range(labels.count()):
            box = labels.nth(i).bounding_box()
            assert box is not None
            boxes.append((labels.nth(i).inner_text(), box))
        if pane.get_attribute("data-placed") == before:
            return boxes
    raise AssertionError("the place names never settled")


def assert_no_overlap(boxes: list[tuple[str, dict[str, float]]]) -> None:
    for i, (name_a, a) in enumerate(boxes):
        for name_b, b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, f"labels {name_a!r} and {name_b!r} overlap: {a} {b}"


def label_zoom(frame: Any) -> int:
    return int(frame.locator(".leaflet-tpm-labels-pane").get_attribute("data-zoom"))


@pytest.mark.browser
def test_readable_maps_with_ground_context(
    committed: Engine,
    settings: Settings,
    database: Database,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    with committed.begin() as conn:
        seed_map_data(conn)
        # One incident now: the timeline then reaches the current, partial month.
        conn.execute(
            text(
                "INSERT INTO incident (kind, severity, status, occurred_at, geom, description)"
                " VALUES ('overstay', 2, 'open', now() - interval '1 minute',"
                " ST_GeomFromEWKT('SRID=4326;POINT(109.55 1.63)'), 'uji')"
            )
        )
        archive = tmp_path / "sambas.pmtiles"
        write_pmtiles(archive, vector_tiles(conn))
    with Session(committed) as session:
        _user, token = create_user(session=session, name="map-reader", role="coordinator")
        session.commit()
    with_ground = Settings(
        database=settings.database,
        area=settings.area,
        service=settings.service.model_copy(update={"basemap_file": archive}),
    )

    watched = Watched()
    with served(with_ground, database) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 900},
                extra_http_headers={"Authorization": f"Bearer {token}"},
            )
            page = context.new_page()
            page.on("request", lambda r: watched.requests.append(r.url))
            page.on("pageerror", lambda e: watched.errors.append(str(e)))
            page.on(
                "console",
                lambda m: (
                    watched.errors.append(f"{m.text} {m.location}") if m.type == "error" else None
                ),
            )
            page.on(
                "response",
                lambda r: watched.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )

            for view in sorted(VIEWS):
                for lang in ("id", "en"):
                    page.goto(f"{base}/maps/{view}?lang={lang}")
                    page.locator(".leaflet-container").wait_for()
                    page.locator(".tpm-label-shown").first.wait_for()
                    # the ground layer: vector tiles drawn on canvas in the pane under the data
                    ground = page.locator(".leaflet-tpm-ground-pane canvas")
                    ground.first.wait_for(state="attached")
                    assert ground.count() >= 1, view
                    names = page.locator(".tpm-label-shown").all_inner_texts()
                    assert "PLBN Aruk" in names and "Temajuk" in names, (view, names)
                    assert_no_overlap(visible_label_boxes(page))
                    key = page.locator(".tpm-key").inner_text()
                    assert "Malaysia (Sarawak)" in key, view
                    assert ("Sungai" if lang == "id" else "River") in key, view
                    page.wait_for_timeout(400)
                    page.screenshot(path=str(artifacts_dir / f"map_{view}_{lang}.png"))

            # A short frame (the dashboard's, its panels open): the layer list (top left) and
            # the key (bottom left) each keep to their half and never cover each other.
            page.set_viewport_size({"width": 1400, "height": 400})
            for view in sorted(VIEWS):
                page.goto(f"{base}/maps/{view}?lang=en")
                page.locator(".tpm-label-shown").first.wait_for()
                key = page.locator(".tpm-key").bounding_box()
                for control in page.locator(".leaflet-top.leaflet-left .leaflet-control").all():
                    box = control.bounding_box()
                    assert key and box and box["y"] + box["height"] <= key["y"], (view, box, key)
            page.set_viewport_size({"width": 1400, "height": 900})

            # Panes: land under the ground layer under the data; names above the data.
            page.goto(f"{base}/maps/overview")
            page.locator(".tpm-label-shown").first.wait_for()
            z = {
                name: int(
                    (page.locator(f".leaflet-{name}-pane").get_attribute("style") or "")
                    .split("z-index:")[1]
                    .split(";")[0]
                )
                for name in ("tpm-land", "tpm-ground", "tpm-labels")
            }
            assert z["tpm-land"] < z["tpm-ground"] < 400 < z["tpm-labels"], z
            legend = page.locator(".tpm-legend").inner_text()
            assert "0 (tidak ada)" in legend, legend
            # Names at three zooms: never overlapping, kecamatan names from zoom 9, desa
            # names from zoom 12.
            zooms = []
            for step in range(3):
                boxes = visible_label_boxes(page)
                zoom = label_zoom(page)
                zooms.append(zoom)
                assert len(boxes) >= 5, (zoom, boxes)
                assert_no_overlap(boxes)
                kecamatan = page.locator(".tpm-label-kecamatan.tpm-label-shown").count()
                desa = page.locator(".tpm-label-desa.tpm-label-shown").count()
                assert kecamatan >= 1 if zoom >= 9 else kecamatan == 0, (zoom, kecamatan)
                assert desa >= 1 if zoom >= 12 else desa == 0, (zoom, desa)
                if step < 2:
                    page.click(".leaflet-control-zoom-in")
                    page.locator(f'.leaflet-tpm-labels-pane[data-zoom="{zoom + 1}"]').wait_for(
                        state="attached"
                    )
                    page.wait_for_timeout(300)
            assert zooms == [zooms[0], zooms[0] + 1, zooms[0] + 2]
            page.screenshot(path=str(artifacts_dir / "map_overview_zoomed.png"))

            # A kecamatan filter zooms there and names it.
            regency_zoom = zooms[0]
            page.goto(f"{base}/maps/heatmap?kecamatan={BUSY_CODE}&lang=en")
            page.locator(".tpm-label-shown").first.wait_for()
            title = page.locator(".tpm-caption h4").inner_text()
            assert "Sajingan Besar" in title and BUSY_CODE not in title, title
            # The frame on the kecamatan is applied after the page loads (the labels are placed
            # again at its zoom): wait for it rather than read the first zoom.
            for _ in range(50):
                if label_zoom(page) > regency_zoom:
                    break
                page.wait_for_timeout(200)
            assert label_zoom(page) > regency_zoom
            page.screenshot(path=str(artifacts_dir / "map_heatmap_kecamatan_en.png"))

            # The timeline opens on the last complete month and marks the current one partial.
            page.goto(f"{base}/maps/timeline?lang=en")
            slider = page.locator(".tpm-timeline input[type=range]")
            slider.wait_for()
            last = int(slider.get_attribute("max") or "0")
            assert slider.input_value() == str(last - 1)
            box = page.locator(".tpm-timeline")
            assert box.get_attribute("data-partial") == "0"
            now = dt.datetime.now(WIB)
            previous = (now.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
            assert previous in box.inner_text()
            slider.fill(str(last))
            assert box.get_attribute("data-partial") == "1"
            assert f"{now:%Y-%m} (partial, to {now:%Y-%m-%d})" in box.inner_text()

            # The KDE overlay has its colour ramp in a legend.
            page.goto(f"{base}/maps/hotspots?kde=1&lang=en")
            page.locator(".tpm-kde-legend .tpm-ramp").wait_for()
            assert "Kernel density" in page.locator(".tpm-kde-legend").inner_text()
            page.screenshot(path=str(artifacts_dir / "map_hotspots_kde_en.png"))

            # The dashboard's sandboxed frame draws the ground layer too (cross-origin fetches).
            dash = browser.new_page(viewport={"width": 1400, "height": 900})
            dash.on("pageerror", lambda e: watched.errors.append(str(e)))
            dash.on(
                "console",
                lambda m: (
                    watched.errors.append(f"{m.text} {m.location}") if m.type == "error" else None
                ),
            )
            dash.on("request", lambda r: watched.requests.append(r.url))
            dash.on(
                "response",
                lambda r: watched.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            dash.goto(base + "/")
            dash.fill("#token", token)
            dash.click("#signin-form button[type=submit]")
            dash.wait_for_selector("#app:not([hidden])")
            dash.select_option("#f-view", "overview")
            dash.click("#filters button[type=submit]")
            dash.wait_for_selector("#map[data-view=overview]")
            frame = dash.frame_locator("#map")
            frame.locator(".leaflet-tpm-ground-pane canvas").first.wait_for(state="attached")
            frame.locator(".tpm-label-shown").first.wait_for()
            dash.wait_for_timeout(500)
            dash.screenshot(path=str(artifacts_dir / "dashboard_overview_ground.png"))
        finally:
            browser.close()

    assert watched.foreign(base) == []
    assert any("/basemap/tiles/" in u for u in watched.requests)
    assert watched.errors == []
