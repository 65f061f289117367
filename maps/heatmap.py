"""Heatmap of incidents or sightings from server-side cells, with a legend in real counts.

Leaflet.heat colours are relative to the zoom and the densest spot in view, so the heat layer
alone cannot be read as numbers. The same cell array also feeds a "count per cell" layer drawn
in fixed classes (toggle it in the layer control); the legend states those classes.
"""

from __future__ import annotations

from typing import Any

import folium
import orjson
from branca.element import MacroElement
from folium.plugins import HeatMap
from folium.template import Template
from sqlalchemy.orm import Session

from geo import mapdata
from geo.settings import Settings
from maps.basemap import add_basemap
from maps.common import (
    Classes,
    MapParams,
    caption,
    cell_size_text,
    classify,
    is_suppressed,
    layer_control,
    legend,
    new_map,
)
from maps.labels import t

DEFAULT_CELL_M = 500.0
HEAT_GRADIENT = {0.2: "#ffffb2", 0.4: "#fecc5c", 0.6: "#fd8d3c", 0.8: "#f03b20", 1.0: "#bd0026"}


class CellHeatMap(HeatMap):
    """Leaflet.heat over server-side cells, written as compact JSON.

    The cells come from PostGIS as finite [lat, lon, count] rows, so folium's per-point
    validation (the slow part for tens of thousands of cells) is skipped.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.heatLayer(
                {{ this.data_json }},
                {{ this.options|tojavascript }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, cells: list[list[float]], **kwargs: Any) -> None:
        super().__init__([], **kwargs)  # type: ignore[no-untyped-call]
        self.data = cells
        self.data_json = orjson.dumps(cells).decode()


class CellLayer(MacroElement):
    """Squares of the heat cells coloured by fixed count classes, drawn on one canvas.

    Reads the heat layer's own ``[lat, lon, count]`` array, so the page carries the data once.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var cells = {{ this.heat.get_name() }}._latlngs;
            var bins = {{ this.bins|tojson }}, colours = {{ this.colours|tojson }};
            var renderer = L.canvas({padding: 0.2});
            var group = L.featureGroup();
            var half = {{ this.cell_m / 2 }};
            cells.forEach(function (c) {
                var n = c.alt !== undefined ? c.alt : c[2];
                var colour = colours[colours.length - 1];
                for (var i = 0; i < bins.length; i++) {
                    if (n <= bins[i]) { colour = colours[i]; break; }
                }
                var ll = L.latLng(c);
                var b = ll.toBounds(2 * half);
                L.rectangle(b, {renderer: renderer, stroke: false, fillColor: colour,
                                fillOpacity: 0.75, interactive: true})
                    .bindTooltip(String(n)).addTo(group);
            });
            return group;
        })();
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, heat: CellHeatMap, classes: Classes, *, cell_m: float, show: bool) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "CellLayer"
        self.heat = heat
        self.bins = classes.bins
        self.colours = classes.colours
        self.cell_m = cell_m
        self.show = show


class NamedOverlay(MacroElement):
    """Register a JS layer built by another element in the layer control under ``name``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.control.get_name() }}.addOverlay(
            {{ this.layer.get_name() }}, {{ this.label|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, control: folium.LayerControl, layer: MacroElement, label: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "NamedOverlay"
        self.control = control
        self.layer = layer
        self.label = label


def build_heatmap(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """Weighted heat of the filtered layer, aggregated into cells in EPSG:32649."""
    lang = params.lang
    filters = params.filters
    cell_m = params.cell_m or DEFAULT_CELL_M
    heat_cells = mapdata.heat_cells(session=session, filters=filters, cell_m=cell_m)
    persons = filters.persons
    cells = [
        c
        for c in heat_cells.cells
        if not is_suppressed(int(c[2]), role=principal_role, persons=persons)
    ]
    suppressed = len(cells) < len(heat_cells.cells)

    m = new_map(session=session, settings=settings, lang=lang, params=params)
    add_basemap(m, session=session, lang=lang)
    classes = classify([c[2] for c in cells], integer=True)
    heat = None
    if cells:
        heat = CellHeatMap(
            cells,
            name=f"{t(filters.layer, lang)} — {t('heat', lang)}",
            radius=14,
            blur=12,
            min_opacity=0.35,
            # Leaflet.heat fades points by 2^(zoom - max_zoom): full strength at regency scale.
            max_zoom=10,
            gradient=HEAT_GRADIENT,
        )
        heat.add_to(m)
    caption(title=f"{t('heatmap', lang)}: {t(filters.layer, lang)}", params=params).add_to(m)
    legend(
        classes,
        title=t("count_per_cell", lang, size=cell_size_text(cell_m)),
        lang=lang,
        suppressed=suppressed and persons,
        notes=[t("heat_note", lang), f"{t('total', lang)}: {sum(int(c[2]) for c in cells)}"],
    ).add_to(m)
    control = folium.LayerControl(collapsed=False, position="topleft")
    control.add_to(m)
    if heat is not None and classes is not None:
        cells_layer = CellLayer(heat, classes, cell_m=cell_m, show=False)
        cells_layer.add_to(m)
        NamedOverlay(control, cells_layer, t("cells", lang)).add_to(m)
    return m


__all__ = ["DEFAULT_CELL_M", "build_heatmap", "layer_control"]
