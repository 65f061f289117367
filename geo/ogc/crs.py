"""Coordinate reference systems of the OGC API (Features Part 2): ``crs``, ``bbox-crs`` and
``filter-crs``.

Geometries are stored in EPSG:4326 with (lon, lat) coordinates: that is CRS84, the default.
A client may ask for EPSG:4326 proper, whose axis order is (lat, lon), or for EPSG:32649 (WGS 84 /
UTM zone 49N, metres), the CRS the analysts measure in (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pyproj import Transformer

from geo.errors import QueryError
from geo.models import METRIC_SRID, SRID
from geo.registry.cql import Expression
from geo.registry.filters import parse_bbox


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    lat_first: bool  # EPSG:4326's own axis order
    decimals: int  # GeoJSON output: ~1 cm either way

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header's value."""
        return f"<{self.uri}>"


CRS84: Final = Crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", SRID, False, 7)
EPSG_4326: Final = Crs("http://www.opengis.net/def/crs/EPSG/0/4326", SRID, True, 7)
EPSG_32649: Final = Crs(
    f"http://www.opengis.net/def/crs/EPSG/0/{METRIC_SRID}", METRIC_SRID, False, 2
)
SUPPORTED: Final = (CRS84, EPSG_4326, EPSG_32649)
STORAGE: Final = CRS84
# Short names clients also send (a CURIE in brackets, EPSG:NNNN, OGC:CRS84).
ALIASES: Final[dict[str, Crs]] = {
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "epsg:4326": EPSG_4326,
    f"epsg:{METRIC_SRID}": EPSG_32649,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "http://www.opengis.net/def/crs/epsg/0/4326": EPSG_4326,
    f"http://www.opengis.net/def/crs/epsg/0/{METRIC_SRID}": EPSG_32649,
}


def parse_crs(value: str | None, *, field: str = "crs") -> Crs:
    """One of the supported CRSs by URI or short name; CRS84 when not given."""
    if value is None or value.strip() == "":
        return CRS84
    key = value.strip().strip("[]<>").lower()
    found = ALIASES.get(key)
    if found is None:
        raise QueryError(
            f"{field} must be one of {', '.join(c.uri for c in SUPPORTED)}; got {value[:100]!r}",
            field=field,
            value=value[:100],
        )
    return found


def geometry_sql(crs: Crs, *, geom: str = "t.geom", metric_geom: str | None = None) -> str:
    """``ST_AsGeoJSON`` of ``geom`` (stored, lon/lat) in ``crs``; ``metric_geom``: the stored
    EPSG:32649 twin of it (``geom_utm``), read instead of transforming each row."""
    if crs.srid == METRIC_SRID:
        geom = metric_geom or f"ST_Transform({geom}, {METRIC_SRID})"
    elif crs.lat_first:
        geom = f"ST_FlipCoordinates({geom})"
    return f"ST_AsGeoJSON({geom}, {crs.decimals})"


def bbox_filter(
    value: str | None, crs: Crs, *, metric_sql: str | None = None
) -> tuple[tuple[float, float, float, float] | None, Expression | None]:
    """``bbox`` given in ``bbox-crs``: the (lon, lat) box the list filters take, and, for a box
    in metres, the exact test in EPSG:32649 (the (lon, lat) box encloses the projected one).
    """
    if value is None or value == "":
        return None, None
    if crs.srid == SRID:
        raw = value.split(",")
        if crs.lat_first and len(raw) == 4:
            raw = [raw[1], raw[0], raw[3], raw[2]]  # minlat,minlon,maxlat,maxlon
        return parse_bbox(",".join(raw)), None
    parts = value.split(",")
    try:
        x0, y0, x1, y1 = (float(v) for v in parts)
    except ValueError:
        raise QueryError(
            f"bbox must be 4 numbers (minx,miny,maxx,maxy in {crs.uri}); got {value[:100]!r}",
            field="bbox",
            value=value[:100],
        ) from None
    if not (x0 < x1 and y0 < y1) or max(abs(x0), abs(x1), abs(y0), abs(y1)) > 2e7:
        raise QueryError(
            f"bbox in {crs.uri} must be minx,miny,maxx,maxy in metres, min before max; "
            f"got {value[:100]!r}",
            field="bbox",
            value=value[:100],
        )
    to_lonlat = Transformer.from_crs(crs.srid, SRID, always_xy=True)
    lon0, lat0, lon1, lat1 = to_lonlat.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    box = parse_bbox([lon0, lat0, lon1, lat1])
    geom = metric_sql or f"ST_Transform(t.geom, {METRIC_SRID})"
    exact = Expression(
        f"ST_Intersects({geom}, ST_MakeEnvelope(:bbox_x0, :bbox_y0, :bbox_x1, :bbox_y1, "
        f"{METRIC_SRID}))",
        {"bbox_x0": x0, "bbox_y0": y0, "bbox_x1": x1, "bbox_y1": y1},
    )
    return box, exact
