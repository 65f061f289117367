"""Static map snapshots for briefings: one A4 landscape page as PNG (200 dpi) or PDF.

``collect`` reads what a page needs through ``geo`` (aggregates only: counts per cell, hexagon or
kecamatan, Gi* classes, a patrol plan — never a name or a document number); ``draw`` turns it into
a matplotlib figure with our reference basemap, the layer, its legend in real counts, a scale bar,
a north arrow, the classification marking, the author, the data time and the sources;
``render`` gives the bytes. Persons (sightings) counted below 3 are shown as "<3" on every export,
whatever the caller's role: a briefing leaves the system.

Dense point layers are binned (in the database) and drawn as one image, so a million incidents
cost what a few thousand cells cost; in a PDF that image is the only raster, the linework and the
text stay vector.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from geo import briefing as briefing_sql
from geo import mapdata
from geo.boundaries import attributions
from geo.errors import ValidationError
from geo.hotspots.analysis import HotspotResult, hotspots
from geo.hotspots.surfaces import KdeGrid, kde_surface
from geo.mapdata import MapFilters, check_cell_m, parse_filters
from geo.patrol import PatrolPlan, default_start, plan_from_hotspots, recent_patrols_utm
from geo.settings import Settings
from geo.users import Principal
from maps.common import Classes, classify
from maps.hotspots import BIN_COLOURS, PATROL_COLOUR, confidence_text
from maps.hotspots import label as hotspot_label
from maps.labels import Lang, check_lang, t
from maps.sheet import (
    MAP_RECT,
    PANEL_RECT,
    Basemap,
    Labeller,
    NamedGeometry,
    Sheet,
    add_polygons,
    basemap_handles,
    draw_base_over,
    draw_base_under,
    draw_places,
    figure_bytes,
    filter_lines,
    furnish,
    geojson_to_utm,
    lonlat_to_utm,
    map_axes,
    new_page,
    no_data,
    north_arrow,
    period_text,
    scale_bar,
    set_extent,
    wrap,
)
from maps.sheet import load_basemap as load_basemap

LAYERS: Final = ("heat", "kde", "hexbins", "choropleth", "hotspots", "incidents", "patrol")
FORMATS: Final = ("png", "pdf")
SUPPRESS_ROLE: Final = "viewer"  # exports always apply the strictest rule (DESIGN §8)
MIN_PERSONS: Final = 3
SUPPRESSED_COLOUR: Final = "#bdbdbd"
DENSE_POINTS: Final = 20_000  # above this, incident points are binned and drawn as one image
DENSE_CELL_M: Final = 250.0
HEAT_CELL_M: Final = 1000.0
HEX_CELL_M: Final = 2000.0
HOTSPOT_CELL_M: Final = 1000.0
KDE_BANDWIDTH_M: Final = 1500.0
PATROL_K: Final = 4
PATROL_RADIUS_M: Final = 2000.0
PATROL_RECENT_DAYS: Final = 7
KIND_COLOURS: Final = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#666666",
    "#17becf",
)

FloatArray = npt.NDArray[np.float64]


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotParams:
    """A snapshot request: the map layer, the data filters of the map views, the language."""

    layer: str = "heat"
    filters: MapFilters = field(default_factory=MapFilters)
    lang: Lang = "id"
    cell_m: float | None = None


def parse_snapshot_params(
    *,
    layer: str | None = None,
    source: str | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    lang: str | None = None,
    cell_m: float | None = None,
    default_lang: str = "id",
) -> SnapshotParams:
    """Validate raw values (query string, CLI); a bad one raises ValidationError naming it.

    ``layer`` is the map layer (heat, kde, hexbins, choropleth, hotspots, incidents, patrol);
    ``source`` is what the map views call ``layer``: incidents (default) or sightings.
    """
    layer_name = (layer or "heat").strip()
    if layer_name not in LAYERS:
        raise ValidationError(
            f"layer must be one of {', '.join(LAYERS)}; got {layer_name!r}",
            field="layer",
            value=layer_name,
        )
    filters = parse_filters(layer=source, start=start, end=end, kind=kind, kecamatan=kecamatan)
    if layer_name == "incidents" and filters.layer != "incidents":
        # One dot per sighting would place one identifiable person: sightings only aggregated.
        raise ValidationError(
            "layer incidents draws incident points; sightings are shown aggregated only "
            f"(heat, kde, hexbins, choropleth, hotspots); got source {filters.layer!r}",
            field="source",
            value=filters.layer,
        )
    return SnapshotParams(
        layer=layer_name,
        filters=filters,
        lang=check_lang(lang, default_lang),
        cell_m=check_cell_m(cell_m) if cell_m is not None else None,
    )


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationError(
            f"format must be one of {', '.join(FORMATS)}; got {fmt!r}", field="format", value=fmt
        )
    return fmt


# --- counts as shown ----------------------------------------------------------------------------


def shown(count: int, *, persons: bool) -> str:
    """A count as an export prints it: persons below 3 become "<3" (DESIGN §8)."""
    if persons and 0 < count < MIN_PERSONS:
        return f"<{MIN_PERSONS}"
    return f"{count:,}".replace(",", ".")


def km(metres: float, lang: Lang = "id") -> str:
    """A distance for a label: 1,5 km in Bahasa Indonesia, 1.5 km in English."""
    text = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    return text.replace(".", ",") if lang == "id" else text


def data_name(filters: MapFilters, lang: Lang) -> str:
    return t(f"snap_data_{filters.layer}", lang)


@dataclass(frozen=True)
class Legend:
    title: str
    entries: list[tuple[Any, str]]
    notes: list[str] = field(default_factory=list)


# --- layers: data and drawing -------------------------------------------------------------------


CLASS_SAMPLE: Final = 150


def classes_for(
    values: Sequence[float] | FloatArray, *, integer: bool = True, scheme: str = "YlOrRd"
) -> Classes | None:
    """Fisher-Jenks classes of ``maps.common.classify``, on at most 150 order statistics.

    Without numba, mapclassify's Fisher-Jenks is pure Python and quadratic (2 s for 1,000
    cells); evenly spaced order statistics (min and max included, actual values) keep the
    breaks of the distribution, deterministic, at a bounded cost.
    """
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data) & (data > 0)]
    if data.size > CLASS_SAMPLE:
        data = np.quantile(data, np.linspace(0.0, 1.0, CLASS_SAMPLE), method="nearest")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        return classify(data.tolist(), integer=integer, scheme=scheme)


def _class_index(values: FloatArray, bins: Sequence[float]) -> npt.NDArray[np.int64]:
    """Class of each value given upper bounds (inclusive), clipped to the last class."""
    idx = np.searchsorted(np.asarray(bins, dtype=float), values, side="left")
    return np.minimum(idx, len(bins) - 1).astype(np.int64)


def _rgba(colour: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(colour)
    return (r, g, b, a)


@dataclass(frozen=True)
class GridLayer:
    """Counts per square cell (EPSG:32649), drawn as one image: heat map and dense points."""

    cell_m: float
    gx: npt.NDArray[np.int64]
    gy: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    persons: bool
    title: str
    scheme: str = "YlOrRd"
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return int(self.count.sum())

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        if self.count.size == 0:
            return Legend(self.title, [], list(self.notes))
        counts = self.count.astype(np.float64)
        suppressed = (counts < MIN_PERSONS) if self.persons else np.zeros(counts.size, bool)
        classes = classes_for(counts[~suppressed], scheme=self.scheme)
        x0, y0 = int(self.gx.min()), int(self.gy.min())
        cols, rows = int(self.gx.max()) - x0 + 1, int(self.gy.max()) - y0 + 1
        image = np.zeros((rows, cols, 4), dtype=np.float64)
        entries: list[tuple[Any, str]] = []
        if classes is not None:
            palette = np.array([_rgba(c) for c in classes.colours])
            idx = _class_index(counts[~suppressed], classes.bins)
            image[self.gy[~suppressed] - y0, self.gx[~suppressed] - x0] = palette[idx]
            entries += [
                (Patch(facecolor=c, edgecolor="#777777", lw=0.3), lab)
                for c, lab in zip(classes.colours, classes.labels, strict=True)
            ]
        if suppressed.any():
            image[self.gy[suppressed] - y0, self.gx[suppressed] - x0] = _rgba(SUPPRESSED_COLOUR)
            entries.append(
                (
                    Patch(facecolor=SUPPRESSED_COLOUR, edgecolor="#777777"),
                    t("snap_suppressed", lang),
                )
            )
        ax.imshow(
            image,
            origin="lower",
            extent=(
                x0 * self.cell_m,
                (x0 + cols) * self.cell_m,
                y0 * self.cell_m,
                (y0 + rows) * self.cell_m,
            ),
            interpolation="nearest",
            zorder=10,
        )
        total = f"{t('total', lang)}: {shown(self.total, persons=self.persons)}"
        return Legend(self.title, entries, [total, *self.notes])


def grid_from_heat_cells(cells: mapdata.HeatCells) -> tuple[npt.NDArray[np.int64], ...]:
    """Cell indices of ``mapdata.heat_cells`` rows (centres in lat/lon) back in EPSG:32649."""
    if not cells.cells:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    arr = np.asarray(cells.cells, dtype=np.float64)
    x, y = lonlat_to_utm(arr[:, 1], arr[:, 0])
    gx = np.floor(x / cells.cell_m).astype(np.int64)
    gy = np.floor(y / cells.cell_m).astype(np.int64)
    return gx, gy, arr[:, 2].astype(np.int64)


@dataclass(frozen=True)
class KdeLayer:
    grid: KdeGrid | None
    total: int
    persons: bool
    title: str

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        grid = self.grid
        if grid is None:
            return Legend(self.title, [])
        density = grid.density
        # Nodes whose kernel holds less than half a point (or, for persons, fewer than 3) stay
        # blank: an isolated report would otherwise show as a lone blob on a briefing map.
        kernel_km2 = 2 * np.pi * (grid.bandwidth_m / 1000.0) ** 2
        floor = (MIN_PERSONS if self.persons else 0.5) / kernel_km2
        show = density >= floor
        entries: list[tuple[Any, str]] = []
        image = np.zeros((*density.shape, 4), dtype=np.float64)
        if show.any():
            values = density[show]
            qs = np.quantile(values, [0.5, 0.75, 0.9, 0.97, 1.0])
            classes = classes_for(qs, integer=False)
            if classes is not None:
                bins = [float(floor), *classes.bins]
                palette = np.array([_rgba(c) for c in classes.colours])
                idx = _class_index(values, classes.bins)
                image[show] = palette[idx]
                image[show, 3] = 0.85
                lower = bins[0]
                for colour, upper in zip(classes.colours, classes.bins, strict=True):
                    entries.append(
                        (
                            Patch(facecolor=colour, edgecolor="#777777", lw=0.3),
                            f"{_dec(lower)}–{_dec(upper)}",
                        )
                    )
                    lower = upper
        half = grid.cell_m / 2
        minx, miny, maxx, maxy = grid.bounds
        ax.imshow(
            image,
            origin="lower",
            extent=(minx - half, maxx + half, miny - half, maxy + half),
            interpolation="bilinear",
            zorder=10,
        )
        notes = [f"{t('total', lang)}: {shown(self.total, persons=self.persons)}"]
        return Legend(self.title, entries, notes)


def _dec(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}".replace(",", ".")
    if value >= 10:
        return f"{value:.1f}".replace(".", ",")
    return f"{value:.2f}".replace(".", ",")


@dataclass(frozen=True)
class PolygonLayer:
    """Polygons with a count each: hexagon bins and the kecamatan choropleth."""

    geoms: list[BaseGeometry]
    counts: list[int]
    persons: bool
    title: str
    zero_shown: bool = False  # the choropleth keeps kecamatan with 0 in the legend
    names: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(sum(self.counts))

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        entries: list[tuple[Any, str]] = []
        if not self.geoms:
            return Legend(self.title, entries)
        values = np.asarray(self.counts, dtype=np.float64)
        suppressed = (values > 0) & (values < MIN_PERSONS) if self.persons else values < 0
        classes = classes_for(values[~suppressed])
        colours: list[Any] = ["none"] * len(values)
        if classes is not None:
            for i, v in enumerate(values):
                if v > 0 and not suppressed[i]:
                    colours[i] = classes.colour(float(v))
            entries += [
                (Patch(facecolor=c, edgecolor="#777777", lw=0.3), lab)
                for c, lab in zip(classes.colours, classes.labels, strict=True)
            ]
        for hidden in np.flatnonzero(suppressed).tolist():
            colours[hidden] = SUPPRESSED_COLOUR
        if suppressed.any():
            entries.append(
                (
                    Patch(facecolor=SUPPRESSED_COLOUR, edgecolor="#777777"),
                    t("snap_suppressed", lang),
                )
            )
        if self.zero_shown and (values == 0).any():
            entries.append((Patch(facecolor="white", edgecolor="#777777", lw=0.3), "0"))
        keep = [i for i, c in enumerate(colours) if c != "none"]
        add_polygons(
            ax,
            [self.geoms[i] for i in keep],
            zorder=10,
            facecolors=[colours[i] for i in keep],
            edgecolors="#ffffff" if not self.zero_shown else "none",
            linewidths=0.2,
            alpha=0.9,
        )
        total = f"{t('total', lang)}: {shown(self.total, persons=self.persons)}"
        return Legend(self.title, entries, [total])

    def kecamatan_label(self, kec: NamedGeometry) -> str:
        """The kecamatan's name with its count as shown (for the choropleth)."""
        try:
            i = self.names.index(kec.code)
        except ValueError:
            return kec.name
        return f"{kec.name}\n{shown(self.counts[i], persons=self.persons)}"


