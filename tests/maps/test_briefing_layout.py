"""The briefing pack read back from its PDF: no text over text, none across a cell border or an
axis, in both languages and with long place names; partial months marked; rankings without empty
cells and with places in words; numbers written the way the page's language writes them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.briefing import places_at
from geo.patrol import to_utm
from geo.settings import Settings
from geo.times import WIB
from geo.users import Principal
from maps import briefing as brief
from maps.briefing_content import partial_months
from maps.printed_table import fit_widths, wrap_to_width
from maps.static_layers import number_text
from tests.maps.briefing_seed import add_export_data
from tests.maps.followup_seed import LONG_TITLE, add_followup_data
from tests.maps.pdf_layout import layout_faults, text_runs
from tests.maps.seed import Seed

LONG_KECAMATAN = "Sajingan Besar Perbatasan Utara Sungai Kumba Raya"
LONG_QUIET = "Paloh Temajuk Tanjung Datu Pesisir Barat Laut"
LONG_DESA = "Sebunga Hulu Sungai Bening Kampung Baru Sejahtera"
LONG_WORKPLACE = "PT Perkebunan Kelapa Sawit Nusantara Perbatasan Sejahtera Abadi Makmur"


@pytest.fixture
def long_names(session: Session, seed: Seed) -> Seed:
    """The seed's two kecamatan, every desa of the busy one and a workplace under long names
    (before the alerts are written, so they carry the long names too)."""
    session.execute(
        text("UPDATE admin_area SET name = :name WHERE code = :code"),
        [
            {"name": LONG_KECAMATAN, "code": seed.busy_code},
            {"name": LONG_QUIET, "code": seed.quiet_code},
        ],
    )
    session.execute(
        text(
            "UPDATE admin_area SET name = :name || ' ' || right(code, 2) "
            "WHERE level = 'desa' AND parent_code = :code"
        ),
        {"name": LONG_DESA, "code": seed.busy_code},
    )
    lon, lat = seed.busy_point
    session.execute(
        text(
            "INSERT INTO workplace (name, sector, geom) "
            "VALUES (:name, 'plantation', ST_GeomFromEWKT(:geom))"
        ),
        {"name": LONG_WORKPLACE, "geom": f"SRID=4326;POINT({lon + 0.01} {lat})"},
    )
    add_export_data(session, seed)
    # A meeting with actions of several agencies, one title long enough to wrap (the last page).
    add_followup_data(session, period_end=dt.date(2025, 4, 9))
    session.flush()
    return seed


def _pack(session: Session, settings: Settings, lang: str, **params: object) -> bytes:
    briefing = brief.collect(
        session=session,
        params=brief.parse_briefing_params(lang=lang, **params),  # type: ignore[arg-type]
        settings=settings,
        principal=Principal(name="Penyusun Dengan Nama Panjang Sekali Untuk Uji", role="viewer"),
    )
    return brief.render(briefing)


def _squeezed(value: str) -> str:
    return re.sub(r"[\s\-]", "", value)


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(
    "period",
    [
        pytest.param({}, id="all-time"),
        pytest.param({"start": "2025-01-15", "end": "2025-04-10"}, id="cut-months"),
    ],
)
def test_no_text_overlaps_or_crosses_a_line(
    session: Session,
    settings: Settings,
    long_names: Seed,
    artifacts_dir: Path,
    lang: str,
    period: dict[str, str],
) -> None:
    pdf = _pack(session, settings, lang, **period)
    name = f"briefing-layout-{lang}-{'-'.join(period.values()) or 'all'}.pdf"
    (artifacts_dir / name).write_bytes(pdf)
    assert layout_faults(pdf) == []
    pages = ["".join(_squeezed(r) for r in runs) for runs in text_runs(pdf)]
    assert len(pages) == 8
    # The long names are printed whole (wrapped in their cells), not dropped.
    assert _squeezed(LONG_KECAMATAN) in pages[1] and _squeezed(LONG_QUIET) in pages[1]
    assert _squeezed(LONG_DESA) in pages[3]  # the hot spots lie in the busy kecamatan's desa
    assert _squeezed(LONG_KECAMATAN) in pages[5]  # open alerts there
    # The last meeting before the period's end (without an end: the latest of all).
    if period:
        assert _squeezed(LONG_TITLE) in pages[-1]  # its actions, the long title wrapped whole
    else:
        assert _squeezed("Rapat sesudah periode") in pages[-1]


def test_the_checker_sees_overprints_and_crossings(artifacts_dir: Path) -> None:
    """The checks can fail: two texts drawn on each other, and a word across a table's rule."""
    from matplotlib.patches import Rectangle

    from maps.sheet import new_page, pages_pdf

    fig = new_page()
    fig.text(0.1, 0.5, "Kecamatan", fontsize=10)
    fig.text(0.13, 0.5, "Registered foreigners", fontsize=10)
    fig.add_artist(Rectangle((0.5, 0.2), 0.05, 0.1, fill=False, transform=fig.transFigure))
    fig.text(0.52, 0.25, "crosses", fontsize=10)
    faults = [str(f) for f in layout_faults(pages_pdf([fig]))]
    assert any("overprints" in f and "Kecamatan" in f for f in faults), faults
    assert any("'crosses' crosses the line" in f for f in faults), faults


