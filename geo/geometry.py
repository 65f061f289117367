"""Validation and conversion of geometries at the boundary of the system (docs/architecture.md).

GeoJSON and shapely are (lon, lat); folium/Leaflet take [lat, lon]. ``latlon`` is the one
place that swaps them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import shapely
from pyproj import Transformer
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from geo.errors import GeometryError

_LOCAL = threading.local()


def transformer(source: int, target: int) -> Transformer:
    """An always-xy (lon, lat first) pyproj transformer from EPSG ``source`` to ``target``, one
    per thread and pair: pyproj's transformers are not to be shared between threads (the API
    serves requests from a thread pool; the importer locates chunks in threads)."""
    made: dict[tuple[int, int], Transformer] | None = getattr(_LOCAL, "transformers", None)
    if made is None:
        made = _LOCAL.transformers = {}
    tr = made.get((source, target))
    if tr is None:
        tr = made[(source, target)] = Transformer.from_crs(source, target, always_xy=True)
    return tr


def latlon(lon: float, lat: float) -> list[float]:
    """(lon, lat) as GeoJSON and shapely give it → [lat, lon] as folium and Leaflet take it."""
    return [lat, lon]


def validate_lonlat(lon: Any, lat: Any, *, field: str = "geometry") -> tuple[float, float]:
    """Finite numbers with lon in [-180, 180] and lat in [-90, 90]; else GeometryError."""
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise GeometryError(
            f"{field}: coordinates must be numbers, got ({lon!r}, {lat!r})",
            field=field,
            value=[lon, lat],
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise GeometryError(
            f"{field}: coordinates must be finite, got ({lon!r}, {lat!r})",
            field=field,
            value=[str(lon), str(lat)],
        )
    if not -180.0 <= x <= 180.0:
        raise GeometryError(
            f"{field}: longitude {x} is outside [-180, 180] (GeoJSON order is lon, lat)",
            field=field,
            value=[x, y],
        )
    if not -90.0 <= y <= 90.0:
        raise GeometryError(
            f"{field}: latitude {y} is outside [-90, 90] (GeoJSON order is lon, lat)",
            field=field,
            value=[x, y],
        )
    return x, y


# Every point and shape is also stored and measured in EPSG:32649 (UTM zone 49N, central
# meridian 111°E; docs/architecture.md). Far from that meridian the projection means nothing,
# and PostGIS cannot transform a point a quarter of the globe away at all (a database error, not
# an answer). Records, queries and imports are accepted within this box around the zone: all of
# Indonesia's west and centre, Malaysia and the South China Sea, and more.
MEASURABLE_LON: Final = (81.0, 141.0)
MEASURABLE_LAT: Final = (-60.0, 60.0)


def check_measurable(
    lon_min: float, lat_min: float, lon_max: float, lat_max: float, *, field: str
) -> None:
    """GeometryError unless the bounds lie in the box where distances are measured."""
    (w, e), (s, n) = MEASURABLE_LON, MEASURABLE_LAT
    if lon_min < w or lon_max > e or lat_min < s or lat_max > n:
        raise GeometryError(
            f"{field}: ({lon_min:g}, {lat_min:g}, {lon_max:g}, {lat_max:g}) is outside lon "
            f"[{w:g}, {e:g}] / lat [{s:g}, {n:g}], where this service measures distances "
            "(UTM zone 49N); GeoJSON order is lon, lat",
            field=field,
            value=[lon_min, lat_min, lon_max, lat_max],
        )


def point_from_geojson(geometry: Any, *, field: str = "geometry") -> Point:
    """A GeoJSON Point geometry (dict) → shapely Point, validated."""
    if not isinstance(geometry, Mapping):
        raise GeometryError(
            f"{field}: expected a GeoJSON Point object, got {type(geometry).__name__}",
            field=field,
            value=str(geometry)[:100],
        )
    if geometry.get("type") != "Point":
        raise GeometryError(
            f"{field}: expected geometry type Point, got {geometry.get('type')!r}",
            field=f"{field}.type",
            value=geometry.get("type"),
        )
    coords = geometry.get("coordinates")
    if not isinstance(coords, Sequence) or isinstance(coords, str) or len(coords) not in (2, 3):
        raise GeometryError(
            f"{field}: a Point needs [lon, lat], got {coords!r}",
            field=f"{field}.coordinates",
            value=str(coords)[:100],
        )
    lon, lat = validate_lonlat(coords[0], coords[1], field=f"{field}.coordinates")
    check_measurable(lon, lat, lon, lat, field=f"{field}.coordinates")
    return Point(lon, lat)


def validate_geometry(
    geometry: Any,
    *,
    allowed_types: Iterable[str],
    field: str = "geometry",
    repair: bool = True,
) -> tuple[BaseGeometry, str | None]:
    """A GeoJSON geometry or shapely geometry, checked; returns (geometry, repair note or None).

    Coordinates must be finite and in range; the type one of ``allowed_types``
    (a Polygon is promoted to MultiPolygon where only the latter is allowed). Invalid
    geometries are repaired with ``make_valid`` when ``repair`` is true, and the repair is said.
    """
    allowed = set(allowed_types)
    if isinstance(geometry, BaseGeometry):
        geom = geometry
    else:
        try:
            geom = shape(geometry)
        except (
            AttributeError,
            KeyError,
            TypeError,
            ValueError,
            IndexError,
            shapely.errors.ShapelyError,
        ) as exc:
            raise GeometryError(
                f"{field}: not a valid GeoJSON geometry ({exc})",
                field=field,
                value=str(geometry)[:100],
            ) from None
    if geom.is_empty:
        raise GeometryError(f"{field}: geometry is empty", field=field, value=geom.wkt[:100])
    coords = shapely.get_coordinates(geom)
    if not bool(shapely.is_valid_input(geom)) or not all(math.isfinite(v) for v in coords.ravel()):
        raise GeometryError(f"{field}: coordinates must be finite", field=field)
    xs, ys = coords[:, 0], coords[:, 1]
    if xs.min() < -180 or xs.max() > 180 or ys.min() < -90 or ys.max() > 90:
        raise GeometryError(
            f"{field}: coordinates outside lon [-180, 180] / lat [-90, 90] "
            f"(bounds {tuple(round(b, 6) for b in geom.bounds)}); GeoJSON order is lon, lat",
            field=field,
            value=list(geom.bounds),
        )
    check_measurable(*geom.bounds, field=field)
    note = None
    if not geom.is_valid:
        if not repair:
            raise GeometryError(
                f"{field}: invalid geometry ({shapely.is_valid_reason(geom)})",
                field=field,
                value=shapely.is_valid_reason(geom),
            )
        reason = shapely.is_valid_reason(geom)
        geom = shapely.make_valid(geom)
        if geom.geom_type == "GeometryCollection":
            polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
            geom = shapely.union_all(polys) if polys else geom
        note = f"repaired with make_valid ({reason})"
    if geom.geom_type == "Polygon" and "MultiPolygon" in allowed and "Polygon" not in allowed:
        geom = shapely.MultiPolygon([geom])
    if geom.geom_type not in allowed:
        raise GeometryError(
            f"{field}: expected {' or '.join(sorted(allowed))}, got {geom.geom_type}",
            field=field,
            value=geom.geom_type,
        )
    return geom, note