@dataclass(frozen=True)
class PointLayer:
    """Incident points coloured by kind (sparse layers); one rasterised collection per kind."""

    x: FloatArray
    y: FloatArray
    kinds: list[str]
    title: str

    @property
    def total(self) -> int:
        return int(self.x.size)

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        entries: list[tuple[Any, str]] = []
        kinds = np.asarray(self.kinds, dtype=object)
        present = sorted(set(self.kinds), key=lambda k: (-int((kinds == k).sum()), k))
        for i, kind in enumerate(present):
            mask = kinds == kind
            colour = KIND_COLOURS[i % len(KIND_COLOURS)]
            ax.scatter(
                self.x[mask],
                self.y[mask],
                s=6,
                color=colour,
                edgecolors="white",
                linewidths=0.2,
                zorder=12,
                rasterized=True,
            )
            entries.append(
                (
                    Line2D([], [], marker="o", ls="", color=colour, mec="white", ms=4),
                    f"{t(kind, lang)} ({shown(int(mask.sum()), persons=False)})",
                )
            )
        return Legend(
            self.title, entries, [f"{t('total', lang)}: {shown(self.total, persons=False)}"]
        )


@dataclass(frozen=True)
class HotspotLayer:
    result: HotspotResult
    geoms: list[BaseGeometry]  # cell polygons in EPSG:32649, aligned with result.cells
    persons: bool
    title: str

    @property
    def total(self) -> int:
        return int(self.result.cells["count"].sum()) if len(self.result.cells) else 0

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        cells = self.result.cells
        entries: list[tuple[Any, str]] = []
        if not len(cells):
            return Legend(self.title, entries)
        bins = cells["gi_bin"].to_numpy()
        counts = cells["count"].to_numpy()
        for gi_bin in (3, 2, 1, -1, -2, -3):
            mask = bins == gi_bin
            n_cells = int(mask.sum())
            if gi_bin < 0 and n_cells == 0:
                continue
            if n_cells:
                add_polygons(
                    ax,
                    [self.geoms[i] for i in np.flatnonzero(mask)],
                    zorder=10,
                    facecolor=BIN_COLOURS[gi_bin],
                    edgecolor="#ffffff",
                    linewidths=0.15,
                    alpha=0.92,
                )
            points = shown(int(counts[mask].sum()), persons=self.persons)
            entries.append(
                (
                    Patch(facecolor=BIN_COLOURS[gi_bin], edgecolor="#777777", lw=0.3),
                    f"{confidence_text(gi_bin, lang)}: {t('snap_cells_n', lang, n=n_cells)}; "
                    f"{points}",
                )
            )
        notes = [
            hotspot_label("method", lang),
            f"{t('total', lang)}: {shown(self.total, persons=self.persons)}",
        ]
        return Legend(self.title, entries, notes)


