"""Choosing whom a record is shared with, in headless Chromium: the field form's report and the
dashboard's import (whole Timpora by default, chosen agencies, our agency only), both languages,
agency names shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.field.devices import register_device
from geo.users import create_user
from tests.browser.chromium import ARGS, CHROMIUM, open_page

SAMBAS_TOWN = {"longitude": 109.3021, "latitude": 1.3549, "accuracy": 12}
HOSTILE = '<img src=x onerror="document.title=1">Bea & Cukai'
INCIDENTS = (
    "external_ref,kind,severity,status,occurred_at,lon,lat\n"
    "DASH-SH-1,overstay,2,open,2026-11-02T10:00:00,109.30,1.36\n"
    "DASH-SH-2,smuggling,3,open,2026-11-05T10:00:00,109.31,1.37\n"
)


@pytest.fixture
def polres_world(committed: Engine) -> Iterator[dict[str, Any]]:
    """Polres with personal data, a Polres analyst and form device, and an agency whose name
    is markup (put back afterwards)."""
    with Session(committed) as session:
        old_name = session.execute(
            text("SELECT name FROM agency WHERE short_name = 'BEACUKAI'")
        ).scalar_one()
        session.execute(text("UPDATE agency SET personal_data = true WHERE short_name = 'POLRES'"))
        session.execute(
            text("UPDATE agency SET name = :n WHERE short_name = 'BEACUKAI'"), {"n": HOSTILE}
        )
        polres = session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar()
        _, user = create_user(session=session, name="share-polres", role="analyst", agency="POLRES")
        _, device = register_device(
            session=session, name="HP Polres", team="Tim Polres", kind="form", agency_id=polres
        )
        session.commit()
    try:
        yield {"user": user, "device": device}
    finally:
        with committed.begin() as conn:
            conn.execute(
                text(
                    "UPDATE agency SET personal_data = (short_name = 'IMIGRASI'), "
                    "name = CASE WHEN short_name = 'BEACUKAI' THEN :n ELSE name END "
                    "WHERE short_name IN ('POLRES', 'BEACUKAI')"
                ),
                {"n": old_name},
            )


def stored(engine: Engine, table: str, where: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT a.short_name, t.sharing, "
                    "(SELECT array_agg(w.short_name ORDER BY w.short_name) "
                    "FROM agency w WHERE w.id = ANY (t.shared_with)) "
                    f"FROM {table} t JOIN agency a ON a.id = t.agency_id WHERE {where} ORDER BY t.id"
                )
            )
        ]


@pytest.mark.browser
def test_field_form_report_shared_with_chosen_agencies(
    polres_world: dict[str, Any], committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 412, "height": 1400},
                geolocation=SAMBAS_TOWN,
                permissions=["geolocation"],
                locale="id-ID",
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(live_server + "/field/")
            page.fill("#token", polres_world["device"])
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")
            expect(page.locator("#who")).to_contain_text("Instansi: POLRES")
            # Whole Timpora is chosen, and the agency list stays folded until asked for.
            expect(page.locator("input[name=sharing][value=timpora]")).to_be_checked()
            expect(page.locator("#share-agencies")).to_be_hidden()
            page.check("input[name=sharing][value=agencies]")
            expect(page.locator("#share-agencies")).to_be_visible()
            boxes = page.locator("#share-agencies input")
            values = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
            assert "KODIM" in values and "POLRES" not in values  # its own agency always sees
            # A name with markup is shown as text, never parsed.
            expect(page.locator("#share-agencies")).to_contain_text(HOSTILE)
            expect(page.locator("#share-agencies img")).to_have_count(0)

            page.check("input[name=kind][value=incident]")
            page.click("#locate")
            expect(page.locator("#position")).not_to_be_empty()
            page.fill("#note", "razia bersama")
            page.click("#save")  # no agency ticked: said, and nothing queued
            expect(page.locator("#form-error")).to_have_text("Pilih minimal satu instansi.")
            expect(page.locator("#outbox li")).to_have_count(0)
            page.check("#share-agencies input[value=KODIM]")
            page.check("#share-agencies input[value=KEJARI]")
            page.screenshot(path=str(artifacts_dir / "field_form_sharing_id.png"), full_page=True)
            page.click("#save")
            expect(page.locator("#outbox li[data-status=accepted]")).to_have_count(
                1, timeout=20_000
            )
            expect(page.locator("#outbox li")).to_contain_text("KEJARI, KODIM")

            page.click("#lang")
            expect(page.locator("#sharing legend")).to_have_text("Shared with")
            expect(page.locator("#sharing")).to_contain_text("Our agency only")
            page.check("input[name=sharing][value=agency]")
            expect(page.locator("#share-agencies")).to_be_hidden()
            page.click("#locate")
            page.click("#save")
            expect(page.locator("#outbox li[data-status=accepted]")).to_have_count(
                2, timeout=20_000
            )
            expect(page.locator("#outbox li").first).to_contain_text("Our agency only")
            page.screenshot(path=str(artifacts_dir / "field_form_sharing_en.png"), full_page=True)
            assert page.title() != "1"
        finally:
            browser.close()
    assert errors == [], errors
    assert stored(committed, "incident", "t.external_ref LIKE 'field:%'") == [
        ("POLRES", "agencies", ["KEJARI", "KODIM"]),
        ("POLRES", "agency", None),
    ]


@pytest.mark.browser
def test_dashboard_import_shared_with_our_agency_only(
    polres_world: dict[str, Any],
    committed: Engine,
    live_server: str,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    path = tmp_path / "razia.csv"
    path.write_text(INCIDENTS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser)
            page.goto(live_server + "/")
            page.fill("#token", polres_world["user"])
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#jobs:not([hidden])")
            page.click("#jobs-import summary")
            page.select_option("#i-layer", "workplaces")
            expect(page.locator("#i-sharing")).to_be_hidden()  # workplaces carry no sharing
            page.select_option("#i-layer", "incidents")
            expect(page.locator("#i-sharing")).to_be_visible()
            expect(page.locator("input[name=i-share][value=timpora]")).to_be_checked()
            page.check("input[name=i-share][value=agencies]")
            chosen = page.locator("#i-share-agencies input")
            expect(chosen.first).to_be_visible()
            page.check("#i-share-agencies input[value=KODIM]")
            page.screenshot(path=str(artifacts_dir / "dashboard_import_sharing_agencies.png"))
            page.uncheck("#i-share-agencies input[value=KODIM]")
            values = [chosen.nth(i).get_attribute("value") for i in range(chosen.count())]
            assert "KODIM" in values and "POLRES" not in values
            expect(page.locator("#i-share-agencies label[title*='onerror']")).to_have_count(1)
            expect(page.locator("#i-share-agencies img")).to_have_count(0)
            page.set_input_files("#i-file", str(path))
            page.click("#import-form button[type=submit]")  # none ticked: nothing sent
            expect(page.locator("#i-status")).to_have_text("Pilih minimal satu instansi.")
            page.check("input[name=i-share][value=agency]")
            expect(page.locator("#i-share-agencies")).to_be_hidden()
            page.screenshot(path=str(artifacts_dir / "dashboard_import_sharing_id.png"))
            page.click("#import-form button[type=submit]")
            page.wait_for_selector("#i-status[data-job=succeeded]", timeout=120_000)
            expect(page.locator("#i-status")).to_contain_text(
                "dibagikan kepada: Hanya instansi kami"
            )
            page.select_option("#f-lang", "en")
            expect(page.locator("#i-sharing legend")).to_have_text("Shared with")
            expect(page.locator("#i-sharing")).to_contain_text("Our agency only")
            page.screenshot(path=str(artifacts_dir / "dashboard_import_sharing_en.png"))
        finally:
            browser.close()
    assert watched.errors == [], watched.errors
    assert stored(committed, "incident", "t.external_ref LIKE 'DASH-SH-%'") == [
        ("POLRES", "agency", None),
        ("POLRES", "agency", None),
    ]


@pytest.mark.browser
def test_alert_queue_marks_an_episode_kept_to_our_agency(
    polres_world: dict[str, Any], committed: Engine, live_server: str, artifacts_dir: Path
) -> None:
    """An overstayer seen by everyone and once by Polres alone: Polres's queue holds the whole
    Timpora's episode and Polres's own, the latter marked with whom it is shared; another seen
    by Polres for Polres and Kodim; in both languages."""
    import datetime as dt

    from playwright.sync_api import expect, sync_playwright

    from geo.alerts import evaluate_for
    from tests.geo.alert_synth import add_foreigner, add_sighting

    with Session(committed) as session:
        polres = session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar()
        fid = add_foreigner(session, permit_expires_on=dt.date(2026, 11, 1))
        seen = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
        ids = [
            add_sighting(session, 109.30, 1.35, seen, fid),
            add_sighting(
                session,
                109.30,
                1.35,
                seen + dt.timedelta(days=1),
                fid,
                agency_id=polres,
                sharing="agency",
            ),
        ]
        kodim = session.execute(text("SELECT id FROM agency WHERE short_name = 'KODIM'")).scalar()
        other = add_foreigner(session, name="Orang Kedua", permit_expires_on=dt.date(2026, 11, 1))
        pair = add_sighting(
            session, 109.31, 1.36, seen, other, agency_id=polres, sharing="agencies",
            shared_with=(kodim,),
        )  # fmt: skip
        evaluate_for(session=session, layer="sightings", ids=[*ids, pair])
        episodes = dict(
            session.execute(
                text(
                    "SELECT id, sighting_id FROM alert WHERE rule_kind = 'expired_permit_sighting'"
                )
            ).all()
        )
        session.commit()
    kept = next(a for a, s in episodes.items() if s == ids[1])
    shared = next(a for a, s in episodes.items() if s == ids[0])
    both = next(a for a, s in episodes.items() if s == pair)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, watched = open_page(browser, http_errors=True)
            page.goto(live_server + "/")
            page.fill("#token", polres_world["user"])
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#alerts")).to_have_attribute("data-state", "ready")
            ours = page.locator(f"#alert-list li[data-alert-id='{kept}']")
            whole = page.locator(f"#alert-list li[data-alert-id='{shared}']")
            expect(ours.locator(".kept")).to_have_text("Hanya POLRES")
            expect(whole).to_be_visible()
            expect(whole.locator(".kept")).to_have_count(0)
            both_kept = page.locator(f"#alert-list li[data-alert-id='{both}'] .kept")
            expect(both_kept).to_have_text("Dibagikan kepada POLRES, KODIM")
            page.locator("#alerts").screenshot(path=str(artifacts_dir / "queue_kept_id.png"))
            page.select_option("#f-lang", "en")
            expect(ours.locator(".kept")).to_have_text("POLRES only")
            expect(both_kept).to_have_text("Shared with POLRES, KODIM")
            page.locator("#alerts").screenshot(path=str(artifacts_dir / "queue_kept_en.png"))
        finally:
            browser.close()
    assert watched.errors == [], watched.errors
