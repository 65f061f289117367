"""Our own reference basemap, drawn from the database: land, kecamatan, border, coast, posts.

It replaces web tiles so that maps work offline in Sajingan Besar or Paloh.
"""

from __future__ import annotations

from typing import Any

import folium
from branca.element import MacroElement
from folium.template import Template
from shapely.geometry import shape
from sqlalchemy.orm import Session

from geo import mapdata
from geo.geometry import latlon
from maps.escaping import FieldsTooltip, TextTooltip
from maps.labels import t

# Panes, bottom to top: the land (300), the office's ground layers (320, maps/ground.py),
# Leaflet's overlay pane with the outlines and the data (400), the frame outside the reference
# extent (410: over the border and coast lines that run to the cut) and the place names (450,
# maps/place_labels.py).
LAND_PANE = "tpm-land"
FRAME_PANE = "tpm-frame"
PANES: tuple[tuple[str, int], ...] = ((LAND_PANE, 300), ("tpm-ground", 320), (FRAME_PANE, 410))

SEA_COLOUR = "#d7e8f2"
OUTSIDE_COLOUR = "#ebe9e3"
LAND_COLOURS = {"IDN": "#f4f1e8", "MYS": "#e4e0d5"}
# How far inside the reference extent the land and sea fade into the frame (degrees): the
# reference layers are cut to a rectangle, and a cut is not a coast.
FADE_DEG = 0.12
FADE_STEPS = 6

STYLES: dict[str, dict[str, Any]] = {
    # No outline: the coastline layer draws the coast, and the land's cut edges are not one.
    "land": {"stroke": False, "fillColor": LAND_COLOURS["IDN"], "fillOpacity": 1.0},
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
            style_function=_land_style,
            interactive=False,
            control=False,
            pane=LAND_PANE,
        ).add_to(m)
        add_extent_frame(m, land=layers["land"], regency=mapdata.regency_bounds(session=session))
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


def _land_style(feature: dict[str, Any]) -> dict[str, Any]:
    """Indonesia and Malaysia told apart by their fill, in every view."""
    country = str(feature["properties"].get("name"))
    return {**STYLES["land"], "fillColor": LAND_COLOURS.get(country, LAND_COLOURS["IDN"])}


def frame_extent(
    land: dict[str, Any], regency: list[list[float]]
) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the reference extent: the land layer's bounds, pushed out
    where needed so that the regency and its fade margin lie inside (north of Tanjung Datu
    there is only sea, so the land stops short of the extent there). None without land."""
    shapes = [shape(f["geometry"]) for f in land["features"]]
    if not shapes:
        return None
    bounds = [s.bounds for s in shapes]
    (south, west), (north, east) = regency
    margin = FADE_DEG * 2
    return (
        min(min(b[0] for b in bounds), west - margin),
        min(min(b[1] for b in bounds), south - margin),
        max(max(b[2] for b in bounds), east + margin),
        max(max(b[3] for b in bounds), north + margin),
    )


def _rectangle(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def add_extent_frame(m: folium.Map, *, land: dict[str, Any], regency: list[list[float]]) -> None:
    """Paint outside the reference extent in a neutral colour, land and sea fading into it, so
    the rectangle the reference layers are cut to never reads as a coast."""
    extent = frame_extent(land, regency)
    if extent is None:
        return
    west, south, east, north = extent
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"opacity": 1.0},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    _rectangle(-180.0, -85.0, 180.0, 85.0),
                    _rectangle(west, south, east, north),
                ],
            },
        }
    ]
    step = FADE_DEG / FADE_STEPS
    for i in range(FADE_STEPS):
        outer, inner = i * step, (i + 1) * step
        features.append(
            {
                "type": "Feature",
                "properties": {"opacity": round(0.9 * (1 - i / FADE_STEPS), 3)},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        _rectangle(west + outer, south + outer, east - outer, north - outer),
                        _rectangle(west + inner, south + inner, east - inner, north - inner),
                    ],
                },
            }
        )
    ExtentFrame(features).add_to(m)


class ExtentFrame(MacroElement):
    """The frame of :func:`add_extent_frame`, drawn by script so that it does not count in the
    map's bounds (``get_bounds``) the way a folium layer would."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.geoJSON({{ this.data|tojson }}, {
            pane: {{ this.pane|tojson }},
            interactive: false,
            style: function (f) {
                return {stroke: false, fillColor: {{ this.colour|tojson }},
                        fillOpacity: f.properties.opacity};
            }
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, features: list[dict[str, Any]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ExtentFrame"
        self.data = {"type": "FeatureCollection", "features": features}
        self.pane = FRAME_PANE
        self.colour = OUTSIDE_COLOUR


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
