"""Mapbox vector tiles from PostGIS (``ST_AsMVT``) for admin areas, zones, incidents, sightings.

Point layers are raw points only from ``POINT_MIN_ZOOM`` on; below it they are counts on a grid
(``GRID_CELLS`` cells across a tile), so a tile's size is bounded by the grid, not by the number
of rows. Sightings are persons: roles without personal data always get the grid, with counts
below 3 hidden (DESIGN §8). The tile envelope is transformed to EPSG:4326 once so the GiST index
on ``geom`` selects the rows; grouping happens in 4326 and only the cells are transformed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access import MIN_PERSON_COUNT, sees_personal_data
from geo.errors import NotFoundError, ValidationError

LAYERS: Final = ("admin-areas", "zones", "incidents", "sightings")
MAX_ZOOM: Final = 22
POINT_MIN_ZOOM: Final = 12
DESA_MIN_ZOOM: Final = 10
GRID_CELLS: Final = 64
EXTENT: Final = 4096
WEB_MERCATOR_HALF: Final = 20037508.342789244

ENV = "ST_TileEnvelope(:z, :x, :y)"

POLYGON_SQL = {
    "admin-areas": f"""
        WITH env AS (SELECT {ENV} AS e)
        SELECT ST_AsMVT(q, 'admin-areas', {EXTENT}, 'geom') FROM (
            SELECT t.code, t.name, t.level,
                   ST_AsMVTGeom(ST_Simplify(ST_Transform(t.geom, 3857), :tol), env.e,
                                {EXTENT}, 64, true) AS geom
            FROM admin_area t, env
            WHERE t.geom && ST_Transform(env.e, 4326)
              AND (t.level <> 'desa' OR :z >= {DESA_MIN_ZOOM})
        ) q WHERE q.geom IS NOT NULL
    """,
    "zones": f"""
        WITH env AS (SELECT {ENV} AS e)
        SELECT ST_AsMVT(q, 'zones', {EXTENT}, 'geom') FROM (
            SELECT t.id, t.name, t.kind, t.active,
                   ST_AsMVTGeom(ST_Simplify(ST_Transform(t.geom, 3857), :tol), env.e,
                                {EXTENT}, 64, true) AS geom
            FROM zone t, env
            WHERE t.geom && ST_Transform(env.e, 4326)
        ) q WHERE q.geom IS NOT NULL
    """,
}

POINT_SQL = {
    "incidents": ("incident", "occurred_at", "t.id, t.kind, t.severity, t.status"),
    "sightings": ("sighting", "observed_at", "t.id, t.source, t.foreigner_id"),
}

RAW_SQL = """
    WITH env AS (SELECT {env} AS e)
    SELECT ST_AsMVT(q, '{name}', {extent}, 'geom') FROM (
        SELECT {columns},
               ST_AsMVTGeom(ST_Transform(t.geom, 3857), env.e, {extent}, 16, true) AS geom
        FROM {table} t, env
        WHERE t.geom && ST_Transform(env.e, 4326) {time}
    ) q WHERE q.geom IS NOT NULL
"""

GRID_SQL = """
    WITH env AS (SELECT {env} AS e),
    cells AS (
        SELECT ST_SnapToGrid(t.geom, :cell_deg) AS cell, count(*)::int AS n
        FROM {table} t, env
        WHERE t.geom && ST_Transform(env.e, 4326) {time}
        GROUP BY 1
    )
    SELECT ST_AsMVT(q, '{name}', {extent}, 'geom') FROM (
        SELECT CASE WHEN :suppress AND n < :min_count THEN NULL ELSE n END AS count,
               CASE WHEN :suppress AND n < :min_count THEN :hidden ELSE n::text END AS count_label,
               ST_AsMVTGeom(ST_Transform(cell, 3857), env.e, {extent}, 16, true) AS geom
        FROM cells, env
    ) q WHERE q.geom IS NOT NULL
"""


@dataclass(frozen=True)
class TileRequest:
    layer: str
    z: int
    x: int
    y: int
    start: dt.datetime | None = None
    end: dt.datetime | None = None


def check_tile(*, layer: str, z: int, x: int, y: int) -> None:
    if layer not in LAYERS:
        raise NotFoundError(f"no tile layer {layer!r}; layers are {', '.join(LAYERS)}")
    if not 0 <= z <= MAX_ZOOM:
        raise ValidationError(f"z must be 0 to {MAX_ZOOM}; got {z}", field="z", value=z)
    n = 1 << z
    for name, v in (("x", x), ("y", y)):
        if not 0 <= v < n:
            raise ValidationError(
                f"{name} must be 0 to {n - 1} at zoom {z}; got {v}", field=name, value=v
            )


def tile_width_m(z: int) -> float:
    return 2 * WEB_MERCATOR_HALF / (1 << z)


def aggregated(layer: str, z: int, role: str) -> bool:
    """Whether ``layer`` is served as grid counts at zoom ``z`` to ``role``."""
    if layer == "sightings" and not sees_personal_data(role):
        return True
    return z < POINT_MIN_ZOOM


def render(*, session: Session, request: TileRequest, role: str) -> bytes:
    """The tile as MVT bytes (empty when nothing is in it)."""
    check_tile(layer=request.layer, z=request.z, x=request.x, y=request.y)
    params: dict[str, object] = {"z": request.z, "x": request.x, "y": request.y}
    if request.layer in POLYGON_SQL:
        params["tol"] = tile_width_m(request.z) / EXTENT  # one tile pixel
        raw = session.execute(text(POLYGON_SQL[request.layer]), params).scalar()
        return bytes(raw or b"")
    table, time_col, columns = POINT_SQL[request.layer]
    time = ""
    if request.start is not None:
        time += f" AND t.{time_col} >= :start"
        params["start"] = request.start
    if request.end is not None:
        time += f" AND t.{time_col} < :end"
        params["end"] = request.end
    if aggregated(request.layer, request.z, role):
        # Cells of 1/GRID_CELLS of the tile, in degrees at the equator (Sambas is at ~1.5°N).
        params["cell_deg"] = tile_width_m(request.z) / GRID_CELLS / 111_319.49
        params["suppress"] = request.layer == "sightings" and not sees_personal_data(role)
        params["min_count"] = MIN_PERSON_COUNT
        params["hidden"] = f"<{MIN_PERSON_COUNT}"
        sql = GRID_SQL.format(env=ENV, table=table, time=time, name=request.layer, extent=EXTENT)
    else:
        sql = RAW_SQL.format(
            env=ENV, table=table, time=time, name=request.layer, extent=EXTENT, columns=columns
        )
    raw = session.execute(text(sql), params).scalar()
    return bytes(raw or b"")
