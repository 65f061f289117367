"""The folium layers of the hotspot analysis and the patrol plan: Gi* confidence cells, emerging
trends, KDE, DBSCAN clusters, patrol routes, and their legends.

The builders return folium objects and never write files. No layer loads anything from another
host: cells are vector GeoJSON, the KDE is an inline PNG.
"""

from __future__ import annotations

from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
from scipy import ndimage
from sqlalchemy.orm import Session

from geo.access import sees_personal_data
from geo.hotspots.analysis import HotspotResult, hotspots
from geo.hotspots.surfaces import KdeGrid
from geo.mapdata import MapFilters
from geo.patrol import PatrolPlan, to_lonlat, to_utm_arrays
from geo.settings import Settings
from maps.common import Box, MapParams, add_map_css, legend_html, shown_count
from maps.escaping import FieldsTooltip, TextTooltip, html_text
from maps.hotspot_labels import (
    BIN_COLOURS,
    PATROL_COLOUR,
    TREND_COLOURS,
    confidence_text,
    label,
    trend_text,
)
from maps.labels import t

DEFAULT_CELL_M: Final = 1000.0


def hotspot_legend(
    result: HotspotResult | None = None,
    *,
    lang: str = "id",
    trends: bool = True,
    exact: bool = True,
) -> Box:
    """Confidence classes (with the number of cells in each) and the trend colours; the number of
    points only when ``exact`` (see :func:`exact_statistics`)."""
    counts: dict[int, int] = {}
    if result is not None and len(result.cells):
        counts = {int(k): int(v) for k, v in result.cells["gi_bin"].value_counts().items()}
    confidence = [
        (
            BIN_COLOURS[gi_bin],
            confidence_text(gi_bin, lang)
            + (f" ({counts.get(gi_bin, 0)})" if result is not None else ""),
        )
        for gi_bin in (3, 2, 1, 0, -1, -2, -3)
    ]
    notes: list[str] = []
    if result is not None:
        meta = result.metadata
        total = f"; n = {meta['n_points']}" if exact else ""
        notes.append(
            f"{label('method', lang)}; {label('cell', lang)} {meta['cell_m'] / 1000:g} km{total}"
        )
    parts = [legend_html(label("confidence", lang), confidence, () if trends else notes)]
    if trends:
        trend_rows = [
            (colour, trend_text(f"{pattern}_hot", lang))
            for pattern, colour in TREND_COLOURS.items()
        ]
        parts.append(legend_html(label("trends", lang), trend_rows, notes))
    return Box("".join(parts), position="bottomright", css_class="tpm-hotspot-legend")


