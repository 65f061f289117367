"""Our own reference basemap, drawn from the database: land, kecamatan, border, coast, posts.

It replaces web tiles so that maps work offline in Sajingan Besar or Paloh.
"""

from __future__ import annotations

from typing import Any

import folium
from sqlalchemy.orm import Session

from geo import mapdata
from geo.geometry import latlon
from maps.escaping import FieldsTooltip, TextTooltip
from maps.labels import t

STYLES: dict[str, dict[str, Any]] = {
    "land": {"color": "#b9b39f", "weight": 0.5, "fillColor": "#f4f1e8", "fillOpacity": 1.0},
    "kabupaten": {"color": "#444", "weight": 2, "fill": False},
    "kecamatan": {"color": "#7a7a7a", "weight": 0.8, "fill": False, "dashArray": "3 3"},
    "coastline": {"color": "#5b8db8", "weight": 1},
    "border": {"color": "#d7191c", "weight": 2.5, "dashArray": "8 4"},
    "zone": {
        "color": "#5e3c99",
        "weight": 1.2,
        "dashArray": "2 4",
        "fillColor": "#b2abd2",
        "fillOpacity": 0.08,
    },
}


def _constant(style: dict[str, Any]) -> Any:
    return lambda _feature: style


def add_basemap(
    m: folium.Map,
    *,
    session: Session,
    lang: str,
    zones: bool = False,
    kecamatan: bool = True,
    places: bool = True,
) -> dict[str, dict[str, Any]]:
    """Add the reference layers; returns the collections it drew."""
    layers = add_background(m, session=session, lang=lang, zones=zones, kecamatan=kecamatan)
    add_foreground(m, layers=layers, lang=lang, places=places)
    return layers


def add_background(
    m: folium.Map, *, session: Session, lang: str, zones: bool = False, kecamatan: bool = True
) -> dict[str, dict[str, Any]]:
    """Land, kecamatan and regency outlines, coast and zones: what goes under the data."""
    layers = mapdata.reference_layers(session=session)
    # Land is the background: one layer, not in the control (like a tile base layer).
    if layers["land"]["features"]:
        folium.GeoJson(
            layers["land"],
            name=t("land", lang),
            style_function=_constant(STYLES["land"]),
            interactive=False,
            control=False,
        ).add_to(m)
    if kecamatan and layers["kecamatan"]["features"]:
        folium.GeoJson(
            layers["kecamatan"],
            name=t("kecamatan", lang),
            style_function=_constant(STYLES["kecamatan"]),
            tooltip=FieldsTooltip(["name", "code"], labels=False),
        ).add_to(m)
    if layers["kabupaten"]["features"]:
        folium.GeoJson(
            layers["kabupaten"],
            name=t("kabupaten", lang),
            style_function=_constant(STYLES["kabupaten"]),
            interactive=False,
        ).add_to(m)
    if layers["coastline"]["features"]:
        folium.GeoJson(
            layers["coastline"],
            name=t("coastline", lang),
            style_function=_constant(STYLES["coastline"]),
            interactive=False,
        ).add_to(m)
    if zones:
        add_zones(m, session=session, lang=lang)
    return layers


def add_zones(m: folium.Map, *, session: Session, lang: str) -> int:
    """Active border bands, watch and restricted zones, PLB area."""
    collection = mapdata.zones(session=session)
    if collection["features"]:
        folium.GeoJson(
            collection,
            name=t("zones", lang),
            style_function=_constant(STYLES["zone"]),
            tooltip=FieldsTooltip(["name", "kind"], labels=False),
        ).add_to(m)
    return len(collection["features"])


def add_foreground(
    m: folium.Map, *, layers: dict[str, dict[str, Any]], lang: str, places: bool = True
) -> None:
    """The border line and the places: what stays readable above the data."""
    if layers["border"]["features"]:
        folium.GeoJson(
            layers["border"],
            name=t("border", lang),
            style_function=_constant(STYLES["border"]),
            tooltip=TextTooltip(t("border", lang)),
        ).add_to(m)
    if places:
        _add_points(m, layers, lang)


def _add_points(m: folium.Map, layers: dict[str, dict[str, Any]], lang: str) -> None:
    posts = layers["crossing_post"]["features"]
    if posts:
        group = folium.FeatureGroup(name=t("crossing_post", lang))
        for feature in posts:
            lon, lat = _point(feature["geometry"])
            folium.Marker(
                latlon(lon, lat),
                icon=folium.DivIcon(html='<div class="tpm-post"></div>', icon_size=(14, 14)),
                tooltip=TextTooltip(feature["properties"]["name"]),
            ).add_to(group)
        group.add_to(m)
    towns = layers["town"]["features"]
    if towns:
        group = folium.FeatureGroup(name=t("town", lang))
        for feature in towns:
            lon, lat = _point(feature["geometry"])
            folium.CircleMarker(
                latlon(lon, lat),
                radius=3,
                color="#333",
                weight=1,
                fill=True,
                fill_color="#fff",
                fill_opacity=1,
                tooltip=TextTooltip(feature["properties"]["name"]),
            ).add_to(group)
        group.add_to(m)


def _point(geometry: dict[str, Any]) -> tuple[float, float]:
    """A representative (lon, lat) of a Point or MultiPoint."""
    coords = geometry["coordinates"]
    if geometry["type"] == "MultiPoint":
        coords = coords[0]
    return float(coords[0]), float(coords[1])
