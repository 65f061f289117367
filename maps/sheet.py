"""The printed sheet every export shares: A4 landscape page furniture and the reference basemap.

Maps are drawn in EPSG:32649 (WGS 84 / UTM 49N), so one metre on the ground is the same length
everywhere on the sheet and the scale bar is true (grid convergence at Sambas, ~0.05°, is far
below what the eye sees on a north arrow). Nothing here loads a tile: the basemap comes from our
own reference layers in the database. Output is byte-for-byte reproducible for the same data:
the PNG and PDF metadata that would carry a clock time or a version are fixed.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import matplotlib
import numpy as np
import numpy.typing as npt
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from geo import mapdata
from geo.geometry import transformer
from geo.mapdata import MapFilters
from geo.models import METRIC_SRID, SRID
from geo.times import WIB
from maps.labels import Lang, t

A4_LANDSCAPE_IN: Final = (11.69, 8.27)
PNG_DPI: Final = 200
MARKING_COLOUR: Final = "#b30000"
# Fixed metadata: no clock time, no version string, so equal data gives equal bytes.
PDF_METADATA: Final[dict[str, Any]] = {
    "Creator": "Timpora Map",
    "Producer": "Timpora Map",
    "CreationDate": None,
}
PNG_METADATA: Final[dict[str, Any]] = {"Software": None}
RC: Final[dict[Any, Any]] = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: no system font, same glyphs anywhere
    "pdf.fonttype": 3,  # subsets fast (Type 42 costs ~1.5 s in fontTools); text still extractable
    "pdf.compression": 6,
}
# rcParams are process-global: exports save one at a time so concurrent requests (the API runs
# handlers in a thread pool) cannot see each other's settings half-way through a file.
_SAVE_LOCK: Final = threading.Lock()

# Map area and side panel, in figure fractions of an A4 landscape page.
MAP_RECT: Final = (0.025, 0.095, 0.58, 0.785)
PANEL_RECT: Final = (0.625, 0.095, 0.35, 0.785)

STYLE: Final[dict[str, str]] = {
    "sea": "#dcecf5",
    "land_idn": "#f4f1ea",
    "land_other": "#e2e0dc",
    "regency": "#fdfcf8",
    "kecamatan_edge": "#9a9a9a",
    "regency_edge": "#4d4d4d",
    "border": "#7b2d8e",
    "band": "#e08214",
    "post": "#c51b1b",
    "town": "#222222",
    "label": "#555555",
}


# --- the sheet ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """What every page of an export states besides its map: marking, author, time, sources."""

    marking: str
    lang: Lang
    author: str
    role: str
    data_as_of: dt.datetime | None
    attributions: tuple[str, ...]
    period: str
    filters: tuple[str, ...] = ()

    def as_of_text(self) -> str:
        if self.data_as_of is None:
            return "–"
        return self.data_as_of.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


def period_text(filters: MapFilters, lang: Lang) -> str:
    """The time window in WIB, or "all time"."""
    if filters.start is None and filters.end is None:
        return t("all_time", lang)
    fmt = "%Y-%m-%d %H:%M"
    start = filters.start.astimezone(WIB).strftime(fmt) if filters.start else "…"
    end = filters.end.astimezone(WIB).strftime(fmt) if filters.end else "…"
    return f"{start} – {end} WIB"


def filter_lines(
    filters: MapFilters, lang: Lang, kecamatan_names: dict[str, str]
) -> tuple[str, ...]:
    """The non-time filters as short lines ("Jenis: …", "Kecamatan: …")."""
    lines: list[str] = []
    if filters.kinds:
        lines.append(f"{t('kind', lang)}: " + ", ".join(t(k, lang) for k in filters.kinds))
    if filters.kecamatan:
        names = [kecamatan_names.get(c, c) for c in filters.kecamatan]
        lines.append(f"{t('kecamatan', lang)}: " + ", ".join(names))
    return tuple(lines)


def new_page() -> Figure:
    """An A4 landscape figure with an Agg canvas (no pyplot: safe in a threaded server)."""
    fig = Figure(figsize=A4_LANDSCAPE_IN, dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def furnish(fig: Figure, sheet: Sheet, *, title: str, subtitle: str, page: int, pages: int) -> None:
    """Marking top and bottom, title, subtitle, author, data time, sources and page number."""
    lang = sheet.lang
    for y, va in ((0.985, "top"), (0.008, "bottom")):
        fig.text(
            0.5,
            y,
            sheet.marking,
            ha="center",
            va=va,
            fontsize=11,
            fontweight="bold",
            color=MARKING_COLOUR,
        )
    fig.text(0.025, 0.945, title, ha="left", va="top", fontsize=15, fontweight="bold")
    fig.text(0.025, 0.905, subtitle, ha="left", va="top", fontsize=9.5, color="#333333")
    footer = (
        f"{t('snap_by', lang)}: {sheet.author} ({sheet.role})   ·   "
        f"{t('snap_as_of', lang)}: {sheet.as_of_text()}"
    )
    fig.text(0.025, 0.058, footer, ha="left", va="bottom", fontsize=7, color="#333333")
    sources = f"{t('snap_sources', lang)}: " + "; ".join(sheet.attributions)
    fig.text(0.025, 0.040, sources, ha="left", va="bottom", fontsize=6.5, color="#555555")
    fig.text(
        0.975,
        0.040,
        t("snap_page", lang, page=page, pages=pages),
        ha="right",
        va="bottom",
        fontsize=8,
    )


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """PNG (200 dpi) or PDF bytes of one page, reproducible for equal figures."""
    buf = io.BytesIO()
    with _SAVE_LOCK, matplotlib.rc_context(RC):
        if fmt == "png":
            fig.savefig(
                buf,
                format="png",
                dpi=PNG_DPI,
                metadata=PNG_METADATA,
                pil_kwargs={"compress_level": 3},
            )
        elif fmt == "pdf":
            fig.savefig(buf, format="pdf", dpi=PNG_DPI, metadata=PDF_METADATA)
        else:
            raise ValueError(f"format must be png or pdf; got {fmt!r}")
    return buf.getvalue()


def pages_pdf(figures: Iterable[Figure]) -> bytes:
    """One PDF of several pages (matplotlib PdfPages), reproducible for equal figures."""
    buf = io.BytesIO()
    with _SAVE_LOCK, matplotlib.rc_context(RC), PdfPages(buf, metadata=PDF_METADATA) as pdf:
        for fig in figures:
            pdf.savefig(fig, dpi=PNG_DPI)
    return buf.getvalue()


# --- geometry → matplotlib ------------------------------------------------------------------


def _to_utm() -> Transformer:
    return transformer(SRID, METRIC_SRID)


def lonlat_to_utm(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    x, y = _to_utm().transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def geojson_to_utm(geometry: dict[str, Any]) -> BaseGeometry:
    """A GeoJSON geometry (EPSG:4326) as a shapely geometry in EPSG:32649."""
    geom = shapely.geometry.shape(geometry)

    def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = lonlat_to_utm(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, project)


def polygon_path(geom: BaseGeometry) -> Path:
    """A (multi)polygon as one compound path, holes included (even-odd by ring direction)."""
    verts: list[npt.NDArray[np.float64]] = []
    codes: list[npt.NDArray[np.uint8]] = []
    for part in getattr(geom, "geoms", [geom]):
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        for ring in (part.exterior, *part.interiors):
            xy = np.asarray(ring.coords, dtype=np.float64)
            if len(xy) < 3:
                continue
            c = np.full(len(xy), Path.LINETO, dtype=np.uint8)
            c[0] = Path.MOVETO
            c[-1] = Path.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    if not verts:
        return Path(np.zeros((0, 2)))
    return Path(np.concatenate(verts), np.concatenate(codes))


def line_segments(geom: BaseGeometry) -> list[npt.NDArray[np.float64]]:
    """The linework of a geometry (lines, or polygon rings) as arrays of vertices."""
    out: list[npt.NDArray[np.float64]] = []
    for part in getattr(geom, "geoms", [geom]):
        if part.geom_type == "Polygon":
            out.extend(np.asarray(r.coords) for r in (part.exterior, *part.interiors))
        elif part.geom_type in ("LineString", "LinearRing"):
            out.append(np.asarray(part.coords))
        elif part.geom_type.startswith("Multi") or part.geom_type == "GeometryCollection":
            out.extend(line_segments(part))
    return out


def add_polygons(
    ax: Axes, geoms: Sequence[BaseGeometry], *, zorder: float, **style: Any
) -> PathCollection:
    """Polygons as one vector collection (one draw call, holes kept)."""
    collection = PathCollection([polygon_path(g) for g in geoms], zorder=zorder, **style)
    ax.add_collection(collection, autolim=False)
    return collection


def add_lines(
    ax: Axes, geoms: Sequence[BaseGeometry], *, zorder: float, **style: Any
) -> LineCollection:
    segments = [seg for g in geoms for seg in line_segments(g)]
    collection = LineCollection(segments, zorder=zorder, **style)
    ax.add_collection(collection, autolim=False)
    return collection


# --- the reference basemap --------------------------------------------------------------------


@dataclass(frozen=True)
class NamedGeometry:
    name: str
    geom: BaseGeometry
    code: str = ""


@dataclass(frozen=True)
class Basemap:
    """The reference layers in EPSG:32649, ready to draw."""

    land_idn: list[BaseGeometry]
    land_other: list[BaseGeometry]
    kabupaten: list[BaseGeometry]
    kecamatan: list[NamedGeometry]
    border: list[BaseGeometry]
    coastline: list[BaseGeometry]
    bands: list[NamedGeometry]
    crossing_posts: list[NamedGeometry]
    towns: list[NamedGeometry]
    bounds: tuple[float, float, float, float]  # of the regency (or fallback), metres

    def kecamatan_names(self) -> dict[str, str]:
        return {k.code: k.name for k in self.kecamatan}

    def extent_of(self, codes: Sequence[str] = ()) -> tuple[float, float, float, float]:
        """The regency's bounds, or those of the chosen kecamatan."""
        chosen = [k.geom for k in self.kecamatan if k.code in set(codes)]
        if not chosen:
            return self.bounds
        minx, miny, maxx, maxy = shapely.union_all(chosen).bounds
        return (float(minx), float(miny), float(maxx), float(maxy))