@dataclass(frozen=True)
class PatrolLayer:
    plan: PatrolPlan
    hot_geoms: list[BaseGeometry]
    total: int
    title: str

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        plan = self.plan
        if self.hot_geoms:
            add_polygons(
                ax,
                self.hot_geoms,
                zorder=9,
                facecolor=BIN_COLOURS[2],
                edgecolor="none",
                alpha=0.55,
            )
        rx, ry = lonlat_to_utm([p[0] for p in plan.route], [p[1] for p in plan.route])
        for p in plan.points:
            ax.add_patch(
                Circle(
                    (p.x_utm, p.y_utm),
                    plan.radius_m,
                    facecolor="none",
                    edgecolor=PATROL_COLOUR,
                    lw=0.8,
                    ls="--",
                    zorder=24,
                )
            )
        if plan.points:
            ax.plot(rx, ry, color=PATROL_COLOUR, lw=1.6, zorder=25)
        sx, sy = lonlat_to_utm([plan.start[0]], [plan.start[1]])
        ax.scatter(sx, sy, marker="*", s=90, color="black", edgecolors="white", zorder=27)
        for p in plan.points:
            ax.scatter(
                [p.x_utm], [p.y_utm], s=90, color=PATROL_COLOUR, edgecolors="white", zorder=26
            )
            ax.text(
                p.x_utm,
                p.y_utm,
                str(p.order),
                ha="center",
                va="center",
                fontsize=6.5,
                fontweight="bold",
                color="white",
                zorder=27,
            )
        share = f"{plan.covered_share:.0%}".replace(".", ",")
        entries: list[tuple[Any, str]] = [
            (
                Line2D([], [], marker="o", ls="", color=PATROL_COLOUR, mec="white", ms=8),
                f"{t('snap_patrol_stops', lang)}: {len(plan.points)}",
            ),
            (
                Line2D([], [], marker="*", ls="", color="black", mec="white", ms=9),
                t("snap_patrol_start", lang),
            ),
            (
                Line2D([], [], color=PATROL_COLOUR, lw=1.6),
                t("snap_patrol_route", lang, km=f"{plan.length_km:.1f}".replace(".", ",")),
            ),
            (
                Line2D([], [], color=PATROL_COLOUR, lw=0.8, ls="--"),
                t("snap_patrol_radius", lang, r=f"{plan.radius_m / 1000:g}".replace(".", ",")),
            ),
            (
                Patch(facecolor=BIN_COLOURS[2], alpha=0.55, edgecolor="none"),
                f"{t('snap_patrol_hot', lang)}: {len(self.hot_geoms)}",
            ),
        ]
        notes = [t("snap_patrol_covered", lang, share=share), hotspot_label("method", lang)]
        return Legend(self.title, entries, notes)


