"""The inspection plan's field sheet, read back from the PDF (pdfminer): one page, no text over
text or across a rule in either language, no personal data for a viewer, the persons for a
coordinator."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pdfminer.high_level import extract_text
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import inspection_plan
from geo.roles import role_for, use_role
from geo.settings import Settings
from geo.users import Principal
from maps.inspection_plan_pdf import plan_pdf_file
from tests.geo.test_risk import AS_OF, SITES, build_sites
from tests.maps.pdf_layout import layout_faults, text_runs

ADMIN = Principal(name="Penyusun Rencana", role="admin")
VIEWER = Principal(name="Pembaca Rencana", role="viewer")
COORDINATOR = Principal(name="Koordinator Rencana", role="coordinator")
LONG_NAME = "PT Perkebunan Kelapa Sawit Nusantara Perbatasan Sejahtera Abadi Makmur"


@pytest.fixture
def plans(session: Session) -> dict[str, int]:
    sites = build_sites(session)
    session.execute(
        text("UPDATE workplace SET name = :n WHERE id = :id"),
        {"n": LONG_NAME, "id": sites["ids"]["expired"]},
    )
    made = {}
    for period in ("day", "week"):
        request = inspection_plan.parse_request(
            session=session,
            start_lon=SITES["hidden"][0],
            start_lat=SITES["hidden"][1] - 0.0001,
            date=AS_OF,
            period=period,
            max_route_km=30,
            max_stops=12 if period == "day" else 2,
        )
        plan = inspection_plan.make_plan(session=session, request=request, principal=ADMIN)
        made[period] = plan["id"]
    return made


def pdf(
    session: Session, settings: Settings, principal: Principal, plan_id: int, lang: str
) -> bytes:
    use_role(session, role_for(principal.role))  # as the API runs the request
    return plan_pdf_file(
        session=session, settings=settings, principal=principal, plan_id=plan_id, lang=lang
    ).content


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("period", ["day", "week"])
def test_one_page_no_overprint_no_persons_for_a_viewer(
    session: Session,
    settings: Settings,
    plans: dict[str, int],
    lang: str,
    period: str,
    artifacts_dir: Path,
) -> None:
    content = pdf(session, settings, VIEWER, plans[period], lang)
    (artifacts_dir / f"inspection-plan-{period}-{lang}.pdf").write_bytes(content)
    runs = text_runs(content)
    assert len(runs) == 1  # one page
    assert layout_faults(content) == []
    words = extract_text(io.BytesIO(content))
    for person in ("Hidden Worker", "Expired Worker", "Expiring Worker", "Quota Worker"):
        assert person not in words
    assert "<3" in words  # the expired and the hidden worker, as a viewer sees them
    title = "Rencana pemeriksaan gabungan" if lang == "id" else "Joint inspection plan"
    assert title in words
    assert "IMIGRASI" in words


def test_a_coordinator_sees_the_persons(
    session: Session, settings: Settings, plans: dict[str, int]
) -> None:
    content = pdf(session, settings, COORDINATOR, plans["day"], "en")
    words = " ".join(" ".join(run) for run in text_runs(content))
    assert "Hidden" in words and "Worker" in words
    assert layout_faults(content) == []
    use_role(session, role_for("admin"))
    row = session.execute(
        text("SELECT action, record_count FROM audit_log WHERE resource = :r"),
        {"r": f"inspections/plans/{plans['day']}.pdf"},
    ).one()
    assert row.action == "export" and row.record_count >= 2


def test_a_dollar_in_a_name_prints_as_itself(session: Session, settings: Settings) -> None:
    """Names are never read as matplotlib mathtext (which would print "$x^2$" as a formula)."""
    sites = build_sites(session)
    session.execute(
        text("UPDATE workplace SET name = :n WHERE id = :id"),
        {"n": "CV $aham$ Jaya", "id": sites["ids"]["quota"]},
    )
    request = inspection_plan.parse_request(
        session=session,
        start_lon=SITES["hidden"][0],
        start_lat=SITES["hidden"][1] - 0.0001,
        date=AS_OF,
        period="day",
        max_route_km=30,
        max_stops=12,
    )
    plan = inspection_plan.make_plan(session=session, request=request, principal=ADMIN)
    words = extract_text(io.BytesIO(pdf(session, settings, ADMIN, plan["id"], "en")))
    assert "CV $aham$ Jaya" in words
