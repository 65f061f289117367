"""The ``patrol`` view: a patrol plan over the hot cells it was made from, with the reference
basemap; and :func:`patrol_map`, the same on a plain map for notebooks.

With ``day=YYYY-MM-DD`` (roles that manage patrols only: tracks are officers' movements) the
view compares the plan with where the teams went that day (WIB): the plan as it stood that
morning (patrols logged before the day), its stops and the day's logged patrols marked visited
where a team's track passed within the stop's radius, missed where none did, the day's tracks
drawn, and the stops listed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import folium
from sqlalchemy.orm import Session

from geo import access
from geo.field import patrolled, tracks
from geo.hotspots.analysis import HotspotResult
from geo.patrol import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    PatrolPlan,
    default_start,
    list_patrols,
    plan_on_hotspots,
)
from geo.registry.caps import AVOID_RECENT_DAYS, PATROL_K
from geo.settings import Settings
from geo.times import WIB
from maps.basemap import add_background
from maps.common import MapParams, finish_view, layer_control, new_map
from maps.field_labels import ft
from maps.hotspot_labels import label
from maps.hotspot_layers import (
    bounds_of,
    count_texts,
    exact_statistics,
    hotspot_layer,
    hotspot_legend,
    patrol_layer,
    patrol_summary,
    plain_map,
    view_hotspot_result,
)
from maps.patrol_tracks import track_lines, tracks_layer, visits_box, visits_layer


def patrol_map(
    plan: PatrolPlan, *, result: HotspotResult | None = None, lang: str = "id"
) -> folium.Map:
    """A map (no tiles) of a patrol plan over the hot cells it was made from."""
    m = plain_map(bounds_of(None, plan) or bounds_of(result, None))
    if result is not None:
        hotspot_layer(result, lang=lang, show_not_significant=False).add_to(m)
        hotspot_legend(result, lang=lang, trends=False).add_to(m)
    patrol_layer(plan, lang=lang).add_to(m)
    patrol_summary(plan, lang=lang).add_to(m)
    layer_control(m)
    return m


def build_patrol(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """The ``patrol`` view: a plan (``k``, ``radius_m``, optional ``start_lon``/``start_lat``)
    over the hot cells, with the reference basemap."""
    lang = params.lang
    result = view_hotspot_result(session=session, params=params, settings=settings)
    start = default_start(settings.area)
    if "start_lon" in params.extra or "start_lat" in params.extra:
        start = (
            params.number("start_lon", start[0]),
            params.number("start_lat", start[1]),
        )
    day = params.extra.get("day")
    if day is not None:
        access.check(principal_role, access.PLAN_PATROLS)
        day_start, day_end = patrolled.day_window(day)
    plan = plan_on_hotspots(
        session=session,
        result=result,
        k=PATROL_K.integer(params.number("k", DEFAULT_K)),
        radius_m=params.number("radius_m", DEFAULT_RADIUS_M),
        start_point=start,
        avoid_recent_days=AVOID_RECENT_DAYS.integer(
            params.number("avoid_recent_days", DEFAULT_AVOID_RECENT_DAYS)
        ),
        # Compared with a day: the plan as it stood at that day's start.
        now=day_start if day is not None else None,
    )
    m = new_map(session=session, settings=settings, lang=lang, params=params)
    layers = add_background(m, session=session, lang=lang)
    hotspot_layer(
        result,
        lang=lang,
        count_text=count_texts(result, principal_role),
        show_not_significant=False,
        exact=exact_statistics(result, principal_role),
    ).add_to(m)
    patrol_layer(plan, lang=lang).add_to(m)
    patrol_summary(plan, lang=lang).add_to(m)
    if day is not None:
        add_day_comparison(
            m,
            session=session,
            plan=plan,
            start=day_start,
            end=day_end,
            settings=settings,
            lang=lang,
        )
    return finish_view(
        m,
        layers=layers,
        params=params,
        title=label("patrol", lang),
        legend_box=hotspot_legend(result, lang=lang, trends=False),
    )


def day_stops(
    *, session: Session, plan: PatrolPlan, start: dt.datetime, end: dt.datetime, lang: str
) -> list[patrolled.Stop]:
    """The plan's stops, then the patrols logged in ``[start, end)``, each with its radius."""
    stops = [
        patrolled.Stop(p.lon, p.lat, plan.radius_m, ft("stop_plan", lang, n=p.order))
        for p in plan.points
    ]
    logged = list_patrols(
        session=session, start=start, end=end - dt.timedelta(microseconds=1), limit=100
    )
    for entry, lon, lat in sorted(logged, key=lambda row: row[0].id):
        stops.append(patrolled.Stop(lon, lat, entry.radius_m, ft("stop_log", lang, n=entry.id)))
    return stops


def add_day_comparison(
    m: folium.Map,
    *,
    session: Session,
    plan: PatrolPlan,
    start: dt.datetime,
    end: dt.datetime,
    settings: Settings,
    lang: str,
) -> list[patrolled.StopVisit]:
    """The day's tracks, the stops visited or missed, and their list, on ``m``."""
    gap_s = settings.field.field_track_gap_s
    max_accuracy_m = settings.field.field_max_accuracy_m
    day_tracks = tracks.team_tracks(
        session=session, start=start, end=end, gap_s=gap_s, max_accuracy_m=max_accuracy_m
    )
    visits = patrolled.stop_visits(
        session=session,
        stops=day_stops(session=session, plan=plan, start=start, end=end, lang=lang),
        start=start,
        end=end,
        gap_s=gap_s,
        max_accuracy_m=max_accuracy_m,
    )
    visits_layer(visits, lang=lang).add_to(m)
    tracks_layer(day_tracks, lang=lang).add_to(m)
    day_text = start.astimezone(WIB).date().isoformat()
    visits_box(visits, day=day_text, lang=lang).add_to(m)
    bounds = comparison_bounds(visits, day_tracks)
    if bounds is not None:
        m.fit_bounds(bounds, padding=(30, 30))
    return visits


def comparison_bounds(
    visits: list[patrolled.StopVisit], day_tracks: dict[str, Any]
) -> list[list[float]] | None:
    """[[south, west], [north, east]] around the stops (with their radii) and the tracks."""
    lons: list[float] = []
    lats: list[float] = []
    for v in visits:
        pad = v.stop.radius_m / 111_000  # degrees, enough at Sambas' latitude
        lons += [v.stop.lon - pad, v.stop.lon + pad]
        lats += [v.stop.lat - pad, v.stop.lat + pad]
    for feature in day_tracks["features"]:
        for line in track_lines(feature["geometry"]):
            lons += [c[0] for c in line]
            lats += [c[1] for c in line]
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]
