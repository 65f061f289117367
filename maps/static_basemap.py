"""The reference basemap of the printed maps: land, regency and kecamatan, border, coast, border
bands, crossing posts, towns and their names.

Nothing here loads a tile: the basemap comes from our own reference layers in the database,
projected to EPSG:32649 (``maps.utm_geometry``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from geo import mapdata
from maps.label_placement import POINT_OFFSETS, Labeller
from maps.labels import Lang, t
from maps.sheet import MAP_RECT
from maps.utm_geometry import add_lines, add_polygons, geojson_to_utm, lonlat_to_utm

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