Layer = GridLayer | KdeLayer | PolygonLayer | PointLayer | HotspotLayer | PatrolLayer


# --- collecting ---------------------------------------------------------------------------------


def layer_title(params: SnapshotParams) -> str:
    what = t(f"snap_layer_{params.layer}", params.lang, data=data_name(params.filters, params.lang))
    return t("snap_title", params.lang, what=what)


def _hotspots(
    *, session: Session, filters: MapFilters, cell_m: float, settings: Settings
) -> HotspotResult:
    return hotspots(
        session=session,
        layer=filters.layer,
        cell_m=cell_m,
        start=filters.start,
        end=filters.end,
        kinds=filters.kinds or None,
        reference_data_dir=settings.area.reference_data_dir,
    )


def _utm_geoms(result: HotspotResult, mask: npt.NDArray[np.bool_] | None = None) -> list[Any]:
    cells = result.cells if mask is None else result.cells[mask]
    if not len(cells):
        return []
    return list(cells.geometry.to_crs(32649).values)


def patrol_plan(
    *,
    session: Session,
    result: HotspotResult,
    settings: Settings,
    reference_time: dt.datetime | None,
) -> PatrolPlan:
    """The plan of ``geo.patrol`` on an already computed hotspot result (no second Gi* run);
    "recent" patrols are counted back from ``reference_time`` so equal data gives equal plans."""
    visits_xy = visits_r = None
    if reference_time is not None:
        visits_xy, visits_r = recent_patrols_utm(
            session=session, since=reference_time - dt.timedelta(days=PATROL_RECENT_DAYS)
        )
    return plan_from_hotspots(
        result,
        k=PATROL_K,
        radius_m=PATROL_RADIUS_M,
        start=default_start(settings.area),
        recent_visits_xy=visits_xy,
        recent_visits_radius_m=visits_r,
    )


