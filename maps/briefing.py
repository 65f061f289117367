"""The briefing pack: a multi-page A4 landscape PDF for the head of office and the Forkopimda.

Pages: cover map with key figures; counts per kecamatan (table and choropleth); incidents by kind
with a monthly trend; top hot spots with coordinates and kecamatan; the current patrol plan (map
and stops); open alerts by rule and kecamatan. **Aggregates only**, whatever the caller's role:
nothing here reads a name, a passport or a permit number, and counts of persons (sightings,
registered foreigners, alerts about a person) below 3 are printed as "<3".

Every query goes through ``geo`` (``geo.mapdata``, ``geo.hotspots``, ``geo.patrol``,
``geo.briefing``); the Gi* analysis runs once and feeds both the hot-spot page and the plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from sqlalchemy.orm import Session

from geo import briefing as briefing_sql
from geo import mapdata
from geo.briefing import AlertTally, KindMonthCounts
from geo.hotspots.analysis import HotspotResult
from geo.mapdata import KecamatanStat, MapFilters, parse_filters
from geo.patrol import PatrolPlan, to_lonlat
from geo.settings import Settings
from geo.times import WIB
from geo.users import Principal
from maps.hotspots import confidence_text, trend_text
from maps.labels import Lang, check_lang, t
from maps.sheet import (
    MAP_RECT,
    Basemap,
    Sheet,
    furnish,
    load_basemap,
    map_axes,
    new_page,
    pages_pdf,
)
from maps.snapshot import (
    HEAT_CELL_M,
    HOTSPOT_CELL_M,
    cells_utm,
    draw_map,
    hotspot_result,
    make_sheet,
    patrol_plan,
)
from maps.static_layers import (
    KIND_COLOURS,
    GridLayer,
    HotspotLayer,
    Layer,
    PatrolLayer,
    PolygonLayer,
    grid_from_heat_cells,
    km,
    shown,
)

TOP_HOTSPOTS: Final = 12
TABLE_RECT: Final = (0.625, 0.095, 0.35, 0.785)
HEADER_COLOUR: Final = "#e8e8e8"
PAGES: Final = ("cover", "kecamatan", "kinds", "hotspots", "patrol", "alerts")


@dataclass(frozen=True)
class BriefingParams:
    filters: MapFilters
    lang: Lang = "id"


def parse_briefing_params(
    *,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    lang: str | None = None,
    default_lang: str = "id",
) -> BriefingParams:
    """The map views' filters (incident kinds) and the language; errors name the value."""
    filters = parse_filters(layer="incidents", start=start, end=end, kind=kind, kecamatan=kecamatan)
    return BriefingParams(filters=filters, lang=check_lang(lang, default_lang))


@dataclass(frozen=True)
class HotRow:
    rank: int
    lon: float
    lat: float
    x_utm: float
    y_utm: float
    kecamatan: str | None
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
    stop_kecamatan: list[str | None]
    alerts: list[AlertTally]


def _in_filter(stats: list[KecamatanStat], codes: Sequence[str]) -> list[KecamatanStat]:
    return [s for s in stats if not codes or s.code in codes]


