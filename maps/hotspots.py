"""The ``hotspots`` view: Gi* confidence and emerging trends over the reference basemap, with
optional KDE and DBSCAN clusters; and :func:`hotspot_map`, the same layers on a plain map for
notebooks.
"""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
from sqlalchemy.orm import Session

from geo.hotspots.analysis import HotspotResult, clusters_for_layer, clusters_frame, kde_for_layer
from geo.hotspots.surfaces import KdeGrid
from geo.patrol import PatrolPlan
from geo.registry.caps import MIN_SAMPLES
from geo.settings import Settings
from maps.basemap import add_background
from maps.common import MapParams, finish_view, layer_control, new_map
from maps.hotspot_labels import label
from maps.hotspot_layers import (
    add_hotspot_layers,
    bounds_of,
    count_texts,
    exact_statistics,
    plain_map,
    view_hotspot_result,
)


def hotspot_map(
    result: HotspotResult,
    *,
    lang: str = "id",
    kde: KdeGrid | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    plan: PatrolPlan | None = None,
) -> folium.Map:
    """A map (no tiles) of the Gi* cells and trends, with optional KDE, clusters and a plan."""
    m = plain_map(bounds_of(result, plan))
    add_hotspot_layers(m, result, lang=lang, kde=kde, clusters=clusters, plan=plan)
    layer_control(m)
    return m


def build_hotspots(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """The ``hotspots`` view: Gi* confidence and trends over the reference basemap.

    Extra query options: ``kde=1`` (with ``bandwidth_m``), ``clusters=1`` (with ``eps_m``,
    ``min_samples``).
    """
    lang = params.lang
    filters = params.filters
    result = view_hotspot_result(session=session, params=params, settings=settings)
    # The same window and kinds as the Gi* cells.
    window: dict[str, Any] = {
        "session": session,
        "layer": filters.layer,
        "start": filters.start,
        "end": filters.end,
        "kinds": list(filters.kinds) or None,
    }
    kde = None
    if params.flag("kde"):
        kde = kde_for_layer(**window, bandwidth_m=params.number("bandwidth_m", 1500.0))
    clusters = None
    if params.flag("clusters"):
        clusters = clusters_frame(
            clusters_for_layer(
                **window,
                eps_m=params.number("eps_m", 1000.0),
                min_samples=MIN_SAMPLES.integer(params.number("min_samples", 5)),
            )
        )
    m = new_map(session=session, settings=settings, lang=lang, params=params)
    layers = add_background(m, session=session, lang=lang)
    add_hotspot_layers(
        m,
        result,
        lang=lang,
        kde=kde,
        clusters=clusters,
        count_text=count_texts(result, principal_role),
        exact=exact_statistics(result, principal_role),
    )
    title = label("title_sightings" if filters.layer == "sightings" else "title", lang)
    return finish_view(m, layers=layers, params=params, title=title)