def collect_layer(
    *,
    session: Session,
    params: SnapshotParams,
    settings: Settings,
    data_as_of: dt.datetime | None = None,
) -> Layer:
    """Read the chosen layer through ``geo`` (aggregates only)."""
    filters, lang = params.filters, params.lang
    persons = filters.persons
    if params.layer == "heat":
        cell_m = params.cell_m or HEAT_CELL_M
        gx, gy, n = grid_from_heat_cells(
            mapdata.heat_cells(session=session, filters=filters, cell_m=cell_m)
        )
        title = t("count_per_cell", lang, size=km(cell_m, lang))
        return GridLayer(cell_m, gx, gy, n, persons, title)
    if params.layer == "kde":
        cell_m = KDE_BANDWIDTH_M / 4
        gx, gy, n = grid_from_heat_cells(
            mapdata.heat_cells(session=session, filters=filters, cell_m=cell_m)
        )
        grid = None
        if n.size:
            # Binned KDE: cell centres weighted by their counts (the binning error is already
            # part of the method, see geo.hotspots.surfaces.kde_surface).
            grid = kde_surface(
                (gx + 0.5) * cell_m,
                (gy + 0.5) * cell_m,
                bandwidth_m=KDE_BANDWIDTH_M,
                cell_m=cell_m,
                weights=n.astype(np.float64),
            )
        title = t("snap_legend_kde", lang, bw=km(KDE_BANDWIDTH_M, lang))
        return KdeLayer(grid, int(n.sum()), persons, title)
    if params.layer == "hexbins":
        cell_m = params.cell_m or HEX_CELL_M
        cells = mapdata.hex_counts(session=session, filters=filters, cell_m=cell_m)
        return PolygonLayer(
            [geojson_to_utm(c.geometry) for c in cells],
            [c.count for c in cells],
            persons,
            t("snap_legend_hex", lang, size=km(cell_m, lang)),
        )
    if params.layer == "choropleth":
        stats = mapdata.kecamatan_stats(session=session, filters=filters)
        if filters.kecamatan:
            stats = [s for s in stats if s.code in filters.kecamatan]
        return PolygonLayer(
            [geojson_to_utm(s.geometry) for s in stats],
            [s.count for s in stats],
            persons,
            t("snap_legend_kecamatan", lang),
            zero_shown=True,
            names=[s.code for s in stats],
        )
    if params.layer == "incidents":
        total = briefing_sql.point_count(session=session, filters=filters)
        if total > DENSE_POINTS:
            gx, gy, n = grid_from_heat_cells(
                mapdata.heat_cells(session=session, filters=filters, cell_m=DENSE_CELL_M)
            )
            note = t(
                "snap_dense_note", lang, n=shown(total, persons=False), size=km(DENSE_CELL_M, lang)
            )
            title = t("snap_legend_dense", lang, size=km(DENSE_CELL_M, lang))
            return GridLayer(DENSE_CELL_M, gx, gy, n, False, title, "PuRd", (note,))
        x, y, kinds = briefing_sql.points_utm(session=session, filters=filters)
        return PointLayer(x, y, kinds, t("snap_legend_points", lang))
    cell_m = params.cell_m or HOTSPOT_CELL_M
    result = _hotspots(session=session, filters=filters, cell_m=cell_m, settings=settings)
    if params.layer == "hotspots":
        title = t("snap_legend_hotspots", lang, size=km(cell_m, lang))
        return HotspotLayer(result, _utm_geoms(result), persons, title)
    reference = filters.end or data_as_of
    plan = patrol_plan(session=session, result=result, settings=settings, reference_time=reference)
    hot = result.cells["gi_bin"].to_numpy() >= 2 if len(result.cells) else None
    total = int(result.cells["count"].sum()) if len(result.cells) else 0
    return PatrolLayer(plan, _utm_geoms(result, hot), total, t("snap_layer_patrol", lang))


