"""What every view shares: its parameters, the map frame, classes, legends and suppression."""

from __future__ import annotations

import datetime as dt
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import folium
import mapclassify
import numpy as np
from branca.element import Figure, MacroElement
from branca.utilities import color_brewer
from folium.template import Template
from sqlalchemy.orm import Session

from geo import access
from geo.errors import ConfigurationError, ValidationError
from geo.mapdata import (
    MapFilters,
    kecamatan_extent,
    parse_filters,
    reference_layers,
    regency_bounds,
)
from geo.registry.filters import parse_cell_m
from geo.settings import Settings
from geo.tilearchive import open_archive
from geo.times import WIB
from maps.basemap import PANES, add_foreground
from maps.escaping import html_text
from maps.ground import GroundLayer
from maps.labels import Lang, check_lang, t
from maps.place_labels import PlaceLabels, place_labels

log = logging.getLogger(__name__)

SUPPRESSED_COLOUR: Final = "#bdbdbd"
ZERO_COLOUR: Final = "#ffffff"
MEASURES: Final = ("count", "per_km2", "per_foreigner")
MAX_CLASSES: Final = 5
EXACT_JENKS_MAX: Final = 200
MIN_ZOOM: Final = 7
MAX_ZOOM: Final = 17


@dataclass(frozen=True)
class MapParams:
    """Everything a view may be asked for; ``extra`` carries view-specific options as text."""

    filters: MapFilters = field(default_factory=MapFilters)
    lang: Lang = "id"
    cell_m: float | None = None
    period: str = "month"
    measure: str = "count"
    extra: Mapping[str, str] = field(default_factory=dict)
    # Names of the filtered kecamatan, for titles (``with_place_names``); codes until then.
    kecamatan_names: tuple[str, ...] = ()

    def flag(self, name: str) -> bool:
        """A view-specific on/off option from ``extra`` ("1", "true" or "yes" turn it on)."""
        return self.extra.get(name) in {"1", "true", "yes"}

    def number(self, name: str, default: float) -> float:
        """A view-specific numeric option from ``extra``; an error names it when it is not one."""
        raw = self.extra.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise ValidationError(
                f"{name} must be a number; got {raw!r}", field=name, value=raw
            ) from None


def parse_params(
    *,
    layer: str | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    lang: str | None = None,
    cell_m: float | None = None,
    period: str | None = None,
    measure: str | None = None,
    default_lang: str = "id",
    extra: Mapping[str, str] | None = None,
) -> MapParams:
    """Validate raw values from a query string or the CLI; errors name the value."""
    filters = parse_filters(layer=layer, start=start, end=end, kind=kind, kecamatan=kecamatan)
    measure_name = measure or "count"
    if measure_name not in MEASURES:
        raise ValidationError(
            f"measure must be one of {', '.join(MEASURES)}; got {measure_name!r}",
            field="measure",
            value=measure_name,
        )
    period_name = period or "month"
    if period_name not in ("week", "month"):
        raise ValidationError(
            f"period must be week or month; got {period_name!r}", field="period", value=period_name
        )
    return MapParams(
        filters=filters,
        lang=check_lang(lang, default_lang),
        cell_m=parse_cell_m(cell_m) if cell_m is not None else None,
        period=period_name,
        measure=measure_name,
        extra=dict(extra or {}),
    )


def with_place_names(params: MapParams, *, session: Session) -> MapParams:
    """``params`` with the names of its kecamatan filter, which titles show instead of codes."""
    if not params.filters.kecamatan:
        return params
    names, _bounds = kecamatan_extent(session=session, codes=params.filters.kecamatan)
    return replace(params, kecamatan_names=tuple(names))


def place_title(title: str, params: MapParams) -> str:
    """A view's title naming the kecamatan it is filtered to: "Heatmap: Incidents — Paloh"."""
    places = params.kecamatan_names or tuple(params.filters.kecamatan)
    return f"{title} — {', '.join(places)}" if places else title


# --- privacy ----------------------------------------------------------------------------------


def shown_count(count: int, *, role: str, persons: bool) -> int | str:
    """A count as the role may see it: counts of persons below 3 become "<3" (docs/privacy.md)."""
    if not persons:
        return count
    return access.suppress_count(count, role)


def is_suppressed(count: int, *, role: str, persons: bool) -> bool:
    return isinstance(shown_count(count, role=role, persons=persons), str)


# --- classes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classes:
    """Upper bounds of classes (mapclassify Fisher–Jenks) with a colour and label for each."""

    bins: list[float]
    colours: list[str]
    labels: list[str]

    def colour(self, value: float) -> str:
        for upper, colour in zip(self.bins, self.colours, strict=True):
            if value <= upper:
                return colour
        return self.colours[-1]


def _fmt(value: float, integer: bool) -> str:
    if integer:
        return f"{int(value):,}".replace(",", ".")
    if value >= 100:
        return f"{value:,.0f}".replace(",", ".")
    return f"{value:.2f}".replace(".", ",")


