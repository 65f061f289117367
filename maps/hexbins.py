"""Hex bins: counts per hexagon of ``ST_HexagonGrid`` in EPSG:32649."""

from __future__ import annotations

import folium
from sqlalchemy.orm import Session

from geo import mapdata
from geo.settings import Settings
from maps.basemap import add_background
from maps.common import (
    SUPPRESSED_COLOUR,
    MapParams,
    cell_size_text,
    classify,
    finish_view,
    is_suppressed,
    legend,
    new_map,
    shown_count,
)
from maps.escaping import FieldsTooltip
from maps.labels import t

DEFAULT_HEX_M = 2000.0


def build_hexbins(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    lang = params.lang
    filters = params.filters
    cell_m = params.cell_m or DEFAULT_HEX_M
    cells = mapdata.hex_counts(session=session, filters=filters, cell_m=cell_m)
    persons = filters.persons
    visible = [
        c.count for c in cells if not is_suppressed(c.count, role=principal_role, persons=persons)
    ]
    suppressed = len(visible) < len(cells)
    classes = classify(visible, integer=True)
    features = []
    for c in cells:
        hidden = is_suppressed(c.count, role=principal_role, persons=persons)
        fill = SUPPRESSED_COLOUR if hidden or classes is None else classes.colour(c.count)
        features.append(
            {
                "type": "Feature",
                "geometry": c.geometry,
                "properties": {
                    "count": str(shown_count(c.count, role=principal_role, persons=persons)),
                    "fill": fill,
                },
            }
        )
    m = new_map(session=session, settings=settings, lang=lang, params=params)
    layers = add_background(m, session=session, lang=lang)
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=t("hexagons", lang),
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "fillOpacity": 0.75,
                "color": "#666",
                "weight": 0.4,
            },
            tooltip=FieldsTooltip(["count"], [t("count", lang)]),
        ).add_to(m)
    return finish_view(
        m,
        layers=layers,
        params=params,
        title=f"{t('hexbins', lang)}: {t(filters.layer, lang)}",
        legend_box=legend(
            classes,
            title=f"{t('hexagons', lang)} ({cell_size_text(cell_m)})",
            lang=lang,
            suppressed=suppressed,
            notes=[f"{t('total', lang)}: {sum(visible)}"],
        ),
    )