@dataclass(frozen=True)
class Snapshot:
    """Everything one page shows; ``draw`` needs no database."""

    params: SnapshotParams
    sheet: Sheet
    basemap: Basemap
    layer: Layer
    title: str


def make_sheet(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    filters: MapFilters,
    lang: Lang,
    basemap: Basemap,
) -> Sheet:
    return Sheet(
        marking=settings.service.classification_marking,
        lang=lang,
        author=principal.name,
        role=principal.role,
        data_as_of=briefing_sql.data_as_of(session=session),
        attributions=tuple(attributions()),
        period=period_text(filters, lang),
        filters=filter_lines(filters, lang, basemap.kecamatan_names()),
    )


def collect(
    *,
    session: Session,
    params: SnapshotParams,
    settings: Settings,
    principal: Principal,
    basemap: Basemap | None = None,
) -> Snapshot:
    basemap = basemap or load_basemap(session=session)
    sheet = make_sheet(
        session=session,
        settings=settings,
        principal=principal,
        filters=params.filters,
        lang=params.lang,
        basemap=basemap,
    )
    layer = collect_layer(
        session=session, params=params, settings=settings, data_as_of=sheet.data_as_of
    )
    return Snapshot(params, sheet, basemap, layer, layer_title(params))


# --- drawing ------------------------------------------------------------------------------------