def classify(
    values: Sequence[float], *, k: int = MAX_CLASSES, integer: bool = True, scheme: str = "YlOrRd"
) -> Classes | None:
    """Classes for the positive values, or None when there is nothing to classify.

    Fisher–Jenks, exact up to 200 values and on an equal-frequency sample of 200 beyond.
    """
    data = np.asarray([v for v in values if v > 0 and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return None
    unique = np.unique(data)
    k = max(1, min(k, unique.size))
    if k == 1:
        bins = [float(unique[-1])]
    elif unique.size <= k:
        bins = [float(v) for v in unique]
    else:
        with warnings.catch_warnings():
            # Without numba mapclassify warns and runs Fisher–Jenks in O(k·n²) pure Python.
            warnings.filterwarnings("ignore", message="Numba not installed")
            if data.size <= EXACT_JENKS_MAX:
                sample = data
            else:
                # Fisher–Jenks on an equal-frequency sample of the distribution: deterministic
                # and O(k·200²). (mapclassify's Jenks–Caspall never converges when quantiles
                # collapse on repeated values, e.g. heat cells that are mostly 1.)
                sample = np.quantile(data, np.linspace(0.0, 1.0, EXACT_JENKS_MAX))
            k_sample = min(k, int(np.unique(sample).size))
            if k_sample < 2:
                bins = [float(data.max())]
            else:
                bins = [float(b) for b in mapclassify.FisherJenks(sample, k=k_sample).bins]
        bins[-1] = float(data.max())
        bins = sorted(set(bins))
    palette = color_brewer(scheme, n=max(3, len(bins)))
    colours = palette[-len(bins) :] if len(bins) < 3 else palette[: len(bins)]
    labels: list[str] = []
    lower = float(data.min())
    for upper in bins:
        if integer:
            lo, hi = math.ceil(lower), int(upper)
            labels.append(_fmt(lo, True) if lo >= hi else f"{_fmt(lo, True)}–{_fmt(hi, True)}")
            lower = hi + 1
        else:
            labels.append(f"{_fmt(lower, False)}–{_fmt(upper, False)}")
            lower = upper
    return Classes(bins=bins, colours=list(colours), labels=labels)


# --- map frame and controls -------------------------------------------------------------------

MAP_CSS: Final = """
<style>
.leaflet-container { background: #d7e8f2; font-family: system-ui, sans-serif; }
.tpm-box { background: rgba(255,255,255,.92); padding: 6px 9px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; line-height: 1.35; max-width: 300px; }
.tpm-box h4 { margin: 0 0 4px; font-size: 13px; }
.tpm-box .sw { display: inline-block; width: 14px; height: 12px; margin-right: 5px;
  vertical-align: middle; border: 1px solid #777; }
.tpm-box .note { color: #555; margin-top: 4px; }
.tpm-dot { width: 10px; height: 10px; border-radius: 50%; background: #6a3d9a;
  border: 2px solid #fff; box-shadow: 0 0 2px #000; }
/* Leaflet.heat draws on a canvas under the SVG of the (opaque) land layer; lift it. */
.leaflet-overlay-pane .leaflet-heatmap-layer { z-index: 250; }
.tpm-post { width: 10px; height: 10px; background: #111; border: 2px solid #ffd400; }
</style>
"""


class Box(MacroElement):
    """An HTML box as a Leaflet control (titles, legends, captions). ``content`` is trusted HTML
    built here from escaped values."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create('div', 'tpm-box {{ this.css_class }}');
            div.innerHTML = {{ this.content|tojson }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, content: str, *, position: str = "topright", css_class: str = "") -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Box"
        self.content = content
        self.position = position
        self.css_class = css_class


def legend_html(title: str, rows: Sequence[tuple[str, str]], notes: Sequence[str] = ()) -> str:
    """Legend rows of (colour, label); everything escaped."""
    parts = [f"<h4>{html_text(title)}</h4>"]
    for colour, label in rows:
        parts.append(
            f'<div><span class="sw" style="background:{html_text(colour)}"></span>'
            f"{html_text(label)}</div>"
        )
    parts.extend(f'<div class="note">{html_text(n)}</div>' for n in notes)
    return "".join(parts)


def legend(
    classes: Classes | None,
    *,
    title: str,
    lang: str,
    suppressed: bool = False,
    notes: Sequence[str] = (),
    zero: bool = False,
) -> Box:
    """The data legend: a row per class, and the "0" and "<3" classes when the map draws them
    (``zero``: areas with nothing, drawn white)."""
    rows: list[tuple[str, str]] = []
    if classes is not None:
        rows = list(zip(classes.colours, classes.labels, strict=True))
    if suppressed:
        rows.insert(0, (SUPPRESSED_COLOUR, "<3"))
    if zero:
        rows.insert(0, (ZERO_COLOUR, t("zero_class", lang)))
    all_notes = list(notes)
    if classes is None:
        all_notes.insert(0, t("no_data", lang))
    if suppressed:
        all_notes.append(t("suppressed_note", lang))
    return Box(legend_html(title, rows, all_notes), position="bottomright", css_class="tpm-legend")


def caption(*, title: str, params: MapParams, generated_by: str | None = None) -> Box:
    """Title, filters and time of generation in WIB, with the sources."""
    lang = params.lang
    lines = [f"<h4>{html_text(place_title(title, params))}</h4>"]
    described = params.filters.describe()
    lines.append(
        f"<div>{html_text(t(params.filters.layer, lang))}</div>"
        if not params.filters.kinds
        else f"<div>{html_text(t(params.filters.layer, lang))}: "
        f"{html_text(', '.join(t(k, lang) for k in params.filters.kinds))}</div>"
    )
    period = []
    if "start" in described:
        period.append(f"{t('start', lang)} {described['start']}")
    if "end" in described:
        period.append(f"{t('end', lang)} {described['end']}")
    lines.append(f"<div>{html_text(' · '.join(period) or t('all_time', lang))} WIB</div>")
    if "kecamatan" in described:
        places = ", ".join(params.kecamatan_names) or described["kecamatan"]
        lines.append(f"<div>{html_text(t('kecamatan', lang))}: {html_text(places)}</div>")
    now = dt.datetime.now(WIB).strftime("%Y-%m-%d %H:%M")
    who = f" · {html_text(generated_by)}" if generated_by else ""
    lines.append(f'<div class="note">{html_text(t("generated", lang))} {now} WIB{who}</div>')
    lines.append(f'<div class="note">{html_text(t("attribution", lang))}</div>')
    return Box("".join(lines), position="topright", css_class="tpm-caption")


def add_map_css(m: folium.Map) -> None:
    """The boxes' and markers' style sheet, once per page."""
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(folium.Element(MAP_CSS), name="timpora_css")


def new_map(
    *, session: Session, settings: Settings, lang: str, params: MapParams | None = None
) -> folium.Map:
    """An empty map framed on the regency, or on the kecamatan ``params`` filters to, with what
    every view shares under and over its data: the panes, the office's ground layers
    (``maps.ground``), the place names (``maps.place_labels``) and the map key
    (``maps.map_key``). No web tiles unless the operator configured a server."""
    # Imported here: these modules build on this one's boxes and parameters.
    from maps.map_key import KEY_CSS, MapKey

    bounds = regency_bounds(session=session)
    if params is not None and params.filters.kecamatan:
        _names, chosen = kecamatan_extent(session=session, codes=params.filters.kecamatan)
        bounds = chosen or bounds
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(
        location=centre,
        zoom_start=9,
        tiles=None,
        control_scale=True,
    )
    # Without tiles folium sets no zoom limits; marker clustering needs the map's maxZoom.
    m.options["minZoom"] = MIN_ZOOM
    m.options["maxZoom"] = MAX_ZOOM
    tile_url = settings.service.tile_url
    if tile_url:
        folium.TileLayer(
            tiles=tile_url,
            attr=settings.service.tile_attribution or "tiles",
            name="Tiles",
            overlay=False,
            control=True,
        ).add_to(m)
    add_map_css(m)
    for pane, z_index in PANES:
        folium.map.CustomPane(pane, z_index=z_index, pointer_events=False).add_to(m)
    ground = ground_layer(settings)
    if ground is not None:
        ground.add_to(m)
    PlaceLabels(
        place_labels(session=session, layers=reference_layers(session=session), lang=lang)
    ).add_to(m)
    MapKey(lang).add_to(m)
    m.fit_bounds(bounds)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(folium.Element(KEY_CSS), name="timpora_key_css")
    # No favicon request (a 404 in every map opened on its own).
    root.header.add_child(folium.Element('<link rel="icon" href="data:,">'), name="timpora_icon")
    root.html.add_child(folium.Element(f'<meta name="timpora-lang" content="{html_text(lang)}">'))
    return m


def ground_layer(settings: Settings) -> GroundLayer | None:
    """The office's basemap archive as a layer, or None without one. A file that cannot be
    read is logged and left out: the maps stay usable, and ``/basemap`` reports the error."""
    path = settings.service.basemap_file
    if path is None:
        return None
    try:
        archive = open_archive(path)
    except ConfigurationError as exc:
        log.warning("basemap left out of the maps: %s", exc)
        return None
    return GroundLayer(archive.info, attribution=settings.service.basemap_attribution)


def layer_control(m: folium.Map) -> None:
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)


def finish_view(
    m: folium.Map,
    *,
    layers: dict[str, Any],
    params: MapParams,
    title: str,
    legend_box: Box | None = None,
) -> folium.Map:
    """What tops every view: reference linework and places over the data, the caption, the
    legend and the layer control."""
    add_foreground(m, layers=layers, lang=params.lang)
    caption(title=title, params=params).add_to(m)
    if legend_box is not None:
        legend_box.add_to(m)
    layer_control(m)
    return m


def cell_size_text(cell_m: float) -> str:
    """A cell size as a caption states it: "2 km", "500 m"."""
    return f"{cell_m / 1000:g} km" if cell_m >= 1000 else f"{cell_m:g} m"


def geojson_safe(value: Any) -> Any:
    """Cast values that JSON cannot carry (numpy numbers, datetimes) before GeoJson."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")
    return value