def test_english_and_indonesian_numbers(session: Session, settings: Settings, seed: Seed) -> None:
    assert (number_text(4914, "en"), number_text(4914, "id")) == ("4,914", "4.914")
    assert (number_text(0.0317, "en", 3), number_text(0.0317, "id", 3)) == ("0.032", "0,032")
    add_export_data(session, seed)
    session.flush()
    en = text_runs(_pack(session, settings, "en"))
    id_ = text_runs(_pack(session, settings, "id"))
    # Incidents per km² of the busy kecamatan on page 2.
    assert any(re.fullmatch(r"0\.0\d\d", r) for r in en[1]), en[1]
    assert not any(re.fullmatch(r"0,0\d\d", r) for r in en[1])
    assert any(re.fullmatch(r"0,0\d\d", r) for r in id_[1]), id_[1]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(None, None, {}, id="no-bounds"),
        pytest.param(
            dt.datetime(2025, 1, 15, tzinfo=WIB),
            dt.datetime(2025, 3, 1, tzinfo=WIB),
            {"2025-01": (15, 31)},
            id="cut-start-whole-end",
        ),
        pytest.param(
            None, dt.datetime(2025, 3, 7, tzinfo=WIB), {"2025-03": (1, 6)}, id="six-days-of-march"
        ),
        pytest.param(
            None,
            dt.datetime(2025, 3, 6, 16, 30, tzinfo=dt.UTC),  # 23:30 WIB on the 6th
            {"2025-03": (1, 6)},
            id="end-in-wib",
        ),
    ],
)
def test_partial_months(
    start: dt.datetime | None, end: dt.datetime | None, expected: dict[str, tuple[int, int]]
) -> None:
    assert partial_months(["2025-01", "2025-02", "2025-03"], start=start, end=end) == expected


def test_trend_marks_the_partial_month(session: Session, settings: Settings, seed: Seed) -> None:
    pdf = _pack(session, settings, "en", start="2025-01-15", end="2025-04-10")
    kinds = " ".join(text_runs(pdf)[2])
    assert "2025-01*" in kinds and "2025-04*" in kinds and "2025-02*" not in kinds
    assert "Partial month" in kinds and "2025-01 days 15–31" in kinds
    assert "2025-04 days 1–9" in kinds


def test_rankings_hold_points_and_name_places(
    session: Session, settings: Settings, seed: Seed
) -> None:
    briefing = brief.collect(
        session=session,
        params=brief.parse_briefing_params(lang="en"),
        settings=settings,
        principal=Principal(name="Penyusun", role="viewer"),
    )
    cells = briefing.hotspots.result.cells
    assert ((cells["gi_bin"] > 0) & (cells["count"] == 0)).any()  # hot through neighbours only
    assert briefing.top and all(r.count > 0 for r in briefing.top)
    assert all(r.place is not None and r.place.kecamatan for r in briefing.top)
    assert briefing.top[0].place and briefing.top[0].place.kecamatan == "Sajingan Besar"
    assert {r.place.kecamatan for r in briefing.top if r.place} <= {"Sajingan Besar", "Paloh"}
    assert briefing.stop_places and briefing.stop_places[0].kecamatan == "Sajingan Besar"


def test_places_in_words(session: Session, seed: Seed) -> None:
    sea = to_utm(108.75, 1.45)  # the South China Sea off Pemangkat
    busy = to_utm(*seed.busy_point)
    inside, at_sea = places_at(session=session, x_utm=[busy[0], sea[0]], y_utm=[busy[1], sea[1]])
    assert inside.kecamatan == "Sajingan Besar" and inside.desa and inside.distance_m == 0
    assert not inside.at_sea
    assert at_sea.at_sea and at_sea.desa  # the nearest desa is still known
    from maps.briefing_pages import place_text

    assert place_text(at_sea, "en") == "at sea" and place_text(at_sea, "id") == "laut"
    assert place_text(inside, "id") == f"{inside.desa}, Sajingan Besar"


def test_wrapping_keeps_words_and_breaks_only_what_must() -> None:
    def width(s: str) -> float:
        return float(len(s))

    assert wrap_to_width("Registered foreigners", 12, width) == ["Registered", "foreigners"]
    assert wrap_to_width("Sebunga", 20, width) == ["Sebunga"]
    assert wrap_to_width("Abcdefghijkl", 5, width) == ["Abcd-", "efgh-", "ijkl"]
    assert wrap_to_width("Incidents/km²", 10, width) == ["Incidents/", "km²"]


@pytest.mark.parametrize(
    ("preferred", "least", "expected"),
    [
        pytest.param([1, 1], [10, 10], [50, 50], id="room-for-all"),
        pytest.param([1, 3], [40, 10], [40, 60], id="narrow-column-widened"),
        # 15 more for the first, taken from the others' room (15 and 40) in proportion.
        pytest.param(
            [1, 1, 2], [40, 10, 10], [40, 25 - 15 * 15 / 55, 50 - 15 * 40 / 55], id="proportional"
        ),
    ],
)
def test_column_widths(preferred: list[float], least: list[float], expected: list[float]) -> None:
    assert fit_widths(preferred, least, 100) == pytest.approx(expected)
    assert fit_widths(preferred, [60, 60], 100) is None
