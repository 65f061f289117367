"""The reference geography behind every map: basemap layers, zones, the regency's extent and
its kecamatan, simplified in metres for display."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.geometry import latlon
from geo.mapdata.aggregates import BASEMAP_TOLERANCE_M

REFERENCE_SQL: Final = """
SELECT r.kind, r.name,
       ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(r.geom_utm, :tol), 4326), 5)
           AS geojson
  FROM reference_feature r
 WHERE r.kind = ANY(:kinds) AND r.geom_utm IS NOT NULL
 ORDER BY r.kind, r.id
"""

ZONES_SQL: Final = """
SELECT z.id, z.name, z.kind,
       ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(z.geom_utm, :tol), 4326), 5)
           AS geojson
  FROM zone z
 WHERE z.active AND z.kind = ANY(:kinds)
 ORDER BY z.kind, z.id
"""

ADMIN_SQL: Final = """
SELECT a.level, a.code, a.name,
       ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(a.geom_utm, :tol), 4326), 5)
           AS geojson
  FROM admin_area a
 WHERE a.level = 'kabupaten'
    OR (a.level = 'kecamatan'
        AND a.parent_code IN (SELECT code FROM admin_area WHERE level = 'kabupaten'))
 ORDER BY a.level, a.code
"""

BASEMAP_KINDS: Final = ("land", "coastline", "border", "crossing_post", "town")


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


# The reference geography changes only when boundaries are (re)loaded: its simplified GeoJSON is
# kept per process and rebuilt when this fingerprint (row counts, newest row version) changes.
FINGERPRINT_SQL: Final = """
SELECT (SELECT count(*) FROM admin_area) AS a_n,
       (SELECT coalesce(max(xmin::text::bigint), 0) FROM admin_area) AS a_x,
       (SELECT count(*) FROM reference_feature) AS r_n,
       (SELECT coalesce(max(xmin::text::bigint), 0) FROM reference_feature) AS r_x
"""

_REFERENCE_CACHE: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}


def reference_layers(
    *, session: Session, tolerance_m: float = BASEMAP_TOLERANCE_M
) -> dict[str, dict[str, Any]]:
    """The basemap as FeatureCollections (see :func:`load_reference_layers`), cached per
    process until the reference tables change. Callers must not mutate the result."""
    row = session.execute(text(FINGERPRINT_SQL)).one()
    key = (str(session.connection().engine.url), tolerance_m, *tuple(row))
    cached = _REFERENCE_CACHE.get(key)
    if cached is None:
        cached = load_reference_layers(session=session, tolerance_m=tolerance_m)
        _REFERENCE_CACHE.clear()  # one geography per process; keep memory flat
        _REFERENCE_CACHE[key] = cached
    return cached


def load_reference_layers(
    *, session: Session, tolerance_m: float = BASEMAP_TOLERANCE_M
) -> dict[str, dict[str, Any]]:
    """The basemap as FeatureCollections: land, coastline, border, crossing_post, town,
    kabupaten and kecamatan outlines, simplified in metres for display."""
    layers: dict[str, list[dict[str, Any]]] = {kind: [] for kind in BASEMAP_KINDS}
    rows = session.execute(
        text(REFERENCE_SQL), {"tol": tolerance_m, "kinds": list(BASEMAP_KINDS)}
    ).all()
    for r in rows:
        layers[r.kind].append(
            {
                "type": "Feature",
                "properties": {"name": r.name, "kind": r.kind},
                "geometry": orjson.loads(r.geojson),
            }
        )
    layers["kabupaten"] = []
    layers["kecamatan"] = []
    for r in session.execute(text(ADMIN_SQL), {"tol": tolerance_m}).all():
        layers[r.level].append(
            {
                "type": "Feature",
                "properties": {"name": r.name, "code": r.code},
                "geometry": orjson.loads(r.geojson),
            }
        )
    return {kind: _collection(features) for kind, features in layers.items()}


def zones(
    *,
    session: Session,
    kinds: Sequence[str] = ("border_band", "watch", "restricted", "plb_area"),
    tolerance_m: float = BASEMAP_TOLERANCE_M,
) -> dict[str, Any]:
    rows = session.execute(text(ZONES_SQL), {"tol": tolerance_m, "kinds": list(kinds)}).all()
    return _collection(
        [
            {
                "type": "Feature",
                "properties": {"id": r.id, "name": r.name, "kind": r.kind},
                "geometry": orjson.loads(r.geojson),
            }
            for r in rows
        ]
    )


EXTENT_SQL: Final = """
SELECT ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax
  FROM (SELECT ST_Extent(geom)::geometry AS e FROM admin_area WHERE level = 'kabupaten') s