def _named(features: list[dict[str, Any]]) -> list[NamedGeometry]:
    return [
        NamedGeometry(
            name=str(f["properties"].get("name") or ""),
            code=str(f["properties"].get("code") or ""),
            geom=geojson_to_utm(f["geometry"]),
        )
        for f in features
        if f.get("geometry")
    ]


def load_basemap(*, session: Session) -> Basemap:
    """Land, regency and kecamatan, border, coastline, border bands, crossing posts, towns."""
    layers = mapdata.reference_layers(session=session)
    land = _named(layers["land"]["features"])
    kabupaten = [g.geom for g in _named(layers["kabupaten"]["features"])]
    bands = _named(mapdata.zones(session=session, kinds=("border_band",))["features"])
    if kabupaten:
        minx, miny, maxx, maxy = shapely.union_all(kabupaten).bounds
    else:
        x, y = lonlat_to_utm(
            [mapdata.SAMBAS_EXTENT[0], mapdata.SAMBAS_EXTENT[2]],
            [mapdata.SAMBAS_EXTENT[1], mapdata.SAMBAS_EXTENT[3]],
        )
        minx, miny, maxx, maxy = float(x[0]), float(y[0]), float(x[1]), float(y[1])
    return Basemap(
        land_idn=[g.geom for g in land if g.name != "MYS"],
        land_other=[g.geom for g in land if g.name == "MYS"],
        kabupaten=kabupaten,
        kecamatan=_named(layers["kecamatan"]["features"]),
        border=[g.geom for g in _named(layers["border"]["features"])],
        coastline=[g.geom for g in _named(layers["coastline"]["features"])],
        bands=sorted(bands, key=lambda b: b.name),
        crossing_posts=_named(layers["crossing_post"]["features"]),
        towns=_named(layers["town"]["features"]),
        bounds=(float(minx), float(miny), float(maxx), float(maxy)),
    )


