"""The ``risk`` view: workplaces ranked for joint inspections as graduated symbols, with their
factors in a popup, and (``plan=ID``) a saved inspection plan's route and stops.

The ranking is ``geo.risk``'s, as the reader's role sees it (docs/risk.md). Symbols are
graduated by rank class (size and colour). For a role without personal data a symbol must not
single out a person: a workplace whose only factors, the site's own aside (near the border,
days since its last inspection), are counts of fewer than 3 persons is drawn in one grey
**suppressed** class, without rank, score or factors (its popup says why); its counts are "<3"
everywhere else too (docs/privacy.md). Every text reaches the page escaped (``maps.escaping``).

View options (query string): ``limit`` (workplaces drawn, 1-200, default 50), ``as_of``
(YYYY-MM-DD, the ranking's reference date), ``plan`` (a saved plan's id); ``kecamatan``
narrows the ranking to its workplaces.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import folium
from branca.element import Figure, MacroElement
from folium.template import Template
from sqlalchemy.orm import Session

from geo import risk
from geo.access import MIN_PERSON_COUNT, sees_personal_data
from geo.inspection_plan import get_plan
from geo.registry.caps import Cap
from geo.settings import Settings
from geo.times import WIB, today_wib
from geo.users import Principal
from maps.basemap import add_background, add_foreground
from maps.common import (
    SUPPRESSED_COLOUR,
    Box,
    MapParams,
    layer_control,
    legend_html,
    new_map,
    place_title,
)
from maps.escaping import TextTooltip, html_text, js_string
from maps.labels import Lang, t
from maps.risk_labels import agency_texts, factor_rows, factor_texts, rt

DEFAULT_LIMIT: Final = 50
LIMIT: Final = Cap("limit", 1, risk.MAX_LIMIT)
PLAN_ID: Final = Cap("plan", 1, 2**31 - 1)
# Rank classes: ranks 1-10, 11-25, 26-50, 51-100, 101-200; the top class largest and darkest.
RANK_BREAKS: Final = (10, 25, 50, 100, 200)
RADII: Final = (13, 10, 8, 6, 5)
COLOURS: Final = ("#99000d", "#d7301f", "#fc8d59", "#fdbb84", "#fee8c8")
SUPPRESSED_RADIUS: Final = 6
# Factors about the site, not about persons or events: public wherever the site is known.
SITE_FACTORS: Final = frozenset({"border_proximity", "days_since_inspection"})
PLAN_COLOURS: Final = ("#1f4e99", "#2e8b57", "#8e44ad", "#b35900", "#444444")


class TextPopup(MacroElement):
    """A popup of HTML built here from escaped values, passed to Leaflet as a JSON string."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindPopup({{ this.content_js }}, {maxWidth: 340});
        {% endmacro %}
        """
    )

    def __init__(self, content_html: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "TextPopup"
        self.content_js = js_string(content_html)


def rank_class(rank: int) -> int:
    """The class of a rank: 0 for ranks 1-10, 1 for 11-25, ..."""
    return next((i for i, top in enumerate(RANK_BREAKS) if rank <= top), len(RANK_BREAKS) - 1)


def class_label(c: int, lang: Lang) -> str:
    """The key's words for rank class ``c``: "Peringkat 1–10", "Peringkat 11–25", ..."""
    top = RANK_BREAKS[c]
    if c == 0:
        return rt("risk_class_top", lang, n=top)
    return rt("risk_class_range", lang, a=RANK_BREAKS[c - 1] + 1, b=top)


def singles_out_persons(row: Any) -> bool:
    """Whether a workplace's symbol would point at fewer than 3 persons: every factor it has,
    what the site itself is aside (near the border, time since its last inspection), is a
    count of persons below 3."""
    present = [
        name
        for name in risk.FACTOR_NAMES
        if name not in SITE_FACTORS and float(getattr(row, name) or 0) > 0
    ]
    return bool(present) and all(
        name in risk.PERSON_FACTORS and float(getattr(row, name)) < MIN_PERSON_COUNT
        for name in present
    )


def _popup(rows: Sequence[tuple[str, str]], title: str, notes: Sequence[str] = ()) -> str:
    parts = [f"<b>{html_text(title)}</b><table class='tpm-risk'>"]
    parts += [f"<tr><th>{html_text(k)}</th><td>{html_text(v)}</td></tr>" for k, v in rows]
    parts.append("</table>")
    parts += [f"<div class='note'>{html_text(n)}</div>" for n in notes]
    return "".join(parts)


