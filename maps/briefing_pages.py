"""The seven pages of the briefing pack, drawn from a collected ``Briefing`` (no database).

Cover map with key figures; counts per kecamatan (table and choropleth); incidents by kind with a
monthly trend; top hot spots with coordinates and kecamatan; the current patrol plan (map and
stops); optionally the teams' patrol coverage (``maps.briefing_coverage``); open alerts by rule
and kecamatan; the period's inspections and findings by agency; the last meeting's follow-up
actions and the agencies' contributions (``maps.briefing_followup``). Counts of persons below 3
are printed as "<3".
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from geo import inspections as inspection_vocabulary
from geo.access import suppress_count
from geo.briefing import Place
from geo.mapdata import KecamatanStat
from geo.patrol import PatrolPlan
from maps.briefing_content import Briefing
from maps.briefing_coverage import coverage_page
from maps.briefing_followup import followup_page
from maps.hotspot_labels import confidence_text, trend_text
from maps.hotspot_layers import exact_statistics
from maps.labels import Lang, t
from maps.printed_table import count_text, decimal_text, draw_table, persons_text
from maps.sheet import MAP_RECT, furnish, new_page
from maps.snapshot import draw_map
from maps.static_basemap import map_axes
from maps.static_layers import KIND_COLOURS, Layer, PolygonLayer, number_text
from maps.utm_geometry import geojson_to_utm

PAGES: Final = (
    "cover",
    "kecamatan",
    "kinds",
    "hotspots",
    "patrol",
    "alerts",
    "inspections",
    "followup",
)


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


def place_text(place: Place | None, lang: Lang) -> str:
    """A cell's or a stop's place in words: its desa and kecamatan, "near" the nearest desa
    when it lies outside every desa on land, or the sea."""
    if place is None or place.desa is None:
        return t("brief_unknown_place", lang)
    if place.at_sea:
        return t("brief_at_sea", lang)
    name = f"{place.desa}, {place.kecamatan}" if place.kecamatan else place.desa
    if place.distance_m:
        return t("brief_near", lang, place=name)
    return name


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
        [t("col_incidents", lang), count_text(incidents, lang)],
        [t("sightings", lang), persons_text(sightings, lang)],
        [t("foreigners", lang), persons_text(foreigners, lang)],
        [t("brief_open_alerts", lang), count_text(open_alerts, lang)],
        [t("brief_hot_cells", lang), count_text(n_hot, lang)],
        [t("snap_patrol_stops", lang), count_text(len(briefing.patrol.plan.points), lang)],
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
        t("brief_inspections", lang),
        t("brief_followup", lang),
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
        lang=lang,
    )
    _map(fig, briefing, choropleth, rect=(0.025, 0.095, 0.50, 0.785))
    sightings = {s.code: s.count for s in briefing.sightings}
    ordered = sorted(stats, key=lambda s: (-s.count, s.name))
    rows = [
        [
            s.name,
            count_text(s.count, lang),
            persons_text(sightings.get(s.code, 0), lang),
            persons_text(s.foreigners, lang),
            decimal_text(s.per_km2, lang, 3),
        ]
        for s in ordered
    ]
    rows.append(
        [
            t("total", lang),
            count_text(sum(s.count for s in stats), lang),
            persons_text(sum(sightings.values()), lang),
            persons_text(sum(s.foreigners for s in stats), lang),
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
        [
            t(kind, lang),
            count_text(n, lang),
            f"{decimal_text(100 * n / grand, lang, 1)} %" if grand else "–",
        ]
        for kind, n in ordered
    ]
    if rows:
        rows.append([t("total", lang), count_text(grand, lang), "100 %"])
    table_ax = fig.add_axes((0.025, 0.40, 0.33, 0.47))
    draw_table(
        table_ax,
        [t("kind", lang), t("count", lang), t("col_share", lang)],
        rows,
        widths=[0.6, 0.2, 0.2],
        fontsize=8,
        bold_last=True,
    )
    chart = fig.add_axes((0.42, 0.22, 0.55, 0.62))
    months = briefing.kinds.months
    chart.set_title(t("brief_trend", lang), loc="left", fontsize=10, fontweight="bold")
    if not months:
        chart.set_axis_off()
        chart.text(0.5, 0.5, t("no_data", lang), ha="center", va="center", fontsize=18)
        return fig
    x = np.arange(len(months))
    # A month the period covers only in part is drawn open and dotted, its tick starred and
    # explained under the chart: 8 incidents in 6 days are not a collapse from 45 in a month.
    partial = np.array([m in briefing.partial_months for m in months])
    total = np.zeros(len(months))
    series: list[tuple[str, Any, str, float, str]] = []
    for i, (kind, _) in enumerate(ordered):
        values = np.asarray(briefing.kinds.counts[kind], dtype=float)
        total += values
        if i < 6:
            series.append((t(kind, lang), values, KIND_COLOURS[i], 1.3, "-"))
    series.append((t("total", lang), total, "black", 1.8, "--"))
    for label, values, colour, width, style in series:
        whole = np.where(partial, np.nan, values)
        chart.plot(x, whole, marker="o", ms=3, lw=width, ls=style, color=colour, label=label)
        for j in np.flatnonzero(partial).tolist():
            near = [k for k in (j - 1, j + 1) if 0 <= k < len(months)]
            for k in near:
                chart.plot([x[k], x[j]], [values[k], values[j]], lw=width, ls=":", color=colour)
            chart.plot(
                [x[j]], [values[j]], marker="o", ms=3.5, mfc="white", mec=colour, ls="", lw=0
            )
    ticks = [f"{m}*" if m in briefing.partial_months else m for m in months]
    step = max(1, len(months) // 12)
    chart.set_xticks(x[::step], [ticks[i] for i in range(0, len(months), step)])
    chart.tick_params(axis="x", labelrotation=45, labelsize=7)
    chart.tick_params(axis="y", labelsize=7)
    chart.set_ylabel(f"{t('col_incidents', lang)} / {t('month', lang).lower()}", fontsize=8)
    chart.set_xlabel(f"{t('month', lang)} (WIB)", fontsize=8)
    chart.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(total))) * 1.3)
    chart.grid(alpha=0.3, lw=0.5)
    chart.spines[["top", "right"]].set_visible(False)
    chart.yaxis.set_major_locator(MaxNLocator(integer=True))
    chart.yaxis.set_major_formatter(lambda v, _: number_text(v, lang))
    if briefing.partial_months:
        days = [
            t("brief_partial_days", lang, month=m, first=first, last=last)
            for m, (first, last) in sorted(briefing.partial_months.items())
        ]
        fig.text(
            0.42,
            0.085,
            t("brief_partial_note", lang, months="; ".join(days)),
            fontsize=7,
            color="#333333",
            va="bottom",
        )
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
            place_text(r.place, lang),
            count_text(r.count, lang)
            if exact
            else str(suppress_count(r.count, briefing.sheet.role)),
            decimal_text(r.gi_z, lang) if exact else "",
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
            t("col_place", lang),
            t("count", lang),
            "Gi* z",
            t("col_confidence", lang),
            t("col_trend", lang),
        ],
        rows or [[t("brief_none", lang), "", "", "", "", "", "", ""]],
        widths=[0.05, 0.095, 0.085, 0.235, 0.07, 0.07, 0.17, 0.225],
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
            place_text(briefing.stop_places[i], lang),
            decimal_text(p.covered_weight, lang, 0),
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
            t("col_place", lang),
            t("col_covered", lang),
            t("col_cells", lang),
        ],
        rows or [[t("brief_none", lang), "", "", "", "", ""]],
        widths=[0.09, 0.14, 0.13, 0.34, 0.18, 0.12],
        fontsize=7.5,
        numeric=(0, 1, 2, 4, 5),
    )
    summary = [
        t(
            "snap_patrol_covered",
            lang,
            share=f"{decimal_text(100 * plan.covered_share, lang, 0)} %",
        ),
        t("snap_patrol_route", lang, km=decimal_text(plan.length_km, lang, 1)),
        t(
            "snap_patrol_radius",
            lang,
            r=f"{plan.radius_m / 1000:g}".replace(".", "," if lang == "id" else "."),
        ),
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
        return persons_text(n, lang) if rule in persons else count_text(n, lang)

    rows = [
        [
            t(f"rule_{a.rule_kind}", lang),
            a.kecamatan or t("brief_outside", lang),
            count(a.rule_kind, a.count),
            count(a.rule_kind, a.opened),
        ]
        for a in sorted(briefing.alerts, key=lambda a: (a.rule_kind, -a.count, a.kecamatan))
    ]
    ax = fig.add_axes((0.025, 0.095, 0.50, 0.785))
    draw_table(
        ax,
        [t("rule", lang), t("col_kecamatan", lang), t("count", lang), t("col_new_episodes", lang)],
        rows or [[t("brief_none", lang), "", "", ""]],
        widths=[0.44, 0.30, 0.13, 0.13],
        fontsize=7.5,
        numeric=(2, 3),
    )
    chart = fig.add_axes((0.70, 0.25, 0.27, 0.60))
    chart.set_title(t("brief_open_alerts", lang), loc="left", fontsize=10, fontweight="bold")
    if not per_rule:
        chart.set_axis_off()
        chart.text(0.5, 0.5, t("brief_none", lang), ha="center", va="center", fontsize=16)
        return fig
    ordered = sorted(per_rule.items(), key=lambda kv: (kv[1], kv[0]))
    y = np.arange(len(ordered))
    # Bars of person alerts below 3 would reveal the hidden count: drawn at 3, hatched, "<3".
    lengths = [max(n, 3) if rule in persons and 0 < n < 3 else n for rule, n in ordered]
    bars = chart.barh(y, lengths, color="#d6604d", height=0.6)
    for patch, (rule, n) in zip(bars.patches, ordered, strict=True):
        if rule in persons and 0 < n < 3 and isinstance(patch, Rectangle):
            patch.set_hatch("///")
    chart.set_yticks(
        y, [textwrap.fill(t(f"rule_{rule}", lang), 20) for rule, _ in ordered], fontsize=7
    )
    # The count sits a few points past the bar's end, and the axis leaves room for it.
    for yi, length, (rule, n) in zip(y, lengths, ordered, strict=True):
        chart.annotate(
            count(rule, n),
            (length, float(yi)),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=7,
        )
    chart.set_xlim(0, max(lengths) * 1.25 + 0.5)
    chart.tick_params(axis="x", labelsize=7)
    chart.xaxis.set_major_locator(MaxNLocator(integer=True))
    chart.xaxis.set_major_formatter(lambda v, _: number_text(v, lang))
    chart.spines[["top", "right"]].set_visible(False)
    return fig


def inspections_page(briefing: Briefing, page: int, pages: int) -> Figure:
    """The period's inspections by agency (led, took part, violations found) and the persons
    checked by finding and action: counts only, persons below 3 as "<3", no totals beside them
    (a total next to a "<3" would give it back)."""
    lang = briefing.params.lang
    fig = _page(briefing, _title("brief_inspections", lang), page, pages)
    tally = briefing.inspections
    fig.text(
        0.025,
        0.86,
        t(
            "brief_inspections_count",
            lang,
            n=count_text(tally.inspections if tally else 0, lang),
            m=count_text(tally.workplaces if tally else 0, lang),
        ),
        va="top",
        fontsize=9,
    )
    agencies = tally.agencies if tally else []
    rows = [
        [
            f"{a.short_name} — {a.name}",
            count_text(a.led, lang),
            count_text(a.present, lang),
            persons_text(a.violations, lang),
        ]
        for a in agencies
    ]
    ax = fig.add_axes((0.025, 0.14, 0.44, 0.68))
    draw_table(
        ax,
        [
            t("col_agency", lang),
            t("col_led", lang),
            t("col_present", lang),
            t("col_violations", lang),
        ],
        rows or [[t("brief_none", lang), "", "", ""]],
        widths=[0.52, 0.13, 0.15, 0.20],
        fontsize=7.5,
        numeric=(1, 2, 3),
    )
    cells = tally.cells if tally else {}
    findings = [f for f in inspection_vocabulary.FINDINGS if any(k[0] == f for k in cells)]
    actions = inspection_vocabulary.ACTIONS
    matrix = [
        [
            t(f"finding_{f}", lang),
            *(
                persons_text(cells.get((f, a), 0), lang) if cells.get((f, a)) else "–"
                for a in actions
            ),
        ]
        for f in findings
    ]
    ax = fig.add_axes((0.49, 0.14, 0.49, 0.68))
    ax.set_title(t("brief_findings", lang), loc="left", fontsize=10, fontweight="bold")
    draw_table(
        ax,
        [t("col_finding", lang), *(t(f"action_{a}", lang) for a in actions)],
        matrix or [[t("brief_none", lang), *([""] * len(actions))]],
        widths=[0.25, *([0.15] * len(actions))],
        fontsize=7,
        numeric=tuple(range(1, len(actions) + 1)),
    )
    fig.text(
        0.025, 0.095, t("brief_inspections_note", lang), fontsize=7, color="#333333", va="bottom"
    )
    return fig


def page_names(briefing: Briefing) -> tuple[str, ...]:
    """The pack's pages: cover to inspections, the follow-up page when there is one, and the
    patrol coverage after the plan when asked for."""
    names = PAGES if briefing.followup is not None else PAGES[:-1]
    return names if briefing.coverage is None else (*names[:5], "coverage", *names[5:])


def draw_pages(briefing: Briefing) -> list[Figure]:
    names = page_names(briefing)
    pages = len(names)
    figures = [
        cover_page(briefing, pages),
        kecamatan_page(briefing, 2, pages),
        kinds_page(briefing, 3, pages),
        hotspots_page(briefing, 4, pages),
        patrol_page(briefing, 5, pages),
    ]
    coverage = briefing.coverage
    if coverage is not None:
        lang = briefing.params.lang
        figures.append(
            coverage_page(
                coverage=coverage,
                patrol=briefing.patrol,
                basemap=briefing.basemap,
                kecamatan=briefing.params.filters.kecamatan,
                lang=lang,
                new_page=lambda title, subtitle: _page(
                    briefing, f"{title} — {t('kabupaten', lang)}", 6, pages, subtitle
                ),
            )
        )
    figures.append(alerts_page(briefing, names.index("alerts") + 1, pages))
    figures.append(inspections_page(briefing, names.index("inspections") + 1, pages))
    if briefing.followup is not None:
        figures.append(
            followup_page(
                briefing.followup,
                briefing.params.lang,
                lambda title, subtitle: _page(briefing, title, pages, pages, subtitle),
            )
        )
    return figures