def draw_map(
    ax: Axes,
    *,
    basemap: Basemap,
    layer: Layer,
    lang: Lang,
    kecamatan: Sequence[str] = (),
) -> Legend:
    """Basemap, the layer, the linework above it, places, scale bar and north arrow."""
    set_extent(ax, basemap.extent_of(kecamatan))
    draw_base_under(ax, basemap)
    legend = layer.draw(ax, lang)
    draw_base_over(ax, basemap)
    labeller = Labeller(ax)
    for artist in (*scale_bar(ax, lang), *north_arrow(ax, lang)):
        labeller.reserve(artist)
    label_fn: Callable[[NamedGeometry], str | None] | None = None
    if isinstance(layer, PolygonLayer) and layer.names:
        label_fn = layer.kecamatan_label
    draw_places(ax, basemap, labeller, kecamatan_label=label_fn)
    if layer.total == 0:
        no_data(ax, lang)
    return legend


def draw_panel(fig: Figure, rect: Sequence[float], *, legend: Legend, snapshot: Snapshot) -> Axes:
    """Legend of the layer (real counts), the basemap legend and notes, beside the map."""
    lang = snapshot.params.lang
    panel = fig.add_axes(tuple(rect))  # type: ignore[arg-type]
    panel.set_axis_off()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    top = 1.0
    entries = legend.entries or [(Patch(facecolor="none", edgecolor="none"), t("no_data", lang))]
    first = panel.legend(
        [h for h, _ in entries],
        [lab for _, lab in entries],
        title=legend.title,
        loc="upper left",
        bbox_to_anchor=(0.0, top),
        frameon=False,
        fontsize=7.5,
        title_fontsize=8.5,
        alignment="left",
        handlelength=1.6,
        borderaxespad=0.0,
    )
    panel.add_artist(first)
    top = _below(panel, first, renderer) - 0.015
    for note in legend.notes:
        text = panel.text(0.0, top, wrap(note, 62), fontsize=7, va="top", color="#333333")
        top = _below(panel, text, renderer) - 0.008
    top -= 0.02
    handles = basemap_handles(snapshot.basemap, lang)
    second = panel.legend(
        [h for h, _ in handles],
        [lab for _, lab in handles],
        title=t("snap_basemap", lang),
        loc="upper left",
        bbox_to_anchor=(0.0, top),
        frameon=False,
        fontsize=7.5,
        title_fontsize=8.5,
        alignment="left",
        handlelength=1.6,
        borderaxespad=0.0,
    )
    top = _below(panel, second, renderer) - 0.03
    sheet = snapshot.sheet
    lines = [f"{t('period', lang)}: {sheet.period}", *sheet.filters]
    if snapshot.params.filters.persons:
        lines.append(t("suppressed_note", lang))
    lines.append(t("snap_note_aggregate", lang))
    panel.text(0.0, top, "\n".join(wrap(line, 62) for line in lines), fontsize=7, va="top")
    return panel


