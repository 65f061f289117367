"""Every view renders offline, framed on Sambas, with its layers, filters, language and privacy."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from geo.errors import NotFoundError
from geo.settings import Settings
from maps.assets import external_urls, render_html
from maps.common import parse_params
from maps.views import VIEWS, build_view, render_view
from tests.maps.seed import FAKE_NAME, FAKE_PASSPORT, Seed

ALL_VIEWS = ["heatmap", "overview", "hexbins", "timeline"]


def render(
    view: str, session: Session, settings: Settings, role: str = "analyst", **raw: object
) -> str:
    params = parse_params(**raw)  # type: ignore[arg-type]
    return render_view(view, session=session, principal_role=role, params=params, settings=settings)


@pytest.mark.parametrize("view", ALL_VIEWS)
def test_view_renders_offline_and_framed_on_sambas(
    view: str, session: Session, settings: Settings, seed: Seed
) -> None:
    m = build_view(
        view, session=session, principal_role="analyst", params=parse_params(), settings=settings
    )
    (south, west), (north, east) = m.get_bounds()
    assert 0.5 < south < north < 2.5, m.get_bounds()
    assert 108.5 < west < east < 110.5, m.get_bounds()
    page = render_html(m)
    assert external_urls(page) == []
    assert "<script src=" not in page and '<link rel="stylesheet" href=' not in page
    assert "L.map(" in page
    assert "Batas negara RI–Malaysia" in page  # the border from the reference data
    assert FAKE_NAME not in page and FAKE_PASSPORT not in page


def test_registry_names_the_views() -> None:
    assert set(ALL_VIEWS) <= set(VIEWS)


def test_unknown_view(session: Session, settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        render("nope", session, settings)
