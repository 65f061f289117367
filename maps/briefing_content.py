"""What the briefing pack shows, read through ``geo``: aggregates only, whatever the caller's role.

Nothing here reads a name, a passport or a permit number. Every query goes through ``geo``
(``geo.mapdata``, ``geo.hotspots``, ``geo.patrol``, ``geo.briefing``); the Gi* analysis runs once
and feeds both the hot-spot page and the patrol plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from sqlalchemy.orm import Session

from geo import briefing as briefing_sql
from geo import inspections, mapdata
from geo.briefing import AlertTally, KindMonthCounts, Place
from geo.hotspots.analysis import HotspotResult
from geo.mapdata import KecamatanStat, MapFilters, parse_filters
from geo.patrol import to_lonlat
from geo.settings import Settings
from geo.times import WIB
from geo.users import Principal
from maps.briefing_coverage import PatrolCoverage, collect_coverage
from maps.briefing_followup import FollowUp, collect_followup
from maps.hotspot_layers import hotspot_result
from maps.labels import Lang, check_lang, t
from maps.sheet import Sheet
from maps.snapshot import (
    HEAT_CELL_M,
    HOTSPOT_CELL_M,
    cells_utm,
    make_sheet,
    patrol_plan,
)
from maps.static_basemap import Basemap, load_basemap
from maps.static_layers import GridLayer, HotspotLayer, PatrolLayer, grid_from_heat_cells, km

TOP_HOTSPOTS: Final = 12


@dataclass(frozen=True)
class BriefingParams:
    filters: MapFilters
    lang: Lang = "id"
    patrol_coverage: bool = False  # the patrol-coverage page (roles that manage patrols)


def parse_briefing_params(
    *,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    lang: str | None = None,
    default_lang: str = "id",
    patrol_coverage: bool = False,
) -> BriefingParams:
    """The map views' filters (incident kinds) and the language; errors name the value."""
    filters = parse_filters(layer="incidents", start=start, end=end, kind=kind, kecamatan=kecamatan)
    return BriefingParams(
        filters=filters, lang=check_lang(lang, default_lang), patrol_coverage=patrol_coverage
    )


@dataclass(frozen=True)
class HotRow:
    rank: int
    lon: float
    lat: float
    x_utm: float
    y_utm: float
    place: Place | None
    count: int
    gi_z: float
    gi_bin: int
    trend: str


@dataclass(frozen=True)
class Briefing:
    """Everything the pack shows (aggregates only); ``draw_pages`` needs no database."""

    params: BriefingParams
    sheet: Sheet
    basemap: Basemap
    incidents: list[KecamatanStat]
    sightings: list[KecamatanStat]
    kinds: KindMonthCounts
    cover: GridLayer
    hotspots: HotspotLayer
    top: list[HotRow]
    patrol: PatrolLayer
    stop_places: list[Place]
    alerts: list[AlertTally]
    partial_months: dict[str, tuple[int, int]]  # YYYY-MM -> first and last day covered (WIB)
    coverage: PatrolCoverage | None = None  # with ``patrol_coverage``
    followup: FollowUp | None = None  # the last meeting's actions, the agencies' contributions
    inspections: inspections.InspectionTally | None = None  # the period's, by agency


def _in_filter(stats: list[KecamatanStat], codes: Sequence[str]) -> list[KecamatanStat]:
    return [s for s in stats if not codes or s.code in codes]


def top_hotspots(result: HotspotResult, *, n: int = TOP_HOTSPOTS) -> list[HotRow]:
    """Hot cells (≥ 90 %) that hold points, by Gi* z, strongest first, with their centres in
    lon/lat. A cell is hot through its neighbours too; one without a point of its own is no place
    to send anyone, so the ranking leaves it out."""
    cells = result.cells
    if not len(cells):
        return []
    hot = cells[(cells["gi_bin"] > 0) & (cells["count"] > 0)]
    hot = hot.sort_values(["gi_z", "cell_id"], ascending=[False, True])
    hot = hot.head(n)
    lon, lat = to_lonlat(hot["x_utm"].to_numpy(float), hot["y_utm"].to_numpy(float))
    return [
        HotRow(
            rank=i + 1,
            lon=float(lon[i]),
            lat=float(lat[i]),
            x_utm=float(row.x_utm),
            y_utm=float(row.y_utm),
            place=None,
            count=int(row.count),
            gi_z=float(row.gi_z),
            gi_bin=int(row.gi_bin),
            trend=str(row.trend),
        )
        for i, row in enumerate(hot.itertuples(index=False))
    ]


