"""The map key of every view: a symbol for each reference layer the view draws (land, sea,
Malaysia, border, coast, outlines, zones, posts, towns, the office's ground layers) and for the
overview's workplaces and alerts. The data layers have their own legends.

The key is added when the map is made and written when the page renders, from the layers the
map holds by then, so a view cannot draw a layer and forget its symbol.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import folium

from maps.basemap import LAND_COLOURS, OUTSIDE_COLOUR, SEA_COLOUR, STYLES
from maps.common import Box
from maps.escaping import html_text
from maps.ground import GroundLayer, ground_legend_rows
from maps.labels import t

Symbol = Literal["fill", "line", "dash", "dot", "square", "ring"]

# The map fills its frame, which the dashboard makes short when its panels are open: the layer
# list (top left, under the zoom buttons) and the key (bottom left, over the scale) each take at
# most half the frame's height and scroll beyond it, so they never cover each other.
KEY_CSS: Final = """
<style>
.leaflet-top .leaflet-control-layers-expanded { max-height: calc(50vh - 110px); overflow-y: auto; }
.tpm-key { max-height: calc(50vh - 80px); overflow-y: auto; box-sizing: border-box; }
.tpm-key .sym { display: inline-block; width: 18px; height: 11px; margin-right: 6px;
  vertical-align: middle; box-sizing: border-box; }
.tpm-key .fill { border: 1px solid #999; }
.tpm-key .line { height: 0; border-top-width: 2px; border-top-style: solid; margin-bottom: 3px; }
.tpm-key .dash { height: 0; border-top-width: 2px; border-top-style: dashed; margin-bottom: 3px; }
.tpm-key .dot { width: 10px; height: 10px; border-radius: 50%; margin: 0 10px 0 4px;
  border: 1px solid #333; }
.tpm-key .ring { width: 9px; height: 9px; border-radius: 50%; margin: 0 10px 0 4px;
  border: 1.5px solid #333; background: #fff; }
.tpm-key .square { width: 10px; height: 10px; margin: 0 10px 0 4px; background: #111;
  border: 2px solid #ffd400; }
</style>
"""


def _symbol(kind: Symbol, colour: str) -> str:
    colour = html_text(colour)
    if kind in ("line", "dash"):
        style = f"border-top-color:{colour}"
    elif kind == "square" or kind == "ring":
        style = ""
    else:
        style = f"background:{colour}"
    return f'<span class="sym {kind}" style="{style}"></span>'


def _names(m: folium.Map) -> set[str]:
    return {str(getattr(child, "layer_name", "") or "") for child in list(m._children.values())} - {
        ""
    }


def key_rows(m: folium.Map, lang: str) -> list[tuple[Symbol, str, str]]:
    """(symbol, colour, text) for each reference layer ``m`` holds, bottom layer first."""
    drawn = _names(m)
    rows: list[tuple[Symbol, str, str]] = []
    land = next(
        (c for c in m._children.values() if getattr(c, "layer_name", None) == t("land", lang)),
        None,
    )
    if land is not None:
        data: dict[str, Any] = getattr(land, "data", {})
        countries = {str(f["properties"].get("name")) for f in data.get("features", [])}
        rows.append(("fill", LAND_COLOURS["IDN"], t("key_land_id", lang)))
        if "MYS" in countries:
            rows.append(("fill", LAND_COLOURS["MYS"], t("key_land_my", lang)))
        rows.append(("fill", SEA_COLOUR, t("key_sea", lang)))
        rows.append(("fill", OUTSIDE_COLOUR, t("key_outside", lang)))
    for child in list(m._children.values()):
        if isinstance(child, GroundLayer):
            for symbol, colour, key in ground_legend_rows(child.archive):
                rows.append((symbol, colour, t(key, lang)))  # type: ignore[arg-type]
    if t("zones", lang) in drawn:
        rows.append(("fill", str(STYLES["zone"]["fillColor"]), t("zones", lang)))
    if t("kecamatan", lang) in drawn:
        rows.append(("dash", str(STYLES["kecamatan"]["color"]), t("key_kecamatan", lang)))
    if t("kabupaten", lang) in drawn:
        rows.append(("line", str(STYLES["kabupaten"]["color"]), t("kabupaten", lang)))
    if t("coastline", lang) in drawn:
        rows.append(("line", str(STYLES["coastline"]["color"]), t("coastline", lang)))
    if t("border", lang) in drawn:
        rows.append(("dash", str(STYLES["border"]["color"]), t("border", lang)))
    if t("crossing_post", lang) in drawn:
        rows.append(("square", "#111", t("crossing_post", lang)))
    if t("town", lang) in drawn:
        rows.append(("ring", "#fff", t("key_town", lang)))
    if t("workplaces", lang) in drawn:
        rows.append(("dot", "#6a3d9a", t("workplaces", lang)))
    if t("alerts", lang) in drawn:
        rows.append(("dot", "#de2d26", t("key_alerts", lang)))
    return rows


class MapKey(Box):
    """The key box; its rows are read from the map when the page renders."""

    def __init__(self, lang: str) -> None:
        super().__init__("", position="bottomleft", css_class="tpm-key")
        self._name = "MapKey"
        self.lang = lang

    def render(self, **kwargs: Any) -> str:
        parent = self._parent
        if isinstance(parent, folium.Map):
            rows = key_rows(parent, self.lang)
            self.content = f"<h4>{html_text(t('key_title', self.lang))}</h4>" + "".join(
                f"<div>{_symbol(symbol, colour)}{html_text(text)}</div>"
                for symbol, colour, text in rows
            )
        return str(super().render(**kwargs))  # type: ignore[no-untyped-call]
