"""Map aggregates in SQL: cells, hexagons, kecamatan, periods; filters and their validation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from geo import mapdata
from geo.errors import ValidationError
from geo.geometry import latlon
from geo.registry.filters import parse_cell_m
from tests.maps.seed import Seed


def test_latlon_swaps_the_axes() -> None:
    assert latlon(109.5, 1.6) == [1.6, 109.5]


def test_heat_cells_sum_to_the_points_and_are_bounded_by_area(session: Session, seed: Seed) -> None:
    cells = mapdata.heat_cells(session=session, filters=mapdata.parse_filters(), cell_m=500)
    assert cells.total == sum(seed.incidents.values()) == 35
    assert sum(c[2] for c in cells.cells) == 35
    coarse = mapdata.heat_cells(session=session, filters=mapdata.parse_filters(), cell_m=5000)
    assert coarse.total == 35 and len(coarse.cells) < len(cells.cells)
    assert len(coarse.cells) <= 4  # two small clusters, possibly cut by grid lines
    for lat, lon, _n in cells.cells:
        assert 0.9 < lat < 2.1 and 108.9 < lon < 110.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({}, 35, id="all"),
        pytest.param({"kind": "illegal_work"}, 20, id="kind"),
        pytest.param({"kind": "illegal_work,overstay"}, 30, id="kinds"),
        pytest.param({"start": "2025-04-01"}, 5, id="start-wib"),
        pytest.param({"end": "2025-01-06T09:00"}, 0, id="end-exclusive-wib"),
        pytest.param({"end": "2025-01-06T09:00:01"}, 1, id="end-after-first"),
        pytest.param({"layer": "sightings"}, 12, id="sightings"),
        pytest.param({"layer": "sightings", "kind": "lodging"}, 2, id="sighting-source"),
    ],
)
def test_filters(session: Session, seed: Seed, raw: dict[str, str], expected: int) -> None:
    filters = mapdata.parse_filters(**raw)
    assert mapdata.heat_cells(session=session, filters=filters).total == expected


def test_kecamatan_filter(session: Session, seed: Seed) -> None:
    filters = mapdata.parse_filters(kecamatan=seed.quiet_code)
    assert (
        mapdata.heat_cells(session=session, filters=filters).total
        == seed.incidents[seed.quiet_code]
    )


def test_hex_counts_sum_to_the_points(session: Session, seed: Seed) -> None:
    cells = mapdata.hex_counts(session=session, filters=mapdata.parse_filters(), cell_m=1000)
    assert sum(c.count for c in cells) == 35
    assert all(c.geometry["type"] == "Polygon" for c in cells)


def test_kecamatan_stats_counts_rates_and_residents(session: Session, seed: Seed) -> None:
    stats = {
        s.code: s for s in mapdata.kecamatan_stats(session=session, filters=mapdata.parse_filters())
    }
    assert len(stats) == 19  # the regency's kecamatan, with zeros
    busy = stats[seed.busy_code]
    assert busy.count == seed.incidents[seed.busy_code] == 30
    assert busy.foreigners == 4
    assert busy.per_km2 == pytest.approx(30 / busy.area_km2)
    assert busy.per_foreigner == pytest.approx(30 / 4)
    assert sum(s.count for s in stats.values()) == 35


def test_period_counts_by_month_and_week(session: Session, seed: Seed) -> None:
    months = mapdata.period_counts(session=session, filters=mapdata.parse_filters(), period="month")
    assert months.periods == ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"]
    assert sum(months.totals()) == 35
    assert months.counts["2025-04-01"] == {seed.quiet_code: 5}
    weeks = mapdata.period_counts(session=session, filters=mapdata.parse_filters(), period="week")
    assert weeks.periods[0] == "2025-01-06"  # a Monday (ISO week)
    assert all(dt.date.fromisoformat(p).weekday() == 0 for p in weeks.periods)
    assert sum(weeks.totals()) == 35


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param({"layer": "boats"}, "layer", id="layer"),
        pytest.param({"kind": "piracy"}, "kind", id="kind"),
        pytest.param({"layer": "sightings", "kind": "overstay"}, "kind", id="kind-of-other-layer"),
        pytest.param({"start": "31/01/2025"}, "start", id="start"),
        pytest.param({"start": "2025-02-01", "end": "2025-01-01"}, "end", id="order"),
        pytest.param({"kecamatan": "61.01.09 OR 1=1"}, "kecamatan", id="kecamatan"),
    ],
)
def test_bad_filters_name_the_field(raw: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        mapdata.parse_filters(**raw)
    assert info.value.field == field


def test_cell_size_is_checked() -> None:
    with pytest.raises(ValidationError, match="50"):
        parse_cell_m(50)
