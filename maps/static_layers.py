"""The layers of the printed maps (snapshots and the briefing pack), drawn with matplotlib in
EPSG:32649: each holds aggregates only and draws itself, returning its legend in real counts.

Counts of persons (sightings) below 3 are shown as "<3" here whatever the caller's role: exports
leave the system (docs/privacy.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from shapely.geometry.base import BaseGeometry

from geo import mapdata
from geo.hotspots.analysis import HotspotResult
from geo.hotspots.surfaces import KdeGrid
from geo.mapdata import MapFilters
from geo.patrol import PatrolPlan
from maps.common import Classes, classify
from maps.hotspot_labels import BIN_COLOURS, PATROL_COLOUR, confidence_text
from maps.hotspot_labels import label as hotspot_label
from maps.labels import Lang, t
from maps.static_basemap import NamedGeometry
from maps.utm_geometry import add_polygons, lonlat_to_utm

MIN_PERSONS: Final = 3
SUPPRESSED_COLOUR: Final = "#bdbdbd"
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


# --- counts as shown ----------------------------------------------------------------------------


_SWAP_SEPARATORS: Final = str.maketrans({",": ".", ".": ","})


def number_text(value: float, lang: Lang = "id", digits: int = 0) -> str:
    """A number as the page's language writes it: 4.914 and 1,5 in Bahasa Indonesia, 4,914 and
    1.5 in English."""
    text = f"{value:,.{digits}f}"
    return text.translate(_SWAP_SEPARATORS) if lang == "id" else text


def in_lang(text: str, lang: Lang) -> str:
    """A label whose numbers are written the Indonesian way (the shared class labels of
    ``maps.common``), with the separators of ``lang``."""
    return text.translate(_SWAP_SEPARATORS) if lang == "en" else text


def shown(count: int, *, persons: bool, lang: Lang = "id") -> str:
    """A count as an export prints it: persons below 3 become "<3" (docs/privacy.md)."""
    if persons and 0 < count < MIN_PERSONS:
        return f"<{MIN_PERSONS}"
    return number_text(count, lang)


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
                for c, lab in zip(classes.colours, in_lang_labels(classes, lang), strict=True)
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
        total = f"{t('total', lang)}: {shown(self.total, persons=self.persons, lang=lang)}"
        return Legend(self.title, entries, [total, *self.notes])


def grid_from_heat_cells(cells: mapdata.HeatCells) -> tuple[npt.NDArray[np.int64], ...]:
    """Cell indices of ``mapdata.heat_cells`` rows (centres in lat/lon) back in EPSG:32649.

    The centres come rounded (4 decimals, ~11 m); rounding ``x / cell_m - 0.5`` recovers the
    index exactly while that error stays under half a cell (50 m at the smallest cell size).
    """
    if not cells.cells:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    arr = np.asarray(cells.cells, dtype=np.float64)
    x, y = lonlat_to_utm(arr[:, 1], arr[:, 0])
    gx = np.rint(x / cells.cell_m - 0.5).astype(np.int64)
    gy = np.rint(y / cells.cell_m - 0.5).astype(np.int64)
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
                            f"{_dec(lower, lang)}–{_dec(upper, lang)}",
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
        notes = [f"{t('total', lang)}: {shown(self.total, persons=self.persons, lang=lang)}"]
        return Legend(self.title, entries, notes)


def _dec(value: float, lang: Lang) -> str:
    return number_text(value, lang, 0 if value >= 100 else 1 if value >= 10 else 2)


def in_lang_labels(classes: Classes, lang: Lang) -> list[str]:
    return [in_lang(label, lang) for label in classes.labels]


@dataclass(frozen=True)
class PolygonLayer:
    """Polygons with a count each: hexagon bins and the kecamatan choropleth."""

    geoms: list[BaseGeometry]
    counts: list[int]
    persons: bool
    title: str
    zero_shown: bool = False  # the choropleth keeps kecamatan with 0 in the legend
    names: list[str] = field(default_factory=list)
    lang: Lang = "id"  # of the kecamatan labels' counts

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
                for c, lab in zip(classes.colours, in_lang_labels(classes, lang), strict=True)
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
        total = f"{t('total', lang)}: {shown(self.total, persons=self.persons, lang=lang)}"
        return Legend(self.title, entries, [total])

    def kecamatan_label(self, kec: NamedGeometry) -> str:
        """The kecamatan's name with its count as shown (for the choropleth)."""
        try:
            i = self.names.index(kec.code)
        except ValueError:
            return kec.name
        return f"{kec.name}\n{shown(self.counts[i], persons=self.persons, lang=self.lang)}"


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
                    f"{t(kind, lang)} ({shown(int(mask.sum()), persons=False, lang=lang)})",
                )
            )
        return Legend(
            self.title,
            entries,
            [f"{t('total', lang)}: {shown(self.total, persons=False, lang=lang)}"],
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
            points = shown(int(counts[mask].sum()), persons=self.persons, lang=lang)
            entries.append(
                (
                    Patch(facecolor=BIN_COLOURS[gi_bin], edgecolor="#777777", lw=0.3),
                    f"{confidence_text(gi_bin, lang)}: {t('snap_cells_n', lang, n=n_cells)}; "
                    f"{points}",
                )
            )
        notes = [
            hotspot_label("method", lang),
            f"{t('total', lang)}: {shown(self.total, persons=self.persons, lang=lang)}",
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
        share = f"{number_text(100 * plan.covered_share, lang)} %"
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
                t("snap_patrol_route", lang, km=number_text(plan.length_km, lang, 1)),
            ),
            (
                Line2D([], [], color=PATROL_COLOUR, lw=0.8, ls="--"),
                t(
                    "snap_patrol_radius",
                    lang,
                    r=f"{plan.radius_m / 1000:g}".replace(".", "," if lang == "id" else "."),
                ),
            ),
            (
                Patch(facecolor=BIN_COLOURS[2], alpha=0.55, edgecolor="none"),
                f"{t('snap_patrol_hot', lang)}: {len(self.hot_geoms)}",
            ),
        ]
        notes = [t("snap_patrol_covered", lang, share=share), hotspot_label("method", lang)]
        return Legend(self.title, entries, notes)


Layer = GridLayer | KdeLayer | PolygonLayer | PointLayer | HotspotLayer | PatrolLayer