def _add_ranking(
    m: folium.Map, *, items: list[tuple[int, risk.Scored]], role: str, lang: Lang
) -> tuple[set[int], bool]:
    """The workplaces as symbols, lowest rank first so the top ones lie on top; returns the
    classes drawn and whether a suppressed symbol was drawn."""
    personal = sees_personal_data(role)
    group = folium.FeatureGroup(name=rt("risk_view", lang))
    classes: set[int] = set()
    any_suppressed = False
    for rank, s in sorted(items, key=lambda item: -item[0]):
        row = s.row
        where = ", ".join(x for x in (row.desa_name, row.kecamatan_name) if x)
        if not personal and singles_out_persons(row):
            any_suppressed = True
            marker = folium.CircleMarker(
                (row.lat, row.lon),
                radius=SUPPRESSED_RADIUS,
                color="#555555",
                weight=1,
                fill=True,
                fill_color=SUPPRESSED_COLOUR,
                fill_opacity=0.9,
            )
            TextTooltip(row.name).add_to(marker)
            withheld = [where, rt("risk_suppressed_popup", lang)]
            TextPopup(_popup([], row.name, withheld)).add_to(marker)
            marker.add_to(group)
            continue
        c = rank_class(rank)
        classes.add(c)
        shown = risk.shown_factors(s.factors, role)
        rows = [
            (rt("risk_rank", lang), str(rank)),
            (rt("risk_score", lang), f"{s.score:.1f}"),
            *factor_rows(shown, lang),
        ]
        marker = folium.CircleMarker(
            (row.lat, row.lon),
            radius=RADII[c],
            color="#222222",
            weight=1,
            fill=True,
            fill_color=COLOURS[c],
            fill_opacity=0.9,
        )
        TextTooltip(f"{rank}. {row.name}").add_to(marker)
        TextPopup(_popup(rows, row.name, [f"{row.sector} · {where}"])).add_to(marker)
        marker.add_to(group)
    group.add_to(m)
    return classes, any_suppressed


def _add_plan(m: folium.Map, *, plan: dict[str, Any], lang: Lang) -> list[list[float]]:
    """The plan's route (a line per day), start and numbered stops; returns their [lat, lon]."""
    meta = plan["plan"]
    group = folium.FeatureGroup(name=rt("risk_plan_layer", lang, id=meta["id"]))
    points = [[meta["start"]["lat"], meta["start"]["lon"]]]
    for feature in plan["features"]:
        props = feature["properties"]
        if props["kind"] == "route":
            for i, line in enumerate(feature["geometry"]["coordinates"]):
                folium.PolyLine(  # type: ignore[no-untyped-call]
                    [(lat, lon) for lon, lat in line],
                    color=PLAN_COLOURS[i % len(PLAN_COLOURS)],
                    weight=3,
                    dash_array="6 4",
                    tooltip=TextTooltip(
                        f"{rt('plan_route_line', lang)}: {meta['route_length_km']:.1f} km"
                    ),
                ).add_to(group)
    start = folium.CircleMarker(
        points[0], radius=7, color="#000", weight=2, fill=True, fill_color="#fff", fill_opacity=1
    )
    TextTooltip(meta["start"].get("name") or rt("plan_start_marker", lang)).add_to(start)
    start.add_to(group)
    for feature in plan["features"]:
        props = feature["properties"]
        if props["kind"] != "stop":
            continue
        lon, lat = feature["geometry"]["coordinates"]
        points.append([lat, lon])
        order = int(props["position"])
        marker = folium.Marker(
            (lat, lon),
            icon=folium.DivIcon(
                html=f'<div class="tpm-plan-stop">{order}</div>',
                icon_size=(22, 22),
                icon_anchor=(11, 11),
            ),
        )
        TextTooltip(f"{order}. {props['name']}").add_to(marker)
        rows = [
            (rt("col_visit", lang), props["visit_on"]),
            (rt("col_leg", lang), f"{props['leg_km']:.1f}"),
            (rt("col_reasons", lang), "; ".join(factor_texts(props["factors"], lang))),
            (rt("col_agencies", lang), "; ".join(agency_texts(props["agencies"], lang))),
        ]
        TextPopup(_popup(rows, f"{order}. {props['name']}")).add_to(marker)
        marker.add_to(group)
    group.add_to(m)
    return points


