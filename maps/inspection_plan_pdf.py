"""The inspection plan for the field: one A4 page with a small route map and the stops in
order, each with its reasons and the agencies to involve (docs/risk.md, "Inspection plan").

The page shows what the reader's role may see (``geo.inspection_plan.get_plan`` decides):
counts of persons below 3 as "<3" for roles without personal data; for the others the persons
behind the reasons too. Each file leaves an ``export`` audit row.
"""

from __future__ import annotations

from typing import Any, Final

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sqlalchemy.orm import Session

from geo import audit
from geo import briefing as briefing_sql
from geo.boundaries import attributions
from geo.inspection_plan import get_plan
from geo.settings import Settings
from geo.users import Principal
from maps.label_placement import POINT_OFFSETS, Labeller
from maps.labels import Lang, check_lang
from maps.map_furniture import scale_bar
from maps.printed_table import draw_table
from maps.products import MEDIA_TYPES, MapFile
from maps.risk_labels import agency_texts, factor_texts, rt
from maps.sheet import Sheet, figure_bytes, furnish, new_page
from maps.static_basemap import (
    Basemap,
    draw_base_over,
    draw_base_under,
    load_basemap,
    map_axes,
    set_extent,
)
from maps.static_layers import number_text
from maps.utm_geometry import lonlat_to_utm

MAP_RECT: Final = (0.025, 0.215, 0.355, 0.665)
KEY_RECT: Final = (0.025, 0.095, 0.355, 0.11)
TABLE_RECT: Final = (0.40, 0.095, 0.575, 0.785)
MIN_EXTENT_M: Final = 8_000.0  # a plan of one nearby stop still shows its surroundings
DAY_COLOURS: Final = ("#c0392b", "#1f6fb2", "#2e8b57", "#8e44ad", "#d35400")
START_COLOUR: Final = "#111111"


def _stops(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in plan["features"] if f["properties"]["kind"] == "stop"]


def _when(meta: dict[str, Any], lang: Lang) -> str:
    if meta["period"] == "week":
        return rt("plan_week", lang, start=meta["starts_on"], end=meta["ends_on"])
    return rt("plan_day", lang, day=meta["starts_on"])


def _start_text(meta: dict[str, Any]) -> str:
    start = meta["start"]
    point = f"{start['lon']:.4f}, {start['lat']:.4f}"
    return f"{start['name']} ({point})" if start.get("name") else point


def _draw_map(ax: Axes, plan: dict[str, Any], basemap: Basemap, lang: Lang) -> None:
    meta = plan["plan"]
    stops = _stops(plan)
    lons = [meta["start"]["lon"], *(f["geometry"]["coordinates"][0] for f in stops)]
    lats = [meta["start"]["lat"], *(f["geometry"]["coordinates"][1] for f in stops)]
    xs, ys = lonlat_to_utm(lons, lats)
    minx, maxx, miny, maxy = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    grow_x = max(0.0, MIN_EXTENT_M - (maxx - minx)) / 2
    grow_y = max(0.0, MIN_EXTENT_M - (maxy - miny)) / 2
    set_extent(ax, (minx - grow_x, miny - grow_y, maxx + grow_x, maxy + grow_y), margin=0.08)
    draw_base_under(ax, basemap)
    draw_base_over(ax, basemap)
    days = sorted({f["properties"]["visit_on"] for f in stops})
    route = next((f for f in plan["features"] if f["properties"]["kind"] == "route"), None)
    if route is not None:
        for i, line in enumerate(route["geometry"]["coordinates"]):
            lx, ly = lonlat_to_utm([c[0] for c in line], [c[1] for c in line])
            ax.plot(lx, ly, color=DAY_COLOURS[i % len(DAY_COLOURS)], lw=1.5, zorder=30)
    labeller = Labeller(ax)
    for artist in scale_bar(ax, lang):
        labeller.reserve(artist)
    ax.scatter([xs[0]], [ys[0]], marker="s", s=42, color=START_COLOUR, edgecolor="white", zorder=32)
    labeller.reserve_point(float(xs[0]), float(ys[0]), 8)
    for i, f in enumerate(stops, start=1):
        colour = DAY_COLOURS[days.index(f["properties"]["visit_on"]) % len(DAY_COLOURS)]
        ax.scatter([xs[i]], [ys[i]], s=30, color=colour, edgecolor="white", lw=0.8, zorder=31)
        labeller.reserve_point(float(xs[i]), float(ys[i]), 7)
    for i, f in enumerate(stops, start=1):
        labeller.add(
            float(xs[i]),
            float(ys[i]),
            str(f["properties"]["position"]),
            offsets=POINT_OFFSETS,
            fontsize=7.5,
            fontweight="bold",
            zorder=35,
        )


def _draw_key(ax: Axes, plan: dict[str, Any], lang: Lang) -> None:
    ax.set_axis_off()
    handles = [
        Line2D([], [], marker="s", ls="", color=START_COLOUR, mec="white", ms=6),
        Line2D([], [], color=DAY_COLOURS[0], lw=1.5),
        Line2D([], [], marker="o", ls="", color=DAY_COLOURS[0], mec="white", ms=5.5),
    ]
    labels = [rt("plan_start_marker", lang), rt("plan_route_line", lang)]
    labels.append(rt("plan_stop_marker", lang))
    ax.legend(
        handles,
        labels,
        loc="upper left",
        ncols=3,
        fontsize=6.5,
        frameon=False,
        handlelength=1.4,
        columnspacing=1.0,
        borderaxespad=0.0,
    )
    meta = plan["plan"]
    lines = [
        rt(
            "plan_route",
            lang,
            km=number_text(meta["route_length_km"], lang, 1),
            max=number_text(meta["max_route_km"], lang, 0),
        ),
        rt("plan_method", lang),
    ]
    ax.text(0.0, 0.45, "\n".join(lines), va="top", ha="left", fontsize=6.5, linespacing=1.4)


