"""Ground context: the office's basemap archive (roads, rivers, villages) under the data.

The service serves the archive itself (``/basemap/tiles/{z}/{x}/{y}``, decoded from the PMTiles
or MBTiles file on the server; docs/maps.md). A raster archive is drawn as a Leaflet tile layer;
a vector archive (MVT) is drawn on canvas by Leaflet.VectorGrid, vendored in ``maps/vendor``,
with one style per common layer name (OpenMapTiles, Protomaps and GDAL-made layers). Without an
archive nothing is added and the views draw only the reference geography.
"""

from __future__ import annotations

import html
import re
from typing import Any, Final

from branca.element import MacroElement
from folium.template import Template

from geo.tilearchive import OSM_ATTRIBUTION, ArchiveInfo
from maps.escaping import html_text

GROUND_PANE: Final = "tpm-ground"
TILE_PATH: Final = "/basemap/tiles/{z}/{x}/{y}"

# Symbols of the ground layers, shared by the vector style and the legend.
ROAD_MAJOR: Final = "#c8703a"
ROAD_MINOR: Final = "#a89a86"
RIVER: Final = "#4f8fc6"
WATER: Final = "#bcd8ee"
VILLAGE: Final = "#5a5a5a"

# Layer names of the common schemas → a style family (see STYLE_SCRIPT).
LAYER_FAMILIES: Final[dict[str, str]] = {
    "transportation": "roads",
    "roads": "roads",
    "road": "roads",
    "highways": "roads",
    "lines": "roads",
    "waterway": "rivers",
    "waterways": "rivers",
    "rivers": "rivers",
    "river": "rivers",
    "water": "water",
    "ocean": "water",
    "place": "villages",
    "places": "villages",
    "villages": "villages",
    "settlements": "villages",
    "points": "villages",
}


class GroundLayer(MacroElement):
    """The archive's tiles in the ground pane, between the land and the data."""

    default_js = [("leaflet-vectorgrid", "/static/vendor/leaflet-vectorgrid.js")]

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var map = {{ this._parent.get_name() }};
            var info = {{ this.info|tojson }};
            var options = {
                pane: {{ this.pane|tojson }},
                attribution: info.attribution,
                minZoom: 0,
                maxNativeZoom: info.max_zoom,
                minNativeZoom: info.min_zoom
            };
            if (info.bounds) {
                options.bounds = L.latLngBounds(
                    [info.bounds[1], info.bounds[0]], [info.bounds[3], info.bounds[2]]);
            }
            if (!info.vector) {
                return L.tileLayer(info.url, options).addTo(map);
            }
            var families = info.families;
            var invisible = {stroke: false, fill: false, radius: 0, weight: 0};
            function kindOf(p) {
                return String(p['class'] || p.kind || p.highway || p.waterway || p.place ||
                    p.type || '');
            }
            var styles = {
                roads: function (p) {
                    var k = kindOf(p);
                    if (/motorway|trunk|primary|secondary|major|highway/.test(k)) {
                        return {color: {{ this.road_major|tojson }}, weight: 2, opacity: 0.9};
                    }
                    if (/path|track|footway|cycleway|bridleway|steps|ferry/.test(k)) {
                        return {color: {{ this.road_minor|tojson }}, weight: 0.8,
                                dashArray: '3 3', opacity: 0.9};
                    }
                    if (/rail/.test(k)) { return invisible; }
                    return {color: {{ this.road_minor|tojson }}, weight: 1.1, opacity: 0.9};
                },
                rivers: function (p) {
                    var k = kindOf(p);
                    var big = /river|canal/.test(k) || k === '';
                    return {color: {{ this.river|tojson }}, weight: big ? 1.5 : 0.7,
                            opacity: 0.9};
                },
                water: function () {
                    return {fill: true, fillColor: {{ this.water|tojson }}, fillOpacity: 1,
                            stroke: false};
                },
                villages: function (p) {
                    var k = kindOf(p);
                    if (/city|town|village|hamlet|suburb|locality|neighbourhood/.test(k) ||
                        k === '') {
                        return {radius: 2.5, fill: true, fillColor: {{ this.village|tojson }},
                                fillOpacity: 1, stroke: true, color: '#ffffff', weight: 0.8};
                    }
                    return invisible;
                }
            };
            // Unknown layers (buildings, land use, labels, boundaries) stay undrawn: the
            // reference geography draws land, borders and names.
            var byLayer = new Proxy({}, {
                get: function (_t, name) {
                    var family = families[name];
                    return family ? styles[family] : invisible;
                }
            });
            options.rendererFactory = L.canvas.tile;
            options.vectorTileLayerStyles = byLayer;
            options.interactive = false;
            return L.vectorGrid.protobuf(info.url, options).addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, info: ArchiveInfo, *, attribution: str = "") -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GroundLayer"
        self.archive = info
        self.pane = GROUND_PANE
        self.road_major, self.road_minor = ROAD_MAJOR, ROAD_MINOR
        self.river, self.water, self.village = RIVER, WATER, VILLAGE
        self.vector = info.vector
        if not info.vector:
            # A raster layer needs no renderer: do not ship VectorGrid with the page.
            self.default_js = []
        self.info: dict[str, Any] = {
            "url": TILE_PATH,
            "vector": info.vector,
            "min_zoom": info.min_zoom,
            "max_zoom": info.max_zoom,
            "bounds": list(info.bounds) if info.bounds else None,
            "attribution": attribution_html(attribution or info.attribution or OSM_ATTRIBUTION),
            "families": {
                name: LAYER_FAMILIES[name] for name in _layer_names(info) if name in LAYER_FAMILIES
            },
        }


def attribution_html(credit: str) -> str:
    """A credit line as Leaflet's attribution control shows it (as HTML): archives often carry
    links (``<a href=…>© OpenStreetMap</a>``), which become their text, then escaped."""
    return html_text(html.unescape(re.sub(r"<[^>]*>", "", credit)).strip())


def _layer_names(info: ArchiveInfo) -> list[str]:
    """The archive's vector layers; every known name when it does not list them."""
    return list(info.vector_layers) or list(LAYER_FAMILIES)


def ground_legend_rows(info: ArchiveInfo) -> list[tuple[str, str, str]]:
    """(symbol kind, colour, label key) rows for the reference legend."""
    if not info.vector:
        return [("fill", "#e0dccf", "ground_raster")]
    families = {LAYER_FAMILIES[n] for n in _layer_names(info) if n in LAYER_FAMILIES}
    rows: list[tuple[str, str, str]] = []
    if "roads" in families:
        rows += [("line", ROAD_MAJOR, "ground_road_major"), ("line", ROAD_MINOR, "ground_road")]
    if "rivers" in families or "water" in families:
        rows.append(("line", RIVER, "ground_river"))
    if "villages" in families:
        rows.append(("dot", VILLAGE, "ground_village"))
    return rows