def map_axes(fig: Figure, rect: Sequence[float] = MAP_RECT) -> Axes:
    ax = fig.add_axes(tuple(rect))  # type: ignore[arg-type]
    ax.set_facecolor(STYLE["sea"])
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
        spine.set_color("#333333")
    return ax


def set_extent(
    ax: Axes, bounds: tuple[float, float, float, float], *, margin: float = 0.04
) -> None:
    """Show the bounds whole, widened on one axis to the axes' shape: equal metres on both
    axes (true scale), nothing cut off."""
    minx, miny, maxx, maxy = bounds
    pad = margin * max(maxx - minx, maxy - miny)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()  # type: ignore[union-attr]
    shape = (box.width * fig_w) / (box.height * fig_h)
    width, height = maxx - minx, maxy - miny
    if width / height < shape:
        grow = (height * shape - width) / 2
        minx, maxx = minx - grow, maxx + grow
    else:
        grow = (width / shape - height) / 2
        miny, maxy = miny - grow, maxy + grow
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal", adjustable="box")


def draw_base_under(ax: Axes, basemap: Basemap, *, kecamatan_fill: bool = True) -> None:
    """Land and regency fills and the border band fills, below any data layer."""
    add_polygons(ax, basemap.land_other, zorder=1, facecolor=STYLE["land_other"], edgecolor="none")
    add_polygons(ax, basemap.land_idn, zorder=1, facecolor=STYLE["land_idn"], edgecolor="none")
    if kecamatan_fill:
        add_polygons(ax, basemap.kabupaten, zorder=2, facecolor=STYLE["regency"], edgecolor="none")
    if basemap.bands:
        add_polygons(
            ax,
            [b.geom for b in basemap.bands],
            zorder=3,
            facecolor=STYLE["band"],
            alpha=0.07,
            edgecolor="none",
        )


