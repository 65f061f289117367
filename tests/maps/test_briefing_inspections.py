"""The briefing pack's inspections page, read back from the PDF (pdfminer): the period's
inspections by agency and the persons checked by finding and action, in both languages, counts
only (persons below 3 as "<3", no totals), no name, note or summary."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from geo import inspections
from geo.settings import Settings
from geo.users import Principal
from maps import briefing as brief
from tests.geo.test_inspections import LATER, add_agency
from tests.geo.test_risk import add_worker, add_workplace
from tests.maps.pdf_layout import layout_faults, text_runs
from tests.maps.seed import Seed

SECRETS = ("Briefing Insp Worker", "catatan-temuan-rahasia", "ringkasan-rahasia")


@pytest.fixture
def inspected(session: Session, settings: Settings, seed: Seed) -> None:
    site = add_workplace(session, "plain", quota=10)
    workers = [add_worker(session, site, LATER, f"Briefing Insp Worker {i}") for i in range(5)]
    add_agency(session, "BRF-LEAD")
    add_agency(session, "BRF-HELP")
    findings = [
        {"foreigner_id": w, "finding": "in_order", "action_taken": "none"} for w in workers[:3]
    ] + [
        {
            "foreigner_id": workers[3],
            "finding": "working_outside_sponsor",
            "action_taken": "warning",
            "note": "catatan-temuan-rahasia",
        }
    ]
    analyst = Principal(name="brief-analyst", role="analyst")
    for day, agencies, checked in (
        ("2025-03-10", ["BRF-HELP"], findings),
        ("2025-03-20", [], findings[:1]),
        ("2024-12-01", ["BRF-HELP"], findings[:2]),  # before the period
    ):
        inspections.record(
            session=session,
            principal=analyst,
            body={
                "workplace_id": site,
                "inspected_on": day,
                "led_by": "BRF-LEAD",
                "agencies": agencies,
                "summary": "ringkasan-rahasia",
                "findings": checked,
            },
            area=settings.area,
            today=dt.date(2025, 6, 1),
        )
    session.flush()


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            (
                "Inspections and findings by agency",
                "Inspections in the period: 2, at 1 workplace(s)",
                "In order",
            ),
        ),
        (
            "id",
            (
                "Pemeriksaan dan temuan menurut instansi",
                "Pemeriksaan dalam periode: 2, di 1",
                "Teguran",
            ),
        ),
    ],
)
def test_the_inspections_page(
    session: Session,
    settings: Settings,
    inspected: None,
    artifacts_dir: Path,
    lang: str,
    words: tuple[str, ...],
) -> None:
    briefing = brief.collect(
        session=session,
        params=brief.parse_briefing_params(lang=lang, start="2025-01-01", end="2025-06-01"),
        settings=settings,
        principal=Principal(name="brief-viewer", role="viewer"),
    )
    number = brief.page_names(briefing).index("inspections") + 1
    pdf = brief.render(briefing)
    (artifacts_dir / f"briefing-inspections-{lang}.pdf").write_bytes(pdf)
    assert [f for f in layout_faults(pdf) if f.page == number] == []
    pages = text_runs(pdf)
    page = " ".join(pages[number - 1])
    squeezed = re.sub(r"\s+", " ", page)
    for word in words:
        assert word in squeezed, (word, squeezed)
    # By agency: BRF-LEAD led both, BRF-HELP took part in one; the violation (one person) "<3".
    assert "BRF-LEAD" in page and "BRF-HELP" in page
    assert "<3" in page
    # In order: 3 + 1 = 4 persons in the period (the December inspection is outside it).
    assert re.search(r"\b4\b", page)
    for secret in SECRETS:
        assert all(secret not in " ".join(p) for p in pages), secret
