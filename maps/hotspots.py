"""Hotspot and patrol-plan maps: Gi* confidence cells, emerging trends, KDE, DBSCAN, routes.

The layer builders return folium objects and never write files. :func:`hotspot_map` and
:func:`patrol_map` are plain maps for notebooks; :func:`build_hotspots` and :func:`build_patrol`
are the ``hotspots`` and ``patrol`` views of ``maps/views.py`` (reference basemap, caption, legend).
No layer loads anything from another host: cells are vector GeoJSON, the KDE is an inline PNG.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Final

import folium
import geopandas as gpd
import numpy as np
from branca.element import MacroElement
from folium.template import Template
from scipy import ndimage

from geo.hotspots.analysis import HotspotResult
from geo.hotspots.surfaces import KdeGrid
from geo.patrol import PatrolPlan, to_lonlat, to_utm_arrays

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from geo.settings import Settings
    from maps.common import MapParams

# ArcGIS's hot spot palette, by Gi_Bin.
BIN_COLOURS: Final = {
    3: "#d62f27",
    2: "#ed7551",
    1: "#fab984",
    0: "#f7f7f2",
    -1: "#c0ccbe",
    -2: "#849eba",
    -3: "#4575b5",
}
TREND_COLOURS: Final = {
    "new": "#7b3294",
    "consecutive": "#c2a5cf",
    "intensifying": "#a50026",
    "persistent": "#f46d43",
    "diminishing": "#fdae61",
    "sporadic": "#fee090",
    "oscillating": "#d9a8a0",
    "historical": "#bababa",
}
PATROL_COLOUR: Final = "#1b7837"

LABELS: Final[dict[str, dict[str, str]]] = {
    "id": {
        "title": "Titik panas kejadian (Gi*, FDR)",
        "title_sightings": "Titik panas laporan keberadaan (Gi*, FDR)",
        "hot": "Titik panas",
        "cold": "Titik dingin",
        "not_significant": "Tidak signifikan",
        "confidence": "Keyakinan",
        "count": "Jumlah",
        "trend": "Tren",
        "trends": "Tren titik panas",
        "kde": "Kepadatan kernel (KDE)",
        "clusters": "Klaster DBSCAN",
        "cluster_size": "Jumlah titik",
        "patrol": "Rencana patroli",
        "start": "Titik berangkat",
        "stop": "Titik patroli",
        "route": "Rute",
        "covered": "Bobot tercakup",
        "length": "Panjang rute",
        "cell": "Sel heksagon",
        "no_pattern": "Tidak ada pola",
        "new": "baru",
        "consecutive": "berturut-turut",
        "intensifying": "menguat",
        "persistent": "menetap",
        "diminishing": "melemah",
        "sporadic": "sporadis",
        "oscillating": "berosilasi",
        "historical": "historis",
        "method": "Gi* (6 tetangga + diri), koreksi FDR Benjamini-Hochberg",
        "no_data": "Tidak ada data",
    },
    "en": {
        "title": "Incident hot spots (Gi*, FDR)",
        "title_sightings": "Sighting hot spots (Gi*, FDR)",
        "hot": "Hot spot",
        "cold": "Cold spot",
        "not_significant": "Not significant",
        "confidence": "Confidence",
        "count": "Count",
        "trend": "Trend",
        "trends": "Emerging hot spot trends",
        "kde": "Kernel density (KDE)",
        "clusters": "DBSCAN clusters",
        "cluster_size": "Points",
        "patrol": "Patrol plan",
        "start": "Start",
        "stop": "Patrol point",
        "route": "Route",
        "covered": "Covered weight",
        "length": "Route length",
        "cell": "Hex cell",
        "no_pattern": "No pattern",
        "new": "new",
        "consecutive": "consecutive",
        "intensifying": "intensifying",
        "persistent": "persistent",
        "diminishing": "diminishing",
        "sporadic": "sporadic",
        "oscillating": "oscillating",
        "historical": "historical",
        "method": "Gi* (6 neighbours + self), Benjamini-Hochberg FDR",
        "no_data": "No data",
    },
}


def label(key: str, lang: str = "id") -> str:
    return LABELS.get(lang, LABELS["id"]).get(key, key)


def confidence_text(gi_bin: int, lang: str = "id") -> str:
    if gi_bin == 0:
        return label("not_significant", lang)
    kind = label("hot" if gi_bin > 0 else "cold", lang)
    return f"{kind} {dict([(1, 90), (2, 95), (3, 99)])[abs(gi_bin)]} %"


def trend_text(trend: str, lang: str = "id") -> str:
    if trend == "no_pattern":
        return label("no_pattern", lang)
    pattern, kind = trend.rsplit("_", 1)
    return f"{label(kind, lang)} {label(pattern, lang)}"


class Legend(MacroElement):
    """A legend box as a Leaflet control; ``content`` is HTML built here from escaped values."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create('div', 'tpm-box tpm-hotspot-legend');
            div.style.background = 'rgba(255,255,255,.92)';
            div.style.padding = '6px 9px';
            div.style.fontSize = '12px';
            div.innerHTML = {{ this.content|tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, content: str, *, position: str = "bottomright") -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "HotspotLegend"
        self.content = content
        self.position = position


def _swatch(colour: str, text: str) -> str:
    return (
        f'<div><span style="display:inline-block;width:14px;height:12px;margin-right:5px;'
        f'border:1px solid #777;background:{html.escape(colour)}"></span>{html.escape(text)}</div>'
    )


def hotspot_legend(
    result: HotspotResult | None = None, *, lang: str = "id", trends: bool = True
) -> Legend:
    """Confidence classes (with the number of cells in each) and the trend colours."""
    counts: dict[int, int] = {}
    if result is not None and len(result.cells):
        counts = {int(k): int(v) for k, v in result.cells["gi_bin"].value_counts().items()}
    parts = [f"<h4 style='margin:0 0 4px'>{html.escape(label('confidence', lang))}</h4>"]
    for gi_bin in (3, 2, 1, 0, -1, -2, -3):
        suffix = f" ({counts.get(gi_bin, 0)})" if result is not None else ""
        parts.append(_swatch(BIN_COLOURS[gi_bin], confidence_text(gi_bin, lang) + suffix))
    if trends:
        parts.append(f"<h4 style='margin:6px 0 4px'>{html.escape(label('trends', lang))}</h4>")
        for pattern, colour in TREND_COLOURS.items():
            parts.append(_swatch(colour, trend_text(f"{pattern}_hot", lang)))
    if result is not None:
        meta = result.metadata
        size = meta["cell_m"]
        parts.append(
            f"<div style='color:#555;margin-top:4px'>{html.escape(label('method', lang))}; "
            f"{html.escape(label('cell', lang))} {size / 1000:g} km; "
            f"n = {meta['n_points']}</div>"
        )
    return Legend("".join(parts))


def _cell_features(cells: gpd.GeoDataFrame, lang: str, count_text: list[str]) -> dict[str, Any]:
    frame = cells.to_crs(4326) if cells.crs is not None and cells.crs.to_epsg() != 4326 else cells
    out = gpd.GeoDataFrame(
        {
            "cell_id": frame["cell_id"].astype(str),
            "count": count_text,
            "gi_z": frame["gi_z"].astype(float).round(2),
            "p_value": frame["p_value"].astype(float).map(lambda v: f"{v:.3g}"),
            "confidence": [confidence_text(int(b), lang) for b in frame["gi_bin"]],
            "trend": [trend_text(str(v), lang) for v in frame["trend"]],
            "gi_bin": frame["gi_bin"].astype(int),
            "pattern": [str(v) for v in frame["trend"]],
        },
        geometry=frame.geometry.values,
        crs=4326,
    )
    collection: dict[str, Any] = out.__geo_interface__
    return collection


def hotspot_layer(
    result: HotspotResult,
    *,
    lang: str = "id",
    count_text: list[str] | None = None,
    show_not_significant: bool = True,
) -> folium.FeatureGroup:
    """The hex cells coloured by Gi* confidence (ArcGIS palette), with a tooltip per cell.

    ``count_text`` overrides the counts shown (e.g. "<3" for person layers and roles without
    personal data). Empty, non-significant cells are left out to keep the page small.
    """
    cells = result.cells
    texts = count_text if count_text is not None else [str(int(c)) for c in cells["count"]]
    keep = (cells["gi_bin"] != 0) | ((cells["count"] > 0) & show_not_significant)
    keep_arr = keep.to_numpy()
    group = folium.FeatureGroup(name=label("confidence", lang) + " Gi*")
    if keep_arr.any():
        subset = cells[keep_arr]
        shown = [t for t, k in zip(texts, keep_arr, strict=True) if k]
        folium.GeoJson(
            _cell_features(subset, lang, shown),
            style_function=lambda f: {
                "fillColor": BIN_COLOURS[int(f["properties"]["gi_bin"])],
                "fillOpacity": 0.75 if f["properties"]["gi_bin"] else 0.35,
                "color": "#555",
                "weight": 0.3,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["count", "confidence", "gi_z", "p_value", "trend"],
                aliases=[
                    label("count", lang),
                    label("confidence", lang),
                    "Gi* z",
                    "p",
                    label("trend", lang),
                ],
            ),
        ).add_to(group)
    return group


def trend_layer(result: HotspotResult, *, lang: str = "id") -> folium.FeatureGroup:
    """Cells with an emerging-hotspot category (outlined in the category's colour)."""
    cells = result.cells
    group = folium.FeatureGroup(name=label("trends", lang), show=True)
    keep = (cells["trend"] != "no_pattern").to_numpy()
    if keep.any():
        subset = cells[keep]
        folium.GeoJson(
            _cell_features(subset, lang, [str(int(c)) for c in subset["count"]]),
            style_function=lambda f: {
                "fill": False,
                "color": TREND_COLOURS.get(f["properties"]["pattern"].rsplit("_", 1)[0], "#000000"),
                "weight": 3 if f["properties"]["pattern"].endswith("_hot") else 1.5,
                "dashArray": None if f["properties"]["pattern"].endswith("_hot") else "4 3",
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["trend", "count"], aliases=[label("trend", lang), label("count", lang)]
            ),
        ).add_to(group)
    return group


def kde_layer(
    grid: KdeGrid, *, lang: str = "id", opacity: float = 0.65, pixels: int = 600
) -> folium.raster_layers.ImageOverlay:
    """The KDE surface as an inline PNG, resampled from its UTM grid to lon/lat pixels."""
    minx, miny, maxx, maxy = grid.bounds
    corners_lon, corners_lat = to_lonlat([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
    west, east = float(corners_lon.min()), float(corners_lon.max())
    south, north = float(corners_lat.min()), float(corners_lat.max())
    aspect = (north - south) / (east - west) if east > west else 1.0
    cols = pixels
    rows = max(2, round(pixels * aspect))
    lons, lats = np.meshgrid(np.linspace(west, east, cols), np.linspace(north, south, rows))
    x, y = to_utm_arrays(lons, lats)
    col = (np.asarray(x) - grid.x0) / grid.cell_m
    row = (np.asarray(y) - grid.y0) / grid.cell_m
    values = ndimage.map_coordinates(grid.density, [row, col], order=1, cval=0.0)
    peak = float(values.max()) if values.size else 0.0
    scaled = values / peak if peak > 0 else values
    rgba = np.zeros((rows, cols, 4), dtype=np.float64)
    # Yellow → red ramp, transparent where the density is below 2 % of the peak.
    rgba[..., 0] = 1.0
    rgba[..., 1] = 1.0 - 0.85 * scaled
    rgba[..., 2] = 0.2 * (1.0 - scaled)
    rgba[..., 3] = np.where(scaled > 0.02, 0.25 + 0.75 * scaled, 0.0)
    return folium.raster_layers.ImageOverlay(
        image=(rgba * 255).astype(np.uint8),
        bounds=[[south, west], [north, east]],
        opacity=opacity,
        name=label("kde", lang),
        interactive=False,
    )


def clusters_layer(clusters: gpd.GeoDataFrame, *, lang: str = "id") -> folium.FeatureGroup:
    """DBSCAN cluster hulls (from :func:`geo.hotspots.clusters_frame`)."""
    group = folium.FeatureGroup(name=label("clusters", lang))
    if len(clusters):
        frame = clusters.to_crs(4326)[["label", "size", "geometry"]]
        folium.GeoJson(
            frame.__geo_interface__,
            style_function=lambda f: {
                "color": "#6a3d9a",
                "weight": 2,
                "fillColor": "#cab2d6",
                "fillOpacity": 0.3,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["label", "size"], aliases=["#", label("cluster_size", lang)]
            ),
        ).add_to(group)
    return group


def patrol_layer(plan: PatrolPlan, *, lang: str = "id") -> folium.FeatureGroup:
    """Start, numbered patrol points with their coverage circles, and the route."""
    group = folium.FeatureGroup(name=label("patrol", lang))
    if len(plan.route) >= 2:
        folium.PolyLine(  # type: ignore[no-untyped-call]
            [(lat, lon) for lon, lat in plan.route],
            color=PATROL_COLOUR,
            weight=3,
            dash_array="6 4",
            tooltip=f"{label('route', lang)}: {plan.length_km:.1f} km",
        ).add_to(group)
    start_lon, start_lat = plan.start
    folium.CircleMarker(
        (start_lat, start_lon),
        radius=7,
        color="#000",
        weight=2,
        fill=True,
        fill_color="#ffffff",
        fill_opacity=1.0,
        tooltip=label("start", lang),
    ).add_to(group)
    for point in plan.points:
        folium.Circle(
            (point.lat, point.lon),
            radius=plan.radius_m,
            color=PATROL_COLOUR,
            weight=1,
            fill=True,
            fill_opacity=0.08,
        ).add_to(group)
        folium.Marker(
            (point.lat, point.lon),
            icon=folium.DivIcon(
                html=(
                    f'<div style="background:{PATROL_COLOUR};color:#fff;border-radius:50%;'
                    "width:22px;height:22px;line-height:22px;text-align:center;"
                    f'font:bold 12px sans-serif;border:2px solid #fff">{point.order}</div>'
                ),
                icon_size=(22, 22),
                icon_anchor=(11, 11),
            ),
            tooltip=(
                f"{label('stop', lang)} {point.order}: {label('covered', lang)} "
                f"{point.covered_weight:g}"
            ),
        ).add_to(group)
    return group


def patrol_summary(plan: PatrolPlan, *, lang: str = "id") -> Legend:
    rows = [
        f"<h4 style='margin:0 0 4px'>{html.escape(label('patrol', lang))}</h4>",
        f"<div>{len(plan.points)} × {plan.radius_m / 1000:g} km</div>",
        f"<div>{html.escape(label('covered', lang))}: {plan.covered_share:.0%}</div>",
        f"<div>{html.escape(label('length', lang))}: {plan.length_km:.1f} km</div>",
    ]
    if not plan.points:
        rows.append(f"<div>{html.escape(label('no_data', lang))}</div>")
    return Legend("".join(rows), position="bottomleft")


def _bounds_of(result: HotspotResult | None, plan: PatrolPlan | None) -> list[list[float]] | None:
    lons: list[float] = []
    lats: list[float] = []
    if result is not None and len(result.cells):
        minx, miny, maxx, maxy = result.cells.total_bounds
        lons += [minx, maxx]
        lats += [miny, maxy]
    if plan is not None:
        lons += [lon for lon, _ in plan.route] + [plan.start[0]]
        lats += [lat for _, lat in plan.route] + [plan.start[1]]
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _plain_map(bounds: list[list[float]] | None) -> folium.Map:
    centre = (
        [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        if bounds
        else [1.5, 109.3]
    )
    m = folium.Map(location=centre, zoom_start=9, tiles=None, control_scale=True)
    if bounds:
        m.fit_bounds(bounds)
    return m


def hotspot_map(
    result: HotspotResult,
    *,
    lang: str = "id",
    kde: KdeGrid | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    plan: PatrolPlan | None = None,
) -> folium.Map:
    """A map (no tiles) of the Gi* cells and trends, with optional KDE, clusters and a plan."""
    m = _plain_map(_bounds_of(result, plan))
    add_hotspot_layers(m, result, lang=lang, kde=kde, clusters=clusters, plan=plan)
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    return m


def add_hotspot_layers(
    m: folium.Map,
    result: HotspotResult,
    *,
    lang: str = "id",
    kde: KdeGrid | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    plan: PatrolPlan | None = None,
    count_text: list[str] | None = None,
) -> None:
    if kde is not None:
        kde_layer(kde, lang=lang).add_to(m)
    hotspot_layer(result, lang=lang, count_text=count_text).add_to(m)
    trend_layer(result, lang=lang).add_to(m)
    if clusters is not None:
        clusters_layer(clusters, lang=lang).add_to(m)
    if plan is not None:
        patrol_layer(plan, lang=lang).add_to(m)
        patrol_summary(plan, lang=lang).add_to(m)
    hotspot_legend(result, lang=lang).add_to(m)


def patrol_map(
    plan: PatrolPlan, *, result: HotspotResult | None = None, lang: str = "id"
) -> folium.Map:
    """A map (no tiles) of a patrol plan over the hot cells it was made from."""
    m = _plain_map(_bounds_of(None, plan) or _bounds_of(result, None))
    if result is not None:
        hotspot_layer(result, lang=lang, show_not_significant=False).add_to(m)
        hotspot_legend(result, lang=lang, trends=False).add_to(m)
    patrol_layer(plan, lang=lang).add_to(m)
    patrol_summary(plan, lang=lang).add_to(m)
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    return m


# --- the views of maps/views.py --------------------------------------------------------------


def _count_texts(result: HotspotResult, principal_role: str) -> list[str]:
    """Counts as the role may see them: sightings are persons, so small counts become "<3"."""
    from geo.access import suppress_count

    persons = result.counts.window.layer == "sightings"
    return [
        str(suppress_count(int(c), principal_role)) if persons else str(int(c))
        for c in result.cells["count"]
    ]


def _float_param(params: MapParams, name: str, default: float) -> float:
    from geo.errors import ValidationError

    raw = params.extra.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(
            f"{name} must be a number; got {raw!r}", field=name, value=raw
        ) from None


def _result_for(
    *, session: Session, params: MapParams, settings: Settings, cell_m: float
) -> HotspotResult:
    from geo.hotspots.analysis import hotspots

    filters = params.filters
    return hotspots(
        session=session,
        layer=filters.layer,
        cell_m=cell_m,
        start=filters.start,
        end=filters.end,
        kinds=list(filters.kinds) or None,
        slice_unit=params.period,
        reference_data_dir=settings.area.reference_data_dir,
    )


def build_hotspots(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """The ``hotspots`` view: Gi* confidence and trends over the reference basemap.

    Extra query options: ``kde=1`` (with ``bandwidth_m``), ``clusters=1`` (with ``eps_m``,
    ``min_samples``).
    """
    from geo.hotspots.analysis import clusters_for_layer, clusters_frame, kde_for_layer
    from maps.basemap import add_background, add_foreground
    from maps.common import caption, new_map

    lang = params.lang
    cell_m = params.cell_m or 1000.0
    result = _result_for(session=session, params=params, settings=settings, cell_m=cell_m)
    filters = params.filters
    kde = None
    if params.extra.get("kde") in {"1", "true", "yes"}:
        kde = kde_for_layer(
            session=session,
            layer=filters.layer,
            start=filters.start,
            end=filters.end,
            kinds=list(filters.kinds) or None,
            bandwidth_m=_float_param(params, "bandwidth_m", 1500.0),
        )
    clusters = None
    if params.extra.get("clusters") in {"1", "true", "yes"}:
        clusters = clusters_frame(
            clusters_for_layer(
                session=session,
                layer=filters.layer,
                start=filters.start,
                end=filters.end,
                kinds=list(filters.kinds) or None,
                eps_m=_float_param(params, "eps_m", 1000.0),
                min_samples=int(_float_param(params, "min_samples", 5)),
            )
        )
    m = new_map(session=session, settings=settings, lang=lang)
    layers = add_background(m, session=session, lang=lang)
    add_hotspot_layers(
        m,
        result,
        lang=lang,
        kde=kde,
        clusters=clusters,
        count_text=_count_texts(result, principal_role),
    )
    add_foreground(m, layers=layers, lang=lang)
    title = label("title_sightings" if filters.layer == "sightings" else "title", lang)
    caption(title=title, params=params).add_to(m)
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    return m


def build_patrol(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """The ``patrol`` view: a plan (``k``, ``radius_m``, optional ``start_lon``/``start_lat``)
    over the hot cells, with the reference basemap."""
    import datetime as dt

    from geo.patrol import default_start, plan_from_hotspots, recent_patrols_utm
    from maps.basemap import add_background, add_foreground
    from maps.common import caption, new_map

    lang = params.lang
    cell_m = params.cell_m or 1000.0
    result = _result_for(session=session, params=params, settings=settings, cell_m=cell_m)
    start = default_start(settings.area)
    if "start_lon" in params.extra or "start_lat" in params.extra:
        start = (
            _float_param(params, "start_lon", start[0]),
            _float_param(params, "start_lat", start[1]),
        )
    recent_days = _float_param(params, "avoid_recent_days", 7)
    visits_xy, visits_r = recent_patrols_utm(
        session=session, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=recent_days)
    )
    plan = plan_from_hotspots(
        result,
        k=int(_float_param(params, "k", 4)),
        radius_m=_float_param(params, "radius_m", 2000.0),
        start=start,
        recent_visits_xy=visits_xy,
        recent_visits_radius_m=visits_r,
    )
    m = new_map(session=session, settings=settings, lang=lang)
    layers = add_background(m, session=session, lang=lang)
    hotspot_layer(
        result,
        lang=lang,
        count_text=_count_texts(result, principal_role),
        show_not_significant=False,
    ).add_to(m)
    patrol_layer(plan, lang=lang).add_to(m)
    patrol_summary(plan, lang=lang).add_to(m)
    hotspot_legend(result, lang=lang, trends=False).add_to(m)
    add_foreground(m, layers=layers, lang=lang)
    caption(title=label("patrol", lang), params=params).add_to(m)
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    return m
