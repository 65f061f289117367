"""Geometries in EPSG:32649 (WGS 84 / UTM 49N) as matplotlib artists.

Printed maps are drawn in metres, so one metre on the ground is the same length everywhere on the
sheet and the scale bar is true (grid convergence at Sambas, ~0.05°, is far below what the eye
sees on a north arrow).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.path import Path
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from geo.geometry import transformer
from geo.models import METRIC_SRID, SRID


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