def _below(panel: Axes, artist: Any, renderer: Any) -> float:
    """The axes-fraction y just under an artist already placed in the panel."""
    box = artist.get_window_extent(renderer=renderer)
    return float(panel.transAxes.inverted().transform((0, box.y0))[1])


def subtitle(sheet: Sheet) -> str:
    lang = sheet.lang
    parts = [f"{t('period', lang)}: {sheet.period}", *sheet.filters]
    return "   ·   ".join(parts)


def draw(snapshot: Snapshot, *, page: int = 1, pages: int = 1) -> Figure:
    """The A4 landscape page of a snapshot."""
    fig = new_page()
    params = snapshot.params
    ax = map_axes(fig, MAP_RECT)
    legend = draw_map(
        ax,
        basemap=snapshot.basemap,
        layer=snapshot.layer,
        lang=params.lang,
        kecamatan=params.filters.kecamatan,
    )
    draw_panel(fig, PANEL_RECT, legend=legend, snapshot=snapshot)
    furnish(
        fig,
        snapshot.sheet,
        title=snapshot.title,
        subtitle=subtitle(snapshot.sheet),
        page=page,
        pages=pages,
    )
    return fig


def render(snapshot: Snapshot, fmt: str) -> bytes:
    """PNG (200 dpi) or PDF bytes of the snapshot."""
    return figure_bytes(draw(snapshot), check_format(fmt))


def render_snapshot(
    *,
    session: Session,
    params: SnapshotParams,
    settings: Settings,
    principal: Principal,
    fmt: str,
) -> tuple[bytes, Snapshot]:
    """Collect and render: what ``GET /maps/snapshot.{png,pdf}`` and ``timpora snapshot`` do."""
    check_format(fmt)
    snapshot = collect(session=session, params=params, settings=settings, principal=principal)
    return render(snapshot, fmt), snapshot


def file_name(params: SnapshotParams, fmt: str) -> str:
    """A file name that says what it is: timpora-heat-incidents-20250101-20250401.png."""
    parts = ["timpora", params.layer, params.filters.layer]
    f = params.filters
    if f.start:
        parts.append(f.start.astimezone(mapdata.WIB).strftime("%Y%m%d"))
    if f.end:
        parts.append(f.end.astimezone(mapdata.WIB).strftime("%Y%m%d"))
    return "-".join(parts) + f".{fmt}"