def top_hotspots(result: HotspotResult, *, n: int = TOP_HOTSPOTS) -> list[HotRow]:
    """Hot cells (≥ 90 %) by Gi* z, strongest first, with their centres in lon/lat."""
    cells = result.cells
    if not len(cells):
        return []
    hot = cells[cells["gi_bin"] > 0].sort_values(["gi_z", "cell_id"], ascending=[False, True])
    hot = hot.head(n)
    lon, lat = to_lonlat(hot["x_utm"].to_numpy(float), hot["y_utm"].to_numpy(float))
    return [
        HotRow(
            rank=i + 1,
            lon=float(lon[i]),
            lat=float(lat[i]),
            x_utm=float(row.x_utm),
            y_utm=float(row.y_utm),
            kecamatan=None,
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
    # One lookup for the hot spots and the stops: which kecamatan each lies in.
    xs = [*(r.x_utm for r in top), *(p.x_utm for p in plan.points)]
    ys = [*(r.y_utm for r in top), *(p.y_utm for p in plan.points)]
    names = briefing_sql.kecamatan_at(session=session, x_utm=xs, y_utm=ys)
    top = [replace(r, kecamatan=names[i]) for i, r in enumerate(top)]
    return Briefing(
        params=params,
        sheet=sheet,
        basemap=basemap,
        incidents=incidents,
        sightings=sightings,
        kinds=briefing_sql.incidents_by_kind_month(session=session, filters=filters),
        cover=cover,
        hotspots=hot_layer,
        top=top,
        patrol=patrol,
        stop_kecamatan=names[len(top) :],
        alerts=briefing_sql.open_alerts_by_rule(session=session, kecamatan=codes),
    )


# --- drawing helpers ----------------------------------------------------------------------------


def _num(value: int) -> str:
    return shown(value, persons=False)


def _persons(value: int) -> str:
    return shown(value, persons=True)


def _dec(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def draw_table(
    ax: Axes,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    widths: Sequence[float],
    fontsize: float = 7.5,
    numeric: Sequence[int] | None = None,
    bold_last: bool = False,
) -> None:
    """A plain table at the top of ``ax``: header shaded, numbers right-aligned."""
    ax.set_axis_off()
    if not rows:
        ax.text(0.0, 0.98, "—", va="top", fontsize=fontsize)
        return
    row_h = min(0.055, 0.98 / (len(rows) + 1))
    table = ax.table(
        cellText=[list(r) for r in rows],
        colLabels=list(columns),
        colWidths=list(widths),
        loc="upper left",
        cellLoc="left",
        bbox=Bbox.from_bounds(
            0.0, 1.0 - row_h * (len(rows) + 1), float(sum(widths)), row_h * (len(rows) + 1)
        ),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    for (r, c), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        cell.set_edgecolor("#bbbbbb")
        if r == 0:
            cell.set_facecolor(HEADER_COLOUR)
            cell.get_text().set_fontweight("bold")
        if c in (numeric if numeric is not None else range(1, len(columns))):
            cell.get_text().set_horizontalalignment("right")
            setattr(cell, "_loc", "right")  # noqa: B010  # Cell places its text by _loc
        if bold_last and r == len(rows):
            cell.get_text().set_fontweight("bold")


def _page(
    briefing: Briefing, title: str, page: int, pages: int, subtitle: str | None = None
) -> Figure:
    fig = new_page()
    sheet = briefing.sheet
    line = subtitle or "   ·   ".join(
        [f"{t('period', sheet.lang)}: {sheet.period}", *sheet.filters]
    )
    furnish(fig, sheet, title=title, subtitle=line, page=page, pages=pages)
    return fig


def _map(fig: Figure, briefing: Briefing, layer: Layer, rect: Sequence[float] = MAP_RECT) -> None:
    ax = map_axes(fig, rect)
    legend = draw_map(
        ax,
        basemap=briefing.basemap,
        layer=layer,
        lang=briefing.params.lang,
        kecamatan=briefing.params.filters.kecamatan,
    )
    # The layer's legend under the map's caption corner: a compact key in real counts.
    handles = [h for h, _ in legend.entries]
    labels = [lab for _, lab in legend.entries]
    if handles:
        ax.legend(
            handles,
            labels,
            title=legend.title,
            loc="lower right",
            fontsize=6.5,
            title_fontsize=7,
            framealpha=0.9,
            alignment="left",
        ).set_zorder(60)


def _title(key: str, lang: Lang) -> str:
    return f"{t(key, lang)} — {t('kabupaten', lang)}"


# --- pages --------------------------------------------------------------------------------------


def cover_page(briefing: Briefing, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(
        briefing,
        f"{t('brief_title', lang)} — {t('kabupaten', lang)}",
        1,
        pages,
        subtitle="   ·   ".join(
            [
                t("brief_subtitle", lang),
                f"{t('period', lang)}: {briefing.sheet.period}",
                *briefing.sheet.filters,
            ]
        ),
    )
    _map(fig, briefing, briefing.cover)
    ax = fig.add_axes((0.625, 0.47, 0.35, 0.41))
    incidents = sum(s.count for s in briefing.incidents)
    sightings = sum(s.count for s in briefing.sightings)
    foreigners = sum(s.foreigners for s in briefing.incidents)
    open_alerts = sum(a.count for a in briefing.alerts)
    cells = briefing.hotspots.result.cells
    n_hot = int((cells["gi_bin"] > 0).sum()) if len(cells) else 0
    rows = [
        [t("col_incidents", lang), _num(incidents)],
        [t("sightings", lang), _persons(sightings)],
        [t("foreigners", lang), _persons(foreigners)],
        [t("brief_open_alerts", lang), _num(open_alerts)],
        [t("brief_hot_cells", lang), _num(n_hot)],
        [t("snap_patrol_stops", lang), _num(len(briefing.patrol.plan.points))],
    ]
    ax.set_title(t("brief_key_figures", lang), loc="left", fontsize=10, fontweight="bold")
    draw_table(ax, ["", t("count", lang)], rows, widths=[0.75, 0.25], fontsize=8.5)
    contents = fig.add_axes((0.625, 0.095, 0.35, 0.33))
    contents.set_axis_off()
    items = [
        t("brief_kecamatan", lang),
        f"{t('brief_kinds', lang)}; {t('brief_trend', lang).lower()}",
        t("brief_hotspots", lang),
        t("brief_patrol", lang),
        t("brief_alerts", lang),
    ]
    lines = [f"{i + 2}. {item}" for i, item in enumerate(items)]
    contents.text(
        0.0,
        1.0,
        f"{t('brief_contents', lang)}\n" + "\n".join(lines),
        va="top",
        fontsize=8.5,
        linespacing=1.6,
    )
    contents.text(
        0.0,
        0.12,
        f"{t('snap_note_aggregate', lang)}\n{t('suppressed_note', lang)}",
        va="top",
        fontsize=7.5,
        color="#333333",
    )
    return fig


def kecamatan_page(briefing: Briefing, page: int, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_kecamatan", lang), page, pages)
    stats = briefing.incidents
    choropleth = PolygonLayer(
        [_geom(s) for s in stats],
        [s.count for s in stats],
        False,
        t("snap_legend_kecamatan", lang),
        zero_shown=True,
        names=[s.code for s in stats],
    )
    _map(fig, briefing, choropleth, rect=(0.025, 0.095, 0.50, 0.785))
    sightings = {s.code: s.count for s in briefing.sightings}
    ordered = sorted(stats, key=lambda s: (-s.count, s.name))
    rows = [
        [
            s.name,
            _num(s.count),
            _persons(sightings.get(s.code, 0)),
            _persons(s.foreigners),
            _dec(s.per_km2, 3),
        ]
        for s in ordered
    ]
    rows.append(
        [
            t("total", lang),
            _num(sum(s.count for s in stats)),
            _persons(sum(sightings.values())),
            _persons(sum(s.foreigners for s in stats)),
            "",
        ]
    )
    ax = fig.add_axes((0.55, 0.095, 0.43, 0.785))
    draw_table(
        ax,
        [
            t("col_kecamatan", lang),
            t("col_incidents", lang),
            t("col_sightings", lang),
            t("foreigners", lang),
            t("col_per_km2", lang),
        ],
        rows,
        widths=[0.30, 0.15, 0.17, 0.20, 0.18],
        fontsize=7,
        bold_last=True,
    )
    return fig


def _geom(stat: KecamatanStat) -> Any:
    from maps.sheet import geojson_to_utm

    return geojson_to_utm(stat.geometry)


def kinds_page(briefing: Briefing, page: int, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_kinds", lang), page, pages)
    totals = briefing.kinds.totals()
    grand = sum(totals.values())
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = [
        [t(kind, lang), _num(n), f"{_dec(100 * n / grand, 1)} %" if grand else "–"]
        for kind, n in ordered
    ]
    if rows:
        rows.append([t("total", lang), _num(grand), "100 %"])
    table_ax = fig.add_axes((0.025, 0.40, 0.33, 0.47))
    draw_table(
        table_ax,
        [t("kind", lang), t("count", lang), t("col_share", lang)],
        rows,
        widths=[0.6, 0.2, 0.2],
        fontsize=8,
        bold_last=True,
    )
    chart = fig.add_axes((0.42, 0.16, 0.55, 0.68))
    months = briefing.kinds.months
    chart.set_title(t("brief_trend", lang), loc="left", fontsize=10, fontweight="bold")
    if not months:
        chart.set_axis_off()
        chart.text(0.5, 0.5, t("no_data", lang), ha="center", va="center", fontsize=18)
        return fig
    x = np.arange(len(months))
    total = np.zeros(len(months))
    for i, (kind, _) in enumerate(ordered):
        values = np.asarray(briefing.kinds.counts[kind], dtype=float)
        total += values
        if i < 6:
            chart.plot(
                x, values, marker="o", ms=3, lw=1.3, color=KIND_COLOURS[i], label=t(kind, lang)
            )
    chart.plot(x, total, color="black", lw=1.8, ls="--", label=t("total", lang))
    step = max(1, len(months) // 12)
    chart.set_xticks(x[::step], [months[i] for i in range(0, len(months), step)])
    chart.tick_params(axis="x", labelrotation=45, labelsize=7)
    chart.tick_params(axis="y", labelsize=7)
    chart.set_ylabel(f"{t('col_incidents', lang)} / {t('month', lang).lower()}", fontsize=8)
    chart.set_xlabel(f"{t('month', lang)} (WIB)", fontsize=8)
    chart.set_ylim(bottom=0)
    chart.grid(alpha=0.3, lw=0.5)
    chart.spines[["top", "right"]].set_visible(False)
    chart.yaxis.set_major_locator(MaxNLocator(integer=True))
    chart.legend(fontsize=7, loc="upper right", framealpha=0.9)
    return fig


def hotspots_page(briefing: Briefing, page: int, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_hotspots", lang), page, pages)
    _map(fig, briefing, briefing.hotspots, rect=(0.025, 0.095, 0.45, 0.785))
    rows = [
        [
            str(r.rank),
            f"{r.lon:.4f}",
            f"{r.lat:.4f}",
            r.kecamatan or t("brief_outside", lang),
            _num(r.count),
            _dec(r.gi_z),
            confidence_text(r.gi_bin, lang),
            trend_text(r.trend, lang),
        ]
        for r in briefing.top
    ]
    ax = fig.add_axes((0.49, 0.095, 0.49, 0.785))
    draw_table(
        ax,
        [
            t("col_rank", lang),
            t("col_lon", lang),
            t("col_lat", lang),
            t("col_kecamatan", lang),
            t("count", lang),
            "Gi* z",
            t("col_confidence", lang),
            t("col_trend", lang),
        ],
        rows or [[t("brief_none", lang), "", "", "", "", "", "", ""]],
        widths=[0.05, 0.095, 0.085, 0.17, 0.08, 0.075, 0.2, 0.245],
        fontsize=6.3,
        numeric=(0, 1, 2, 4, 5),
    )
    return fig


def patrol_page(briefing: Briefing, page: int, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_patrol", lang), page, pages)
    _map(fig, briefing, briefing.patrol, rect=(0.025, 0.095, 0.50, 0.785))
    plan: PatrolPlan = briefing.patrol.plan
    rows = [
        [
            str(p.order),
            f"{p.lon:.4f}",
            f"{p.lat:.4f}",
            briefing.stop_kecamatan[i] or t("brief_outside", lang),
            _dec(p.covered_weight, 0),
            str(len(p.cells_covered)),
        ]
        for i, p in enumerate(plan.points)
    ]
    ax = fig.add_axes((0.55, 0.30, 0.43, 0.58))
    draw_table(
        ax,
        [
            t("col_stop", lang),
            t("col_lon", lang),
            t("col_lat", lang),
            t("col_kecamatan", lang),
            t("col_covered", lang),
            t("col_cells", lang),
        ],
        rows or [[t("brief_none", lang), "", "", "", "", ""]],
        widths=[0.10, 0.15, 0.14, 0.27, 0.20, 0.10],
        fontsize=7.5,
        numeric=(0, 1, 2, 4, 5),
    )
    summary = [
        t("snap_patrol_covered", lang, share=f"{plan.covered_share:.0%}"),
        t("snap_patrol_route", lang, km=_dec(plan.length_km, 1)),
        t("snap_patrol_radius", lang, r=f"{plan.radius_m / 1000:g}"),
        f"{t('snap_patrol_start', lang)}: {plan.start[0]:.4f}, {plan.start[1]:.4f}",
    ]
    fig.text(0.55, 0.27, "\n".join(summary), va="top", fontsize=8, linespacing=1.5)
    return fig


def alerts_page(briefing: Briefing, page: int, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_alerts", lang), page, pages)
    per_rule: dict[str, int] = {}
    for a in briefing.alerts:
        per_rule[a.rule_kind] = per_rule.get(a.rule_kind, 0) + a.count
    persons = {a.rule_kind for a in briefing.alerts if a.about_persons}

    def count(rule: str, n: int) -> str:
        return _persons(n) if rule in persons else _num(n)

    rows = [
        [
            t(f"rule_{a.rule_kind}", lang),
            a.kecamatan or t("brief_outside", lang),
            count(a.rule_kind, a.count),
        ]
        for a in sorted(briefing.alerts, key=lambda a: (a.rule_kind, -a.count, a.kecamatan))
    ]
    ax = fig.add_axes((0.025, 0.095, 0.50, 0.785))
    draw_table(
        ax,
        [t("rule", lang), t("col_kecamatan", lang), t("count", lang)],
        rows or [[t("brief_none", lang), "", ""]],
        widths=[0.5, 0.35, 0.15],
        fontsize=7.5,
        numeric=(2,),
    )
    chart = fig.add_axes((0.62, 0.25, 0.35, 0.60))
    chart.set_title(t("brief_open_alerts", lang), loc="left", fontsize=10, fontweight="bold")
    if not per_rule:
        chart.set_axis_off()
        chart.text(0.5, 0.5, t("brief_none", lang), ha="center", va="center", fontsize=16)
        return fig
    ordered = sorted(per_rule.items(), key=lambda kv: (kv[1], kv[0]))
    y = np.arange(len(ordered))
    chart.barh(y, [n for _, n in ordered], color="#d6604d", height=0.6)
    chart.set_yticks(y, [t(f"rule_{rule}", lang) for rule, _ in ordered], fontsize=7)
    for yi, (rule, n) in zip(y, ordered, strict=True):
        chart.text(
            max(n, 3) if rule in persons else n,
            float(yi),
            f" {count(rule, n)}",
            va="center",
            fontsize=7,
        )
    # Bars of person alerts below 3 would reveal the hidden count: draw them at 3, labelled <3.
    for patch, (rule, n) in zip(chart.patches, ordered, strict=True):
        if rule in persons and 0 < n < 3 and isinstance(patch, Rectangle):
            patch.set_width(3)
            patch.set_hatch("///")
    chart.tick_params(axis="x", labelsize=7)
    chart.xaxis.set_major_locator(MaxNLocator(integer=True))
    chart.spines[["top", "right"]].set_visible(False)
    return fig


def draw_pages(briefing: Briefing) -> list[Figure]:
    pages = len(PAGES)
    return [
        cover_page(briefing, pages),
        kecamatan_page(briefing, 2, pages),
        kinds_page(briefing, 3, pages),
        hotspots_page(briefing, 4, pages),
        patrol_page(briefing, 5, pages),
        alerts_page(briefing, 6, pages),
    ]


def render(briefing: Briefing) -> bytes:
    return pages_pdf(draw_pages(briefing))


def render_briefing(
    *,
    session: Session,
    params: BriefingParams,
    settings: Settings,
    principal: Principal,
) -> tuple[bytes, Briefing]:
    """Collect and render: what ``GET /maps/briefing.pdf`` and ``timpora briefing`` do."""
    briefing = collect(session=session, params=params, settings=settings, principal=principal)
    return render(briefing), briefing


def file_name(params: BriefingParams) -> str:
    parts = ["timpora-briefing"]
    f = params.filters
    if f.start:
        parts.append(f.start.astimezone(WIB).strftime("%Y%m%d"))
    if f.end:
        parts.append(f.end.astimezone(WIB).strftime("%Y%m%d"))
    return "-".join(parts) + ".pdf"