def draw_base_over(ax: Axes, basemap: Basemap) -> None:
    """Linework above the data: kecamatan and regency outlines, border bands, border, coast."""
    add_lines(
        ax,
        [k.geom for k in basemap.kecamatan],
        zorder=20,
        colors=STYLE["kecamatan_edge"],
        linewidths=0.4,
    )
    add_lines(ax, basemap.kabupaten, zorder=21, colors=STYLE["regency_edge"], linewidths=0.9)
    add_lines(ax, basemap.coastline, zorder=21, colors="#6a8fb0", linewidths=0.4)
    if basemap.bands:
        add_lines(
            ax,
            [b.geom for b in basemap.bands],
            zorder=22,
            colors=STYLE["band"],
            linewidths=0.6,
            linestyles=(0, (4, 2)),
        )
    add_lines(ax, basemap.border, zorder=23, colors=STYLE["border"], linewidths=1.6)


@dataclass
class Labeller:
    """Place labels by priority; a label that would overlap one already placed tries other
    positions around its anchor and is left out when none is free."""

    ax: Axes
    placed: list[Any] = field(default_factory=list)

    def _fits(self, text: Text) -> bool:
        renderer = self.ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        box = text.get_window_extent(renderer=renderer).expanded(1.04, 1.1)
        axes_box = self.ax.get_window_extent(renderer=renderer)
        inside = (
            box.x0 >= axes_box.x0
            and box.x1 <= axes_box.x1
            and box.y0 >= axes_box.y0
            and box.y1 <= axes_box.y1
        )
        if not inside or any(box.overlaps(other) for other in self.placed):
            return False
        self.placed.append(box)
        return True

    def reserve(self, artist: Any) -> None:
        """Keep labels off an artist already drawn (scale bar, north arrow)."""
        renderer = self.ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        self.placed.append(artist.get_window_extent(renderer=renderer))

    def reserve_point(self, x: float, y: float, size_pt: float = 6.0) -> None:
        """Keep labels off a point symbol of ``size_pt`` points at data (x, y)."""
        cx, cy = self.ax.transData.transform((x, y))
        half = size_pt / 2 * self.ax.figure.dpi / 72
        self.placed.append(Bbox([[cx - half, cy - half], [cx + half, cy + half]]))

    def add(
        self,
        x: float,
        y: float,
        label: str,
        *,
        offsets: Sequence[tuple[float, float, str, str]] = ((0, 0, "center", "center"),),
        **style: Any,
    ) -> Text | None:
        for dx, dy, ha, va in offsets:
            text = self.ax.annotate(
                label,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                annotation_clip=True,
                **style,
            )
            if self._fits(text):
                return text
            text.remove()
        return None


