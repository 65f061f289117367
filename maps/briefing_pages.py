"""The six pages of the briefing pack, drawn from a collected ``Briefing`` (no database).

Cover map with key figures; counts per kecamatan (table and choropleth); incidents by kind with a
monthly trend; top hot spots with coordinates and kecamatan; the current patrol plan (map and
stops); open alerts by rule and kecamatan. Counts of persons below 3 are printed as "<3".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from geo.access import suppress_count
from geo.mapdata import KecamatanStat
from geo.patrol import PatrolPlan
from maps.briefing_content import Briefing
from maps.hotspot_labels import confidence_text, trend_text
from maps.hotspot_layers import exact_statistics
from maps.labels import Lang, t
from maps.printed_table import count_text, decimal_text, draw_table, persons_text
from maps.sheet import MAP_RECT, furnish, new_page
from maps.snapshot import draw_map
from maps.static_basemap import map_axes
from maps.static_layers import KIND_COLOURS, Layer, PolygonLayer
from maps.utm_geometry import geojson_to_utm

PAGES: Final = ("cover", "kecamatan", "kinds", "hotspots", "patrol", "alerts")


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
        [t("col_incidents", lang), count_text(incidents)],
        [t("sightings", lang), persons_text(sightings)],
        [t("foreigners", lang), persons_text(foreigners)],
        [t("brief_open_alerts", lang), count_text(open_alerts)],
        [t("brief_hot_cells", lang), count_text(n_hot)],
        [t("snap_patrol_stops", lang), count_text(len(briefing.patrol.plan.points))],
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
            count_text(s.count),
            persons_text(sightings.get(s.code, 0)),
            persons_text(s.foreigners),
            decimal_text(s.per_km2, 3),
        ]
        for s in ordered
    ]
    rows.append(
        [
            t("total", lang),
            count_text(sum(s.count for s in stats)),
            persons_text(sum(sightings.values())),
            persons_text(sum(s.foreigners for s in stats)),
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
    return geojson_to_utm(stat.geometry)


def kinds_page(briefing: Briefing, page: int, pages: int) -> Figure:
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_kinds", lang), page, pages)
    totals = briefing.kinds.totals()
    grand = sum(totals.values())
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = [
        [t(kind, lang), count_text(n), f"{decimal_text(100 * n / grand, 1)} %" if grand else "–"]
        for kind, n in ordered
    ]
    if rows:
        rows.append([t("total", lang), count_text(grand), "100 %"])
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
    # Cells of sightings are persons: for a reader without personal data, small counts are
    # "<3" and no exact z (which, with the counts around a cell, gives them back).
    exact = exact_statistics(briefing.hotspots.result, briefing.sheet.role)
    rows = [
        [
            str(r.rank),
            f"{r.lon:.4f}",
            f"{r.lat:.4f}",
            r.kecamatan or t("brief_outside", lang),
            count_text(r.count) if exact else str(suppress_count(r.count, briefing.sheet.role)),
            decimal_text(r.gi_z) if exact else "",
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
            decimal_text(p.covered_weight, 0),
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
        t("snap_patrol_route", lang, km=decimal_text(plan.length_km, 1)),
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
        return persons_text(n) if rule in persons else count_text(n)

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