def _cell_features(
    cells: gpd.GeoDataFrame, lang: str, count_text: list[str], exact: bool = True
) -> dict[str, Any]:
    frame = cells.to_crs(4326) if cells.crs is not None and cells.crs.to_epsg() != 4326 else cells
    blank = [""] * len(frame)
    out = gpd.GeoDataFrame(
        {
            "cell_id": frame["cell_id"].astype(str),
            "count": count_text,
            "gi_z": frame["gi_z"].astype(float).round(2) if exact else blank,
            "p_value": frame["p_value"].astype(float).map(lambda v: f"{v:.3g}") if exact else blank,
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
    exact: bool = True,
) -> folium.FeatureGroup:
    """The hex cells coloured by Gi* confidence (ArcGIS palette), with a tooltip per cell.

    ``count_text`` overrides the counts shown (e.g. "<3" for person layers and roles without
    personal data); without ``exact`` the tooltip has no z or p value (:func:`exact_statistics`).
    Empty, non-significant cells are left out to keep the page small.
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
            _cell_features(subset, lang, shown, exact),
            style_function=lambda f: {
                "fillColor": BIN_COLOURS[int(f["properties"]["gi_bin"])],
                "fillOpacity": 0.75 if f["properties"]["gi_bin"] else 0.35,
                "color": "#555",
                "weight": 0.3,
            },
            tooltip=FieldsTooltip(
                fields=["count", "confidence", *(["gi_z", "p_value"] if exact else []), "trend"],
                aliases=[
                    label("count", lang),
                    label("confidence", lang),
                    *(["Gi* z", "p"] if exact else []),
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
            tooltip=FieldsTooltip(
                fields=["trend", "count"], aliases=[label("trend", lang), label("count", lang)]
            ),
        ).add_to(group)
    return group


# (position 0–1 of the density's peak, colour)
KDE_RAMP: Final = ((0.0, "#fdae61"), (0.5, "#e3401f"), (1.0, "#67001f"))


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
    # Orange → red → purple, strong enough to read on the beige land; transparent where the
    # density is below 2 % of the peak. The legend (kde_legend) shows the same ramp.
    positions = [stop for stop, _colour in KDE_RAMP]
    for channel in range(3):
        levels = [
            int(colour[1 + 2 * channel : 3 + 2 * channel], 16) / 255 for _s, colour in KDE_RAMP
        ]
        rgba[..., channel] = np.interp(scaled, positions, levels)
    rgba[..., 3] = np.where(scaled > 0.02, 0.45 + 0.5 * scaled, 0.0)
    return folium.raster_layers.ImageOverlay(
        image=(rgba * 255).astype(np.uint8),
        bounds=[[south, west], [north, east]],
        opacity=opacity,
        name=label("kde", lang),
        interactive=False,
    )


def kde_legend(*, lang: str = "id") -> Box:
    """The KDE's colour ramp, from the faintest density drawn to the peak."""
    stops = ", ".join(f"{colour} {stop * 100:.0f}%" for stop, colour in KDE_RAMP)
    ramp = (
        '<div class="tpm-ramp" style="height:12px;width:180px;border:1px solid #777;'
        f'background:linear-gradient(to right, {html_text(stops)})"></div>'
        '<div style="display:flex;justify-content:space-between;width:182px">'
        f"<span>{html_text(t('kde_low', lang))}</span>"
        f"<span>{html_text(t('kde_high', lang))}</span></div>"
    )
    return Box(
        f"<h4>{html_text(t('kde_legend', lang))}</h4>{ramp}",
        position="bottomright",
        css_class="tpm-legend tpm-kde-legend",
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
            tooltip=FieldsTooltip(
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
            tooltip=TextTooltip(f"{label('route', lang)}: {plan.length_km:.1f} km"),
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
        tooltip=TextTooltip(label("start", lang)),
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
            tooltip=TextTooltip(
                f"{label('stop', lang)} {point.order}: {label('covered', lang)} "
                f"{point.covered_weight:g}"
            ),
        ).add_to(group)
    return group


def patrol_summary(plan: PatrolPlan, *, lang: str = "id") -> Box:
    rows = [
        f"{len(plan.points)} × {plan.radius_m / 1000:g} km",
        f"{label('covered', lang)}: {plan.covered_share:.0%}",
        f"{label('length', lang)}: {plan.length_km:.1f} km",
    ]
    if not plan.points:
        rows.append(label("no_data", lang))
    text = f"<h4>{html_text(label('patrol', lang))}</h4>" + "".join(
        f"<div>{html_text(row)}</div>" for row in rows
    )
    return Box(text, position="bottomleft", css_class="tpm-patrol-summary")


def bounds_of(result: HotspotResult | None, plan: PatrolPlan | None) -> list[list[float]] | None:
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


def plain_map(bounds: list[list[float]] | None) -> folium.Map:
    centre = (
        [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        if bounds
        else [1.5, 109.3]
    )
    m = folium.Map(location=centre, zoom_start=9, tiles=None, control_scale=True)
    add_map_css(m)
    if bounds:
        m.fit_bounds(bounds)
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
    exact: bool = True,
) -> None:
    if kde is not None:
        kde_layer(kde, lang=lang).add_to(m)
        kde_legend(lang=lang).add_to(m)
    hotspot_layer(result, lang=lang, count_text=count_text, exact=exact).add_to(m)
    trend_layer(result, lang=lang).add_to(m)
    if clusters is not None:
        clusters_layer(clusters, lang=lang).add_to(m)
    if plan is not None:
        patrol_layer(plan, lang=lang).add_to(m)
        patrol_summary(plan, lang=lang).add_to(m)
    hotspot_legend(result, lang=lang, exact=exact).add_to(m)


def exact_statistics(result: HotspotResult, principal_role: str) -> bool:
    """Whether ``principal_role`` may see a cell's exact z and p values and the total: not for
    sightings (persons) without personal data, where with the counts around a cell they give a
    suppressed count back (docs/privacy.md)."""
    return result.counts.window.layer != "sightings" or sees_personal_data(principal_role)


def count_texts(result: HotspotResult, principal_role: str) -> list[str]:
    """Counts as the role may see them: sightings are persons, so small counts become "<3"."""
    persons = result.counts.window.layer == "sightings"
    return [
        str(shown_count(int(c), role=principal_role, persons=persons))
        for c in result.cells["count"]
    ]


def hotspot_result(
    *,
    session: Session,
    filters: MapFilters,
    cell_m: float,
    settings: Settings,
    slice_unit: str = "week",
) -> HotspotResult:
    """The Gi* analysis of the filtered layer, as the views and the printed maps ask for it."""
    return hotspots(
        session=session,
        layer=filters.layer,
        cell_m=cell_m,
        start=filters.start,
        end=filters.end,
        kinds=list(filters.kinds) or None,
        slice_unit=slice_unit,
        reference_data_dir=settings.area.reference_data_dir,
    )


def view_hotspot_result(
    *, session: Session, params: MapParams, settings: Settings
) -> HotspotResult:
    """The analysis a view draws: its filters, its cell size (1 km unless asked), its slices."""
    return hotspot_result(
        session=session,
        filters=params.filters,
        cell_m=params.cell_m or DEFAULT_CELL_M,
        settings=settings,
        slice_unit=params.period,
    )
