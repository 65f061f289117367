"""The ``patrol`` view: a patrol plan over the hot cells it was made from, with the reference
basemap; and :func:`patrol_map`, the same on a plain map for notebooks.
"""

from __future__ import annotations

import folium
from sqlalchemy.orm import Session

from geo.hotspots.analysis import HotspotResult
from geo.patrol import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    PatrolPlan,
    default_start,
    plan_on_hotspots,
)
from geo.registry.caps import AVOID_RECENT_DAYS, PATROL_K
from geo.settings import Settings
from maps.basemap import add_background
from maps.common import MapParams, finish_view, layer_control, new_map
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
    plan = plan_on_hotspots(
        session=session,
        result=result,
        k=PATROL_K.integer(params.number("k", DEFAULT_K)),
        radius_m=params.number("radius_m", DEFAULT_RADIUS_M),
        start_point=start,
        avoid_recent_days=AVOID_RECENT_DAYS.integer(
            params.number("avoid_recent_days", DEFAULT_AVOID_RECENT_DAYS)
        ),
    )
    m = new_map(session=session, settings=settings, lang=lang)
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
    return finish_view(
        m,
        layers=layers,
        params=params,
        title=label("patrol", lang),
        legend_box=hotspot_legend(result, lang=lang, trends=False),
    )