POINT_OFFSETS: Final = (
    (4, 2, "left", "bottom"),
    (-4, 2, "right", "bottom"),
    (4, -2, "left", "top"),
    (-4, -2, "right", "top"),
    (0, 5, "center", "bottom"),
    (0, -5, "center", "top"),
)


def draw_places(
    ax: Axes,
    basemap: Basemap,
    labeller: Labeller,
    *,
    kecamatan_label: Callable[[NamedGeometry], str | None] | None = None,
) -> None:
    """Crossing posts, towns and kecamatan names, in that priority.

    Plain kecamatan names sit under the data layer (zorder 9 < 10): context must not hide a
    cell. Names carrying the layer's own figures (``kecamatan_label``) go on top."""
    for post in basemap.crossing_posts:
        p = post.geom.representative_point()
        ax.scatter(
            [p.x], [p.y], marker="s", s=22, color=STYLE["post"], edgecolors="white", zorder=30
        )
        labeller.reserve_point(p.x, p.y, 6)
        labeller.add(
            p.x,
            p.y,
            post.name,
            offsets=POINT_OFFSETS,
            fontsize=7,
            fontweight="bold",
            color=STYLE["post"],
            zorder=31,
        )
    for town in basemap.towns:
        p = town.geom.representative_point()
        ax.scatter(
            [p.x], [p.y], marker="o", s=9, color=STYLE["town"], edgecolors="white", zorder=30
        )
        labeller.reserve_point(p.x, p.y, 4)
        labeller.add(
            p.x, p.y, town.name, offsets=POINT_OFFSETS, fontsize=6.5, color=STYLE["town"], zorder=31
        )
    for kec in basemap.kecamatan:
        text = kecamatan_label(kec) if kecamatan_label else kec.name
        if not text:
            continue
        p = kec.geom.representative_point()
        labeller.add(
            p.x,
            p.y,
            text,
            offsets=(
                (0, 0, "center", "center"),
                (0, 6, "center", "bottom"),
                (0, -6, "center", "top"),
            ),
            fontsize=5.8,
            color=STYLE["label"],
            style="italic",
            zorder=29 if kecamatan_label else 9,
            bbox=(
                {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.55}
                if kecamatan_label
                else None
            ),
        )


def basemap_handles(basemap: Basemap, lang: Lang) -> list[tuple[Any, str]]:
    handles: list[tuple[Any, str]] = [
        (Line2D([], [], color=STYLE["border"], lw=1.6), t("border", lang)),
        (Line2D([], [], color=STYLE["regency_edge"], lw=0.9), t("kabupaten", lang)),
        (Line2D([], [], color=STYLE["kecamatan_edge"], lw=0.4), t("snap_kecamatan_line", lang)),
    ]
    if basemap.bands:
        handles.append(
            (
                Patch(facecolor=(0.88, 0.51, 0.08, 0.07), edgecolor=STYLE["band"], ls="--", lw=0.6),
                t("snap_border_band", lang),
            )
        )
    handles += [
        (
            Line2D([], [], marker="s", ls="", color=STYLE["post"], mec="white", ms=5),
            t("crossing_post", lang),
        ),
        (
            Line2D([], [], marker="o", ls="", color=STYLE["town"], mec="white", ms=3.5),
            t("town", lang),
        ),
        (Patch(facecolor=STYLE["land_other"], edgecolor="none"), t("snap_malaysia", lang)),
    ]
    return handles


