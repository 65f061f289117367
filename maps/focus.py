"""The map's side of the dashboard's alert queue: fly to an alert and highlight its subjects.

The dashboard shows a map in a sandboxed frame of its own origin, so it cannot reach the map's
script; it posts a message instead (``{"type": "timpora:focus", "id", "point": [lon, lat],
"places": [{"kind", "label", "geometry"}]}``). :class:`FocusBridge` takes messages from the
parent window only, checks every number, draws the alert and its subjects (labels as text, never
markup) and answers ``{"type": "timpora:focused", "id"}``. The message carries only what the
dashboard's caller may see (``GET /api/v1/alerts/{id}``); the page itself carries no data.
"""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template


class FocusBridge(MacroElement):
    """Listens for the dashboard's focus messages on the map it is added to."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var highlight = null;
            function finite(v) { return typeof v === "number" && isFinite(v); }
            function lonLat(p) {
                return Array.isArray(p) && p.length === 2 && finite(p[0]) && finite(p[1])
                    && Math.abs(p[0]) <= 180 && Math.abs(p[1]) <= 90;
            }
            function label(text) {
                var box = document.createElement("span");
                box.textContent = String(text);
                return box;
            }
            window.addEventListener("message", function (ev) {
                if (ev.source !== window.parent) { return; }
                var d = ev.data;
                if (!d || d.type !== "timpora:focus" || !finite(d.id)) { return; }
                if (highlight) { map.removeLayer(highlight); }
                highlight = L.featureGroup();
                (Array.isArray(d.places) ? d.places : []).slice(0, 20).forEach(function (p) {
                    if (!p || typeof p.geometry !== "object" || p.geometry === null) { return; }
                    var g = p.geometry, item;
                    if (g.type === "Point") {
                        if (!lonLat(g.coordinates)) { return; }
                        item = L.circleMarker([g.coordinates[1], g.coordinates[0]], {
                            radius: 9, color: "#7a0177", weight: 3, fillColor: "#f768a1",
                            fillOpacity: 0.8, className: "timpora-focus-subject"
                        });
                    } else if (g.type === "Polygon" || g.type === "MultiPolygon") {
                        item = L.geoJSON(g, {style: {color: "#7a0177", weight: 3,
                                                     fillOpacity: 0.08, dashArray: "6 4",
                                                     className: "timpora-focus-subject"}});
                    } else { return; }
                    if (p.label) { item.bindTooltip(label(p.label)); }
                    item.addTo(highlight);
                });
                if (lonLat(d.point)) {
                    L.circleMarker([d.point[1], d.point[0]], {
                        radius: 16, color: "#ff00ff", weight: 4, fill: false,
                        className: "timpora-focus"
                    }).addTo(highlight);
                }
                highlight.addTo(map);
                var bounds = highlight.getBounds();
                if (bounds.isValid()) {
                    map.flyToBounds(bounds, {maxZoom: 14, padding: [60, 60], duration: 0.8});
                }
                document.body.setAttribute("data-focus", String(d.id));
                window.parent.postMessage({type: "timpora:focused", id: d.id}, "*");
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "FocusBridge"
