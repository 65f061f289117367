"""The ``risk`` view: graduated symbols by rank, a suppressed class for roles without personal
data where a symbol would single out fewer than 3 persons, a saved plan drawn, text escaped."""

from __future__ import annotations

from typing import Any

import folium
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import inspection_plan
from geo.errors import ValidationError
from geo.settings import Settings
from geo.users import Principal
from maps.assets import external_urls, render_html
from maps.common import SUPPRESSED_COLOUR, parse_params
from maps.views import build_view
from maps.workplace_risk import COLOURS, RADII, TextPopup, rank_class
from tests.geo.test_risk import AS_OF, SITES, build_sites

EVIL = "</script><img src=x onerror=alert(1)>`${x}`"


@pytest.fixture
def sites(session: Session) -> dict[str, Any]:
    built = build_sites(session)
    session.execute(
        text("UPDATE workplace SET name = :n WHERE id = :id"),
        {"n": f"risk-test alerts {EVIL}", "id": built["ids"]["alerts"]},
    )
    return built


def symbols(m: folium.Map) -> dict[str, folium.CircleMarker]:
    """The ranking's symbols by workplace name (their tooltip's text)."""
    group = next(
        c for c in m._children.values() if getattr(c, "layer_name", "") == "Risiko tempat kerja"
    )
    out = {}
    for marker in group._children.values():
        tip = next(c for c in marker._children.values() if isinstance(c, folium.Tooltip))
        out[tip.text] = marker
    return out


def popup_of(marker: folium.CircleMarker) -> str:
    return next(c for c in marker._children.values() if isinstance(c, TextPopup)).content_js


def view(
    session: Session, settings: Settings, role: str, lang: str = "id", **extra: str
) -> folium.Map:
    params = parse_params(lang=lang, extra={"as_of": AS_OF.isoformat(), **extra})
    return build_view(
        "risk", session=session, principal_role=role, params=params, settings=settings
    )


def test_ranks_as_graduated_symbols(
    session: Session, settings: Settings, sites: dict[str, Any]
) -> None:
    drawn = symbols(view(session, settings, "coordinator"))
    # quota 9, expired 4, hidden 3, alerts 2.4: ranks 1-4 (the others score a little for the
    # border, or nothing and are not drawn), all in the top class.
    assert {
        "1. risk-test quota",
        "2. risk-test expired",
        "3. risk-test hidden",
        f"4. risk-test alerts {EVIL}",
    } <= set(drawn)
    for marker in drawn.values():
        assert marker.options["fillColor"] == COLOURS[0]
        assert marker.options["radius"] == RADII[0]
    assert "Izin kedaluwarsa" in popup_of(drawn["2. risk-test expired"])
    assert [rank_class(r) for r in (1, 10, 11, 25, 26, 50, 51, 200)] == [0, 0, 1, 1, 2, 2, 3, 4]


def test_a_viewer_gets_a_suppressed_class_not_a_person(
    session: Session, settings: Settings, sites: dict[str, Any]
) -> None:
    drawn = symbols(view(session, settings, "viewer"))
    by_name = {name.split(". ", 1)[-1]: marker for name, marker in drawn.items()}
    # expired (one expired, one expiring worker) and hidden (one worker of another sponsor):
    # their only factors are counts below 3, so no rank, no score, no factor.
    for name in ("risk-test expired", "risk-test hidden"):
        assert name in drawn, list(drawn)  # no rank in the tooltip
        marker = by_name[name]
        assert marker.options["fillColor"] == SUPPRESSED_COLOUR
        popup = popup_of(marker)
        assert "Rinciannya tidak ditampilkan" in popup and "Skor" not in popup
    # quota: 3 workers over the quota is not "<3"; alerts: not about persons.
    assert by_name["risk-test quota"].options["fillColor"] == COLOURS[0]
    assert "Melebihi kuota RPTKA" in popup_of(by_name["risk-test quota"])


def test_plan_drawn_and_text_escaped(
    session: Session, settings: Settings, sites: dict[str, Any]
) -> None:
    request = inspection_plan.parse_request(
        session=session,
        start_lon=SITES["hidden"][0],
        start_lat=SITES["hidden"][1] - 0.0001,
        date=AS_OF,
        max_route_km=30,
    )
    plan = inspection_plan.make_plan(
        session=session, request=request, principal=Principal(name="p", role="analyst")
    )
    stops = [f for f in plan["features"] if f["properties"]["kind"] == "stop"]
    assert len(stops) >= 3
    m = view(session, settings, "viewer", plan=str(plan["id"]), lang="en")
    page = render_html(m)
    assert external_urls(page) == []
    assert f"Inspection plan {plan['id']}" in page
    # One numbered marker per stop (the style sheet names the class once more).
    assert page.count("tpm-plan-stop") == len(stops) + 1
    assert "Hidden Worker" not in page and "Expired Worker" not in page
    assert EVIL not in page and "<img src=x" not in page
    (south, west), (north, east) = m.get_bounds()
    assert south < SITES["quota"][1] < north and west < SITES["quota"][0] < east


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        pytest.param({"limit": "500"}, "limit", id="limit"),
        pytest.param({"plan": "x"}, "plan", id="plan-not-a-number"),
        pytest.param({"as_of": "soon"}, "as_of", id="as-of"),
    ],
)
def test_bad_options_name_themselves(
    session: Session, settings: Settings, extra: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        view(session, settings, "viewer", **extra)
    assert caught.value.field == field