def collect(
    *,
    session: Session,
    params: BriefingParams,
    settings: Settings,
    principal: Principal,
) -> Briefing:
    """Read the pack's aggregates through ``geo``."""
    filters, lang = params.filters, params.lang
    codes = filters.kecamatan
    basemap = load_basemap(session=session)
    sheet = make_sheet(
        session=session,
        settings=settings,
        principal=principal,
        filters=filters,
        lang=lang,
        basemap=basemap,
    )
    sighting_filters = MapFilters(
        layer="sightings", start=filters.start, end=filters.end, kecamatan=codes
    )
    incidents = _in_filter(mapdata.kecamatan_stats(session=session, filters=filters), codes)
    sightings = _in_filter(
        mapdata.kecamatan_stats(session=session, filters=sighting_filters), codes
    )
    gx, gy, n = grid_from_heat_cells(
        mapdata.heat_cells(session=session, filters=filters, cell_m=HEAT_CELL_M)
    )
    cover = GridLayer(
        HEAT_CELL_M, gx, gy, n, False, t("count_per_cell", lang, size=km(HEAT_CELL_M, lang))
    )
    result = hotspot_result(
        session=session, filters=filters, cell_m=HOTSPOT_CELL_M, settings=settings
    )
    hot_layer = HotspotLayer(
        result,
        cells_utm(result),
        False,
        t("snap_legend_hotspots", lang, size=km(HOTSPOT_CELL_M, lang)),
    )
    top = top_hotspots(result)
    plan = patrol_plan(
        session=session,
        result=result,
        settings=settings,
        reference_time=filters.end or sheet.data_as_of,
    )
    hot_mask = result.cells["gi_bin"].to_numpy() >= 2 if len(result.cells) else None
    patrol = PatrolLayer(
        plan, cells_utm(result, hot_mask), hot_layer.total, t("snap_layer_patrol", lang)
    )
    coverage = None
    if params.patrol_coverage:
        coverage = collect_coverage(
            session=session,
            settings=settings,
            principal=principal,
            start=filters.start,
            end=filters.end,
            result=result,
            radius_m=plan.radius_m,
        )
    # One lookup for the hot spots and the stops: the desa each lies in or near, or the sea.
    xs = [*(r.x_utm for r in top), *(p.x_utm for p in plan.points)]
    ys = [*(r.y_utm for r in top), *(p.y_utm for p in plan.points)]
    places = briefing_sql.places_at(session=session, x_utm=xs, y_utm=ys)
    top = [replace(r, place=places[i]) for i, r in enumerate(top)]
    kinds = briefing_sql.incidents_by_kind_month(session=session, filters=filters)
    return Briefing(
        params=params,
        sheet=sheet,
        basemap=basemap,
        incidents=incidents,
        sightings=sightings,
        kinds=kinds,
        cover=cover,
        hotspots=hot_layer,
        top=top,
        patrol=patrol,
        stop_places=places[len(top) :],
        alerts=briefing_sql.alert_episodes_by_rule(
            session=session, kecamatan=codes, start=filters.start, end=filters.end
        ),
        partial_months=partial_months(
            kinds.months, start=filters.start, end=filters.end or sheet.data_as_of
        ),
        coverage=coverage,
        followup=collect_followup(
            session=session, principal=principal, start=filters.start, end=filters.end
        ),
        inspections=inspections.tally(
            session=session,
            start=None if filters.start is None else filters.start.astimezone(WIB).date(),
            end=None if filters.end is None else _day_after_wib(filters.end),
            kecamatan=codes,
        ),
    )


def _day_after_wib(end: dt.datetime) -> dt.date:
    """The first day (WIB) wholly after an exclusive end time: a period ending at midnight ends
    with the day before it, one ending at noon takes that day in."""
    return (end - dt.timedelta(microseconds=1)).astimezone(WIB).date() + dt.timedelta(days=1)


def partial_months(
    months: Sequence[str], *, start: dt.datetime | None, end: dt.datetime | None
) -> dict[str, tuple[int, int]]:
    """The calendar months (WIB) that the period covers only in part, with the first and last
    day it covers: a month cut by the period's start or end, or the month the data reaches into
    (``end`` is then the data's newest write). A trend must not read such a month as a whole one.
    """
    out: dict[str, tuple[int, int]] = {}
    for month in months:
        year, number = (int(p) for p in month.split("-"))
        first = dt.datetime(year, number, 1, tzinfo=WIB)
        after = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=WIB)
        if (start is not None and start >= after) or (end is not None and end <= first):
            continue  # outside the period altogether
        cut_start = start is not None and start > first
        cut_end = end is not None and end < after
        if not (cut_start or cut_end):
            continue
        begin = start.astimezone(WIB) if cut_start and start is not None else first
        # ``end`` is exclusive: a period ending at midnight covers the day before it.
        finish = (end if cut_end and end is not None else after) - dt.timedelta(microseconds=1)
        out[month] = (begin.day, finish.astimezone(WIB).day)
    return out