"""

# Kabupaten Sambas when no boundary is loaded yet (lon/lat).
SAMBAS_EXTENT: Final = (108.85, 0.85, 109.95, 2.10)


def regency_bounds(*, session: Session) -> list[list[float]]:
    """[[south, west], [north, east]] of the regency (folium's bounds order)."""
    row = session.execute(text(EXTENT_SQL)).one()
    if row.xmin is None:
        xmin, ymin, xmax, ymax = SAMBAS_EXTENT
    else:
        xmin, ymin, xmax, ymax = row.xmin, row.ymin, row.xmax, row.ymax
    return [latlon(xmin, ymin), latlon(xmax, ymax)]


KECAMATAN_LIST_SQL: Final = """
SELECT a.code, a.name FROM admin_area a
 WHERE a.level = 'kecamatan'
   AND a.parent_code IN (SELECT code FROM admin_area WHERE level = 'kabupaten')
 ORDER BY a.name
"""


def kecamatan_list(*, session: Session) -> list[dict[str, str]]:
    """Code and name of the regency's kecamatan (for filter menus)."""
    return [
        {"code": r.code, "name": r.name} for r in session.execute(text(KECAMATAN_LIST_SQL)).all()
    ]


# Where a map writes an area's name: the centre of its largest inscribed circle (inside the
# polygon and far from its edges, unlike a centroid), measured in EPSG:32649.
AREA_LABELS_SQL: Final = """
SELECT a.level, a.code, a.name,
       ST_X(p) AS lon, ST_Y(p) AS lat, ST_Area(a.geom_utm) / 1e6 AS area_km2
  FROM admin_area a
 CROSS JOIN LATERAL ST_Transform(
        (ST_MaximumInscribedCircle(ST_SimplifyPreserveTopology(a.geom_utm, 50))).center,
        4326) AS p
 WHERE a.geom_utm IS NOT NULL
   AND ((a.level = 'kecamatan'
         AND a.parent_code IN (SELECT code FROM admin_area WHERE level = 'kabupaten'))
     OR (a.level = 'desa'
         AND a.parent_code IN (SELECT k.code FROM admin_area k
                                WHERE k.level = 'kecamatan'
                                  AND k.parent_code IN (SELECT code FROM admin_area
                                                         WHERE level = 'kabupaten'))))
 ORDER BY a.level, a.code
"""

_LABEL_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


def area_label_points(*, session: Session) -> list[dict[str, Any]]:
    """Label points of the regency's kecamatan and desa: ``level``, ``code``, ``name``,
    ``lon``, ``lat``, ``area_km2``; cached per process like :func:`reference_layers`."""
    row = session.execute(text(FINGERPRINT_SQL)).one()
    key = (str(session.connection().engine.url), *tuple(row))
    cached = _LABEL_CACHE.get(key)
    if cached is None:
        cached = [
            {
                "level": r.level,
                "code": r.code,
                "name": r.name,
                "lon": float(r.lon),
                "lat": float(r.lat),
                "area_km2": float(r.area_km2),
            }
            for r in session.execute(text(AREA_LABELS_SQL)).all()
        ]
        _LABEL_CACHE.clear()
        _LABEL_CACHE[key] = cached
    return cached


KECAMATAN_EXTENT_SQL: Final = """
SELECT array_agg(a.name ORDER BY a.name) AS names,
       ST_XMin(ST_Extent(a.geom)) AS xmin, ST_YMin(ST_Extent(a.geom)) AS ymin,
       ST_XMax(ST_Extent(a.geom)) AS xmax, ST_YMax(ST_Extent(a.geom)) AS ymax
  FROM admin_area a
 WHERE a.level = 'kecamatan' AND a.code = ANY(:codes)
"""


def kecamatan_extent(
    *, session: Session, codes: Sequence[str]
) -> tuple[list[str], list[list[float]] | None]:
    """Names of the kecamatan ``codes`` (alphabetical) and their joint bounds as
    [[south, west], [north, east]]; unknown codes add nothing (None when none is known)."""
    if not codes:
        return [], None
    row = session.execute(text(KECAMATAN_EXTENT_SQL), {"codes": list(codes)}).one()
    if row.xmin is None:
        return [], None
    return [str(n) for n in row.names], [latlon(row.xmin, row.ymin), latlon(row.xmax, row.ymax)]