def _rows(plan: dict[str, Any], lang: Lang, week: bool) -> list[list[str]]:
    rows = []
    for f in _stops(plan):
        p = f["properties"]
        place = p["name"] + (f" ({p['kecamatan_name']})" if p.get("kecamatan_name") else "")
        reasons = "; ".join(factor_texts(p["factors"], lang))
        persons = sorted(
            {(q["foreigner_id"], q["full_name"]) for v in p.get("reasons", {}).values() for q in v}
        )
        if persons:
            names = ", ".join(f"{name} ({fid})" for fid, name in persons)
            reasons += f"\n{rt('plan_persons', lang)}: {names}"
        row = [str(p["position"])]
        if week:
            row.append(p["visit_on"])
        row += [
            place,
            number_text(p["leg_km"], lang, 1),
            number_text(p["score"], lang, 1),
            reasons,
            "; ".join(agency_texts(p["agencies"], lang)),
        ]
        rows.append(row)
    return rows


def draw_plan_page(plan: dict[str, Any], *, basemap: Basemap, sheet: Sheet) -> Figure:
    """The page: furniture, the route map and its key, the table of stops."""
    lang = sheet.lang
    meta = plan["plan"]
    fig = new_page()
    subtitle = "   ·   ".join(
        [
            rt("plan_number", lang, id=meta["id"]),
            _when(meta, lang),
            f"{rt('plan_start', lang)}: {_start_text(meta)}",
            rt("plan_stops", lang, n=meta["n_stops"]),
            *sheet.filters,
        ]
    )
    furnish(fig, sheet, title=rt("plan_title", lang), subtitle=subtitle, page=1, pages=1)
    _draw_map(map_axes(fig, MAP_RECT), plan, basemap, lang)
    _draw_key(fig.add_axes(KEY_RECT), plan, lang)
    week = meta["period"] == "week"
    columns = [rt("col_order", lang)]
    widths = [0.05]
    if week:
        columns.append(rt("col_visit", lang))
        widths.append(0.11)
    columns += [rt(k, lang) for k in ("col_workplace", "col_leg", "col_score")]
    columns += [rt("col_reasons", lang), rt("col_agencies", lang)]
    widths += [0.24, 0.07, 0.07, 0.37, 0.20] if not week else [0.2, 0.07, 0.07, 0.31, 0.17]
    numeric = (0, len(columns) - 4, len(columns) - 3)
    rows = _rows(plan, lang, week)
    empty = [rt("plan_no_stops", lang)] + [""] * (len(columns) - 1)
    draw_table(
        fig.add_axes(TABLE_RECT),
        columns,
        rows or [empty],
        widths=widths,
        fontsize=7.5,
        numeric=numeric,
    )
    return fig


def plan_sheet(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    plan: dict[str, Any],
    lang: Lang,
) -> Sheet:
    meta = plan["plan"]
    kecamatan = meta.get("parameters", {}).get("kecamatan_name")
    return Sheet(
        marking=settings.service.classification_marking,
        lang=lang,
        author=principal.name,
        role=principal.role,
        data_as_of=briefing_sql.data_as_of(session=session),
        attributions=tuple(attributions()),
        period=_when(meta, lang),
        filters=(f"{rt('plan_kecamatan', lang)}: {kecamatan}",) if kecamatan else (),
    )


def plan_pdf_file(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    plan_id: int,
    lang: str | None = None,
    client: str | None = None,
) -> MapFile:
    """The plan's field sheet as one PDF page, as ``principal`` may see it; audited as
    ``export`` (with the number of persons named, for roles that may see them)."""
    language = check_lang(lang, settings.service.default_lang)
    plan = get_plan(session=session, plan_id=plan_id, principal=principal, audited=False)
    sheet = plan_sheet(
        session=session, settings=settings, principal=principal, plan=plan, lang=language
    )
    fig = draw_plan_page(plan, basemap=load_basemap(session=session), sheet=sheet)
    content = figure_bytes(fig, "pdf")
    persons = {
        q["foreigner_id"]
        for f in _stops(plan)
        for v in f["properties"].get("reasons", {}).values()
        for q in v
    }
    made = MapFile(
        content=content,
        media_type=MEDIA_TYPES["pdf"],
        file_name=f"timpora-inspection-plan-{plan['id']}-{plan['plan']['starts_on']}.pdf",
        resource=f"inspections/plans/{plan['id']}.pdf",
        record_count=len(persons),
        details={"lang": language, "stops": plan["plan"]["n_stops"], "persons": len(persons)},
    )
    audit.record(
        session=session,
        principal=principal,
        action="export",
        resource=made.resource,
        record_count=made.record_count,
        client=client,
        details=made.details,
    )
    return made


__all__ = ["draw_plan_page", "plan_pdf_file", "plan_sheet"]
