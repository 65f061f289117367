"""Permanent place names on every map view: crossing posts, towns, kecamatan, desa, countries.

Names are written in their own pane above the data and placed again after each zoom or pan, in
order of priority: a name whose box would overlap a name already placed is hidden, so the most
important names win where space is short, and each kind appears only from the zoom at which it
fits (desa names from zoom 12). The names travel as JSON and are set as ``textContent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from branca.element import MacroElement
from folium.template import Template
from shapely.geometry import shape
from sqlalchemy.orm import Session

from geo import mapdata
from maps.basemap import FADE_DEG, frame_extent

LABEL_PANE: Final = "tpm-labels"


@dataclass(frozen=True)
class PlaceKind:
    """How names of one kind are shown: priority (0 first), from which zoom, beside the point
    (a marked place) or centred on it (an area)."""

    priority: int
    min_zoom: int
    beside_point: bool


KINDS: Final[dict[str, PlaceKind]] = {
    "crossing_post": PlaceKind(0, 7, True),
    "town": PlaceKind(1, 8, True),
    "kecamatan": PlaceKind(2, 9, False),
    "country": PlaceKind(3, 7, False),
    "desa": PlaceKind(4, 12, False),
}

COUNTRY_NAMES: Final[dict[str, dict[str, str]]] = {
    "IDN": {"id": "INDONESIA", "en": "INDONESIA"},
    "MYS": {"id": "MALAYSIA (SARAWAK)", "en": "MALAYSIA (SARAWAK)"},
}

LABEL_CSS: Final = """
.tpm-label { position: absolute; left: 0; top: 0; white-space: nowrap; pointer-events: none;
  font: 600 12px/1.2 system-ui, sans-serif; color: #1f1f1f;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }
.tpm-label-crossing_post { font-weight: 700; font-size: 12.5px; color: #000; }
.tpm-label-town { font-weight: 600; }
.tpm-label-kecamatan { font-weight: 600; font-size: 10.5px; letter-spacing: .06em;
  text-transform: uppercase; color: #3d3d3d; }
.tpm-label-desa { font-weight: 400; font-style: italic; font-size: 10.5px; color: #444; }
.tpm-label-country { font-weight: 500; font-size: 13px; letter-spacing: .3em; color: #7b766a; }
"""


def _point_of(geometry: dict[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a point, or a point inside a polygon."""
    if geometry["type"] == "Point":
        return float(geometry["coordinates"][0]), float(geometry["coordinates"][1])
    point = shape(geometry).representative_point()
    return float(point.x), float(point.y)


def place_labels(
    *, session: Session, layers: dict[str, dict[str, Any]], lang: str
) -> list[dict[str, Any]]:
    """The names to write, highest priority first: ``text``, ``lat``, ``lon``, ``kind``,
    ``z`` (first zoom), ``beside`` (1 for a marked point)."""
    labels: list[dict[str, Any]] = []

    def add(text: str, lon: float, lat: float, kind: str, weight: float = 0.0) -> None:
        spec = KINDS[kind]
        labels.append(
            {
                "text": text,
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "kind": kind,
                "z": spec.min_zoom,
                "beside": 1 if spec.beside_point else 0,
                "_order": (spec.priority, -weight, text),
            }
        )

    for kind in ("crossing_post", "town"):
        for feature in layers.get(kind, {}).get("features", []):
            lon, lat = _point_of(feature["geometry"])
            add(str(feature["properties"]["name"]), lon, lat, kind)
    for area in mapdata.area_label_points(session=session):
        # Larger areas first within a kind: they have the room for their names.
        add(str(area["name"]), area["lon"], area["lat"], area["level"], area["area_km2"])
    for feature in layers.get("land", {}).get("features", []):
        names = COUNTRY_NAMES.get(str(feature["properties"].get("name")))
        if names is not None:
            lon, lat = _point_of(feature["geometry"])
            add(names.get(lang, names["id"]), lon, lat, "country")
    extent = (
        frame_extent(layers["land"], mapdata.regency_bounds(session=session))
        if layers.get("land")
        else None
    )
    if extent is not None:
        # Places in the faded margin of the reference extent are not drawn: nor their names.
        west, south, east, north = extent
        labels = [
            label
            for label in labels
            if west + FADE_DEG <= label["lon"] <= east - FADE_DEG
            and south + FADE_DEG <= label["lat"] <= north - FADE_DEG
        ]
    labels.sort(key=lambda label: label.pop("_order"))
    return labels


class PlaceLabels(MacroElement):
    """The names of :func:`place_labels` in their own pane, placed without overlaps."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var labels = {{ this.labels|tojson }};
            var pane = map.getPane({{ this.pane|tojson }}) ||
                map.createPane({{ this.pane|tojson }});
            pane.classList.add('leaflet-zoom-hide');
            pane.style.zIndex = 450;
            pane.style.pointerEvents = 'none';
            var boxes = labels.map(function (label) {
                var el = L.DomUtil.create('div', 'tpm-label tpm-label-' + label.kind, pane);
                el.textContent = label.text;
                el.style.visibility = 'hidden';
                return {el: el, w: 0, h: 0};
            });
            // Measure once: sizes do not change with the zoom (one layout, not one per name).
            boxes.forEach(function (b) { b.w = b.el.offsetWidth; b.h = b.el.offsetHeight; });
            var placed = 0;  // placements so far, for readers that wait for a settled map
            function place() {
                var zoom = map.getZoom(), used = [], view = map.getPixelBounds();
                var topLeft = map.getPixelOrigin();
                labels.forEach(function (label, i) {
                    var b = boxes[i];
                    var show = zoom >= label.z;
                    var x = 0, y = 0;
                    if (show) {
                        var p = map.latLngToLayerPoint([label.lat, label.lon]);
                        x = label.beside ? p.x + 8 : p.x - b.w / 2;
                        y = p.y - b.h / 2;
                        var box = [x - 3, y - 1, x + b.w + 3, y + b.h + 1];
                        // Off screen: not placed, so it takes no room from a visible name.
                        var sx = x + topLeft.x, sy = y + topLeft.y;
                        if (sx + b.w < view.min.x || sx > view.max.x ||
                            sy + b.h < view.min.y || sy > view.max.y) {
                            show = false;
                        } else {
                            show = !used.some(function (t) {
                                return box[0] < t[2] && box[2] > t[0] &&
                                       box[1] < t[3] && box[3] > t[1];
                            });
                            if (show) { used.push(box); }
                        }
                    }
                    if (show) {
                        L.DomUtil.setPosition(b.el, L.point(Math.round(x), Math.round(y)));
                        b.el.style.visibility = 'visible';
                        b.el.classList.add('tpm-label-shown');
                    } else {
                        b.el.style.visibility = 'hidden';
                        b.el.classList.remove('tpm-label-shown');
                    }
                });
                pane.setAttribute('data-zoom', String(zoom));
                placed += 1;
                pane.setAttribute('data-placed', String(placed));
            }
            map.on('zoomend moveend viewreset resize', place);
            map.whenReady(place);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, labels: list[dict[str, Any]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PlaceLabels"
        self.labels = labels
        self.pane = LABEL_PANE
        self.css = LABEL_CSS