PLAN_CSS: Final = """
<style>
.tpm-plan-stop { background: #1f4e99; color: #fff; border-radius: 50%; width: 22px;
  height: 22px; line-height: 22px; text-align: center; font: bold 12px sans-serif;
  border: 2px solid #fff; box-sizing: border-box; }
table.tpm-risk th { text-align: left; padding-right: 8px; font-weight: normal; color: #444; }
</style>
"""


def ranked_items(
    *, session: Session, query: risk.RiskQuery, role: str, kecamatan: Sequence[str] = ()
) -> list[tuple[int, risk.Scored]]:
    """The workplaces the view draws, with their rank in the whole regency: those scoring above
    0, in ``kecamatan`` when given, at most ``query.limit``; scored as ``role`` may see them.
    The printed ``risk`` snapshot (``maps.risk_snapshot``) draws the same."""
    ranking = risk.scored_workplaces(
        session=session,
        query=query,
        weight=risk.weights(session=session),
        personal=sees_personal_data(role),
    )
    codes = set(kecamatan)
    return [
        (rank, s)
        for rank, s in enumerate(ranking, start=1)
        if s.score > 0 and (not codes or s.row.kecamatan_code in codes)
    ][: query.limit]


def build_workplace_risk(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """The ``risk`` view (see the module docstring)."""
    lang = params.lang
    limit = LIMIT.integer(params.number("limit", DEFAULT_LIMIT))
    query = risk.parse_query(limit=limit, as_of=params.extra.get("as_of") or None)
    plan = None
    if "plan" in params.extra:
        plan_id = PLAN_ID.integer(params.number("plan", 0))
        plan = get_plan(
            session=session,
            plan_id=plan_id,
            principal=Principal(name="map", role=principal_role),
            audited=False,
        )
    items = ranked_items(
        session=session, query=query, role=principal_role, kecamatan=params.filters.kecamatan
    )
    m = new_map(session=session, settings=settings, lang=lang, params=params)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(folium.Element(PLAN_CSS), name="timpora_plan_css")
    layers = add_background(m, session=session, lang=lang)
    classes, suppressed = _add_ranking(m, items=items, role=principal_role, lang=lang)
    if plan is not None:
        points = _add_plan(m, plan=plan, lang=lang)
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        pad = 0.02
        m.fit_bounds([[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]])
    rows = [(COLOURS[c], class_label(c, lang)) for c in range(len(RANK_BREAKS)) if c in classes]
    if suppressed:
        rows.append((SUPPRESSED_COLOUR, rt("risk_class_suppressed", lang)))
    if plan is not None:
        rows.append((PLAN_COLOURS[0], rt("risk_plan_key", lang, id=plan["id"])))
    notes = [rt("risk_key_note", lang, n=limit)] if items else [rt("risk_none", lang)]
    box = Box(
        legend_html(rt("risk_key_title", lang), rows, notes),
        position="bottomright",
        css_class="tpm-legend",
    )
    add_foreground(m, layers=layers, lang=lang)
    _caption(params, query, plan).add_to(m)
    box.add_to(m)
    layer_control(m)
    return m


def _caption(params: MapParams, query: risk.RiskQuery, plan: dict[str, Any] | None) -> Box:
    """Title, the ranking's date and area, the plan shown, the time of generation."""
    lang = params.lang
    lines = [f"<h4>{html_text(place_title(rt('risk_view', lang), params))}</h4>"]
    day = (query.as_of or today_wib()).isoformat()
    lines.append(f"<div>{html_text(rt('risk_as_of', lang, day=day))}</div>")
    if plan is not None:
        meta = plan["plan"]
        when = meta["starts_on"]
        if meta["period"] == "week":
            when = f"{meta['starts_on']} – {meta['ends_on']}"
        name = rt("risk_plan_layer", lang, id=meta["id"])
        lines.append(f"<div>{html_text(name)}: {html_text(when)}</div>")
    now = dt.datetime.now(WIB).strftime("%Y-%m-%d %H:%M")
    lines.append(f'<div class="note">{html_text(t("generated", lang))} {now} WIB</div>')
    lines.append(f'<div class="note">{html_text(t("attribution", lang))}</div>')
    return Box("".join(lines), position="topright", css_class="tpm-caption")
