"""Every view renders offline, framed on Sambas, with its layers, filters, language and privacy."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy.orm import Session

from geo.errors import NotFoundError, ValidationError
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


def test_classes_are_fast_and_deterministic_for_many_cells() -> None:
    import time

    import numpy as np

    from maps.common import classify

    values = np.random.default_rng(7).poisson(20, 50_000).tolist()
    t0 = time.perf_counter()
    first = classify(values)
    assert time.perf_counter() - t0 < 2.0
    assert first is not None and first == classify(values)
    assert first.bins[-1] == max(values) and len(first.labels) == len(first.colours) <= 5


def test_viewer_heatmap_drops_cells_below_three_persons(
    session: Session, settings: Settings, seed: Seed
) -> None:
    viewer = render("heatmap", session, settings, role="viewer", layer="sightings")
    analyst = render("heatmap", session, settings, role="analyst", layer="sightings")
    total = lambda page: int(re.search(r"Total: (\d+)", page).group(1))  # noqa: E731
    assert total(analyst) == 12
    assert total(viewer) < 12  # the 2 sightings in the quiet kecamatan are not shown
    legend_row = "\\u0026lt;3"  # "<3", HTML-escaped then JSON-escaped in the legend
    assert legend_row in viewer and legend_row not in analyst


def test_overview_rates_and_english(session: Session, settings: Settings, seed: Seed) -> None:
    page = render("overview", session, settings, measure="per_km2", lang="en")
    assert json.dumps("Incidents — per km²")[1:-1] in page  # as escaped in the script
    assert "PT Sawit Uji Lestari" in page  # workplace names are not personal data
    with pytest.raises(ValidationError) as info:
        parse_params(measure="per_cow")
    assert info.value.value == "per_cow"


def test_timeline_has_a_slider_over_the_periods(
    session: Session, settings: Settings, seed: Seed
) -> None:
    page = render("timeline", session, settings, period="month")
    assert '"periods": ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]' in page
    assert "input" in page and "tpm-timeline" in page