# --- scale bar and north arrow --------------------------------------------------------------

NICE_KM: Final = (1, 2, 5, 10, 20, 25, 50, 100)


def scale_length_km(map_width_m: float, share: float = 0.25) -> float:
    """A round length near ``share`` of the map width."""
    target = map_width_m * share / 1000.0
    return float(max([k for k in NICE_KM if k <= target] or [NICE_KM[0]]))


def scale_bar(ax: Axes, lang: Lang) -> list[Any]:
    """Alternating black and white bar in true metres (the axes are EPSG:32649)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    length_km = scale_length_km(width)
    length_m = length_km * 1000.0
    left, bottom = x0 + 0.04 * width, y0 + 0.045 * height
    bar_h = 0.011 * height
    artists: list[Any] = []
    backing = Rectangle(
        (left - 0.02 * width, bottom - 0.03 * height),
        length_m + 0.07 * width,
        bar_h + 0.065 * height,
        facecolor="white",
        edgecolor="#999999",
        lw=0.4,
        alpha=0.85,
        zorder=40,
    )
    ax.add_patch(backing)
    artists.append(backing)
    segments = 4
    for i in range(segments):
        ax.add_patch(
            Rectangle(
                (left + i * length_m / segments, bottom),
                length_m / segments,
                bar_h,
                facecolor="black" if i % 2 == 0 else "white",
                edgecolor="black",
                lw=0.5,
                zorder=41,
            )
        )
    for value in (0.0, length_km / 2, length_km):
        ax.text(
            left + value * 1000.0,
            bottom + bar_h + 0.006 * height,
            f"{value:g}".replace(".", ",") if lang == "id" else f"{value:g}",
            ha="center",
            va="bottom",
            fontsize=6.5,
            zorder=42,
        )
    ax.text(
        left + length_m + 0.012 * width,
        bottom,
        "km",
        ha="left",
        va="bottom",
        fontsize=6.5,
        zorder=42,
    )
    ax.text(
        left,
        bottom - 0.006 * height,
        t("snap_projection_short", lang),
        ha="left",
        va="top",
        fontsize=5.5,
        color="#444444",
        zorder=42,
    )
    return artists


def north_arrow(ax: Axes, lang: Lang) -> list[Any]:
    """A north arrow in the upper left; grid north of UTM 49N (convergence here < 0.1°)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    cx, top = x0 + 0.06 * width, y1 - 0.05 * height
    h, w = 0.07 * height, 0.025 * width
    backing = Rectangle(
        (cx - 1.4 * w, top - h - 0.015 * height),
        2.8 * w,
        h + 0.06 * height,
        facecolor="white",
        edgecolor="#999999",
        lw=0.4,
        alpha=0.85,
        zorder=40,
    )
    ax.add_patch(backing)
    left = np.array([[cx, top], [cx - w, top - h], [cx, top - 0.72 * h]])
    right = np.array([[cx, top], [cx + w, top - h], [cx, top - 0.72 * h]])
    ax.fill(left[:, 0], left[:, 1], color="black", zorder=41, lw=0.6)
    ax.fill(right[:, 0], right[:, 1], facecolor="white", edgecolor="black", zorder=41, lw=0.6)
    ax.text(
        cx,
        top + 0.008 * height,
        t("snap_north", lang),
        ha="center",
        va="bottom",
        fontsize=9,
        fontweight="bold",
        zorder=42,
    )
    return [backing]


def no_data(ax: Axes, lang: Lang) -> None:
    """A clear "Tidak ada data" across the middle of the map."""
    ax.text(
        0.5,
        0.5,
        t("no_data", lang),
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=22,
        fontweight="bold",
        color="#555555",
        zorder=50,
        bbox={"boxstyle": "round,pad=0.5", "fc": "white", "ec": "#888888", "alpha": 0.9},
    )


def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width=width)) if text else text
