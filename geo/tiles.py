"""Mapbox vector tiles from PostGIS (``ST_AsMVT``) for admin areas, zones, incidents, sightings.

Point layers are raw points only from ``POINT_MIN_ZOOM`` on; below it they are counts on a grid
(``GRID_CELLS`` = 64 cells across a tile, aligned with the Web Mercator pixel grid of zoom z+6),
so a tile's size is bounded by the grid, not by the number of rows. Sightings are persons: roles
without personal data always get the grid, with counts below 3 hidden, and never a cell narrower
on the ground than ``MIN_AGGREGATE_CELL_M`` (the grid's level 17, ~306 m, near the equator), however
far they zoom in (docs/api.md#vector-tiles-get-tileslayerzxymvt). Their tiles are therefore read
from the stored grid at every zoom; a tile smaller than one such cell shows the cell's count, drawn
at the cell's centre by the one tile holding that centre.

The counts come from ``sighting_grid`` / ``incident_grid`` (migration 0010): rows per cell of
levels 12-17 and UTC month, kept in step by statement triggers. A tile at zoom z < 12 sums the
grid rows of level z+6 (levels under 12 are sums of level 12) for the whole months inside
``start``/``end``; the rows of the partial months at either end are counted from the table
itself, so the counts are exact for any window. Raw points and the grid of zoom 12 and more read
the table with the tile envelope transformed to EPSG:4326 once, so the GiST index on ``geom``
selects the rows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access import MIN_PERSON_COUNT, sees_personal_data
from geo.errors import NotFoundError, ValidationError
from geo.geometry import transformer

LAYERS: Final = ("admin-areas", "zones", "incidents", "sightings")
MAX_ZOOM: Final = 22
POINT_MIN_ZOOM: Final = 12
DESA_MIN_ZOOM: Final = 10
GRID_CELLS: Final = 64
GRID_SHIFT: Final = 6  # 64 = 2**6 cells across a tile: zoom z reads grid level z + 6
GRID_FINEST: Final = 17  # levels stored in the *_grid tables (migration 0010)
GRID_COARSEST: Final = 12
# A raw point tile holding more rows than this is served as counts on the finest stored grid
# (32 x 32 cells at zoom 12, 16 x 16 at 13, ...): 5,000 points are ~50 kB and ~15 ms to encode,
# and more in one tile are a blob on screen where counts say more.
RAW_MAX_POINTS: Final = 5_000
EXTENT: Final = 4096
WEB_MERCATOR_HALF: Final = 20037508.342789244
# The narrowest cell, in metres on the ground, whose sighting count a role without personal data
# may see: 64 cells across a z22 tile are 15 cm, an exact point. The stored grid's finest level
# (17: 305.7 m of Web Mercator, 305.5 m on the ground at Sambas' 2 degrees north) is the floor.
MIN_AGGREGATE_CELL_M: Final = 300.0

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

# Raw points carry the reporting agency and the sharing level (what the map's popup shows).
_AGENCY = "(SELECT a.short_name FROM agency a WHERE a.id = t.agency_id) AS agency, t.sharing"
POINT_SQL = {
    "incidents": ("incident", "occurred_at", f"t.id, t.kind, t.severity, t.status, {_AGENCY}"),
    "sightings": ("sighting", "observed_at", f"t.id, t.source, t.foreigner_id, {_AGENCY}"),
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

# The level-L cell of a point in EPSG:3857 (x from the west edge, y from the south edge).
CELL_X = "floor((ST_X({p}) + {half}) / :cell_m)::int"
CELL_Y = "floor((ST_Y({p}) + {half}) / :cell_m)::int"

# Counts per cell: from the grid table for whole months, from the rows for partial ones; the
# cell range keeps every cell inside the tile. {parts} is a UNION ALL of (cx, cy, n). A cell is
# drawn at its centre, in tile coordinates (:cell_px units a cell, from the tile's west edge :ox
# and north edge :oy1 + 1 in cells, y down): what ST_AsMVTGeom would return for it, without a
# transform per cell. ``env`` is the tile, or the cell when the tile lies inside one cell.
GRID_SQL = """
    WITH env AS (SELECT ST_TileEnvelope(:ez, :ex, :ey) AS e),
    cells AS MATERIALIZED (
        SELECT u.cx, u.cy, sum(u.n)::int AS n
        FROM ({parts}) u
        WHERE u.cx BETWEEN :cx0 AND :cx1 AND u.cy BETWEEN :cy0 AND :cy1
        GROUP BY 1, 2
    )
    SELECT ST_AsMVT(q, '{name}', {extent}, 'geom') FROM (
        SELECT CASE WHEN :suppress AND n < :min_count THEN NULL ELSE n END AS count,
               CASE WHEN :suppress AND n < :min_count THEN :hidden ELSE n::text END AS count_label,
               ST_MakePoint((cx - :ox) * :cell_px + :cell_px / 2,
                            (:oy1 - cy) * :cell_px + :cell_px / 2) AS geom
        FROM cells
    ) q
"""

GRID_TABLE_PART = """
    SELECT g.cx >> :shift AS cx, g.cy >> :shift AS cy, g.n
    FROM {grid} g
    WHERE g.level = :level
      AND g.cx BETWEEN :cx0 * :scale AND (:cx1 + 1) * :scale - 1
      AND g.cy BETWEEN :cy0 * :scale AND (:cy1 + 1) * :scale - 1 {months}
"""

# Count cells hold whole-Timpora records only, like the stored grid (migration 0027): records
# shared with fewer agencies are left out of every count tile (docs/privacy.md).
ROWS_PART = """
    SELECT {cell_x} AS cx, {cell_y} AS cy, 1 AS n
    FROM (SELECT ST_Transform(t.geom, 3857) AS p
          FROM {table} t, env
          WHERE t.geom && ST_Transform(env.e, 4326) AND t.sharing = 'timpora' AND ({time})) r
"""


# Every grid row the table's rows call for (the triggers of migration 0010 keep the grid equal
# to it): level 12-17 cells and UTC months, plus the all-time ('-infinity') rows.
GRID_WANTED_SQL = """
    WITH cells AS (
        SELECT floor((ST_X(p) + {half}) / ({half} * 2 / 2 ^ {finest}))::int AS cx,
               floor((ST_Y(p) + {half}) / ({half} * 2 / 2 ^ {finest}))::int AS cy,
               date_trunc('month', at AT TIME ZONE 'UTC')::date AS month
        FROM (SELECT ST_Transform(geom, 3857) AS p, {time} AS at FROM {table}
              WHERE geom IS NOT NULL AND sharing = 'timpora') s
    )
    SELECT l.level, c.cx >> ({finest} - l.level) AS cx, c.cy >> ({finest} - l.level) AS cy,
           m.month, count(*)::int AS n
    FROM cells c CROSS JOIN generate_series({coarsest}, {finest}) AS l(level)
    CROSS JOIN LATERAL (VALUES (c.month), (date '-infinity')) AS m(month)
    GROUP BY 1, 2, 3, 4
"""


def _wanted_sql(layer: str) -> tuple[str, str]:
    if layer not in POINT_SQL:
        raise NotFoundError(f"no count grid for {layer!r}; grids are {', '.join(POINT_SQL)}")
    table, time_col, _ = POINT_SQL[layer]
    sql = GRID_WANTED_SQL.format(
        half=repr(WEB_MERCATOR_HALF),
        finest=GRID_FINEST,
        coarsest=GRID_COARSEST,
        time=time_col,
        table=table,
    )
    return table, sql


def grid_drift(*, session: Session, layer: str) -> int:
    """How many grid rows differ from what the table's rows call for (0 when in step)."""
    table, wanted = _wanted_sql(layer)
    have = f"SELECT level, cx, cy, month, n FROM {table}_grid"
    sql = (
        f"SELECT count(*) FROM ((({wanted}) EXCEPT ALL ({have})) "
        f"UNION ALL (({have}) EXCEPT ALL ({wanted}))) d"
    )
    return int(session.execute(text(sql)).scalar_one())


def rebuild_grid(*, session: Session, layer: str) -> int:
    """Recount the grid from the rows (after rows left without DELETE: dropped partitions)."""
    table, wanted = _wanted_sql(layer)
    session.execute(text(f"LOCK TABLE {table}_grid IN EXCLUSIVE MODE"))
    session.execute(text(f"DELETE FROM {table}_grid"))
    session.execute(text(f"INSERT INTO {table}_grid (level, cx, cy, month, n) {wanted}"))
    return int(session.execute(text(f"SELECT count(*) FROM {table}_grid")).scalar_one())


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


# The grid triggers' divisor (migration 0010): ``half * 2 / 2 ^ 17`` in SQL, the numeric product
# turned into a double and divided by the double 2^17.
_FINEST_CELL_M: Final = float("40075016.685578488") / float(2**GRID_FINEST)


def grid_cells(
    lon: np.ndarray, lat: np.ndarray, level: int = GRID_FINEST
) -> tuple[np.ndarray, np.ndarray]:
    """The count-grid cells (cx, cy) of ``level`` holding these points, as the grid triggers
    compute them: the level-17 cell of ``ST_Transform(geom, 3857)`` (pyproj runs the same PROJ
    pipeline; ``geo.io.gridload`` checks that against the server before relying on it),
    shifted to coarser levels."""
    x, y = transformer(4326, 3857).transform(np.asarray(lon, float), np.asarray(lat, float))
    half = float(WEB_MERCATOR_HALF)
    cx = np.floor((np.asarray(x) + half) / _FINEST_CELL_M).astype(np.int64)
    cy = np.floor((np.asarray(y) + half) / _FINEST_CELL_M).astype(np.int64)
    return cx >> (GRID_FINEST - level), cy >> (GRID_FINEST - level)


def tile_width_m(z: int) -> float:
    return 2 * WEB_MERCATOR_HALF / (1 << z)


def _tile_lat(z: int, y: int) -> float:
    """Latitude in degrees of the northern edge of tile row ``y``."""
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / (1 << z)))))


def grid_level(request: TileRequest, role: str) -> int:
    """The grid level of an aggregated tile: zoom + 6 (64 cells across), but for sightings seen
    by a role without personal data no finer than ``MIN_AGGREGATE_CELL_M`` on the ground, at the
    tile's edge farthest from the equator (where Web Mercator cells are narrowest)."""
    level = request.z + GRID_SHIFT
    if request.layer != "sightings" or sees_personal_data(role):
        return level
    poleward = max(abs(_tile_lat(request.z, request.y)), abs(_tile_lat(request.z, request.y + 1)))
    scale = math.cos(math.radians(poleward))
    while level > 0 and tile_width_m(level) * scale < MIN_AGGREGATE_CELL_M:
        level -= 1
    return level


@dataclass(frozen=True)
class GridPlacement:
    """Where a tile's cells are: the cell range it reads, their size in tile units, the tile's
    west and north edges in cells, the envelope its rows are read in, and whether it draws."""

    cx0: int
    cx1: int
    cy0: int
    cy1: int
    cell_px: float
    ox: float
    oy1: float
    envelope: tuple[int, int, int]  # (z, x, y) of ST_TileEnvelope
    draws: bool


def grid_placement(z: int, x: int, y: int, level: int) -> GridPlacement:
    """The cells of level ``level`` in tile (z, x, y); cells counted from the south edge."""
    y_from_south = (1 << z) - 1 - y
    if level >= z:
        cells = 1 << (level - z)  # across the tile
        cx0, cy0 = x * cells, y_from_south * cells
        return GridPlacement(
            cx0=cx0,
            cx1=cx0 + cells - 1,
            cy0=cy0,
            cy1=cy0 + cells - 1,
            cell_px=EXTENT / cells,
            ox=float(cx0),
            oy1=float(cy0 + cells - 1),
            envelope=(z, x, y),
            draws=True,
        )
    # The tile lies inside one cell (zoomed in past the floor of a role without personal data):
    # its count is drawn at the cell's centre, by the one tile that holds the centre.
    k = z - level
    cx, cy = x >> k, y_from_south >> k
    cell_px = float(EXTENT << k)
    ox, oy1 = x / (1 << k), (y_from_south + 1) / (1 << k) - 1
    centre_x = (cx - ox) * cell_px + cell_px / 2
    centre_y = (oy1 - cy) * cell_px + cell_px / 2
    return GridPlacement(
        cx0=cx,
        cx1=cx,
        cy0=cy,
        cy1=cy,
        cell_px=cell_px,
        ox=ox,
        oy1=oy1,
        envelope=(level, cx, (1 << level) - 1 - cy),
        draws=0 <= centre_x < EXTENT and 0 <= centre_y < EXTENT,
    )


def aggregated(layer: str, z: int, role: str) -> bool:
    """Whether ``layer`` is served as grid counts at zoom ``z`` to ``role``."""
    if layer == "sightings" and not sees_personal_data(role):
        return True
    return z < POINT_MIN_ZOOM


def _month_floor(at: dt.datetime) -> dt.datetime:
    utc = at.astimezone(dt.UTC)
    return dt.datetime(utc.year, utc.month, 1, tzinfo=dt.UTC)


def _next_month(month: dt.datetime) -> dt.datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


@dataclass(frozen=True)
class GridWindow:
    """Which whole UTC months the grid answers for, and which instants the rows must."""

    months_from: dt.datetime | None  # inclusive; None = unbounded
    months_to: dt.datetime | None  # exclusive; None = unbounded
    use_grid: bool
    row_ranges: tuple[tuple[dt.datetime | None, dt.datetime | None], ...]


def grid_window(start: dt.datetime | None, end: dt.datetime | None) -> GridWindow:
    """Split ``[start, end)`` into whole months (grid) and the partial months at its ends."""
    first = None
    if start is not None:
        first = _month_floor(start)
        if first < start:
            first = _next_month(first)
    last = _month_floor(end) if end is not None else None
    if first is not None and last is not None and first >= last:
        return GridWindow(None, None, False, ((start, end),))
    ranges: list[tuple[dt.datetime | None, dt.datetime | None]] = []
    if start is not None and first is not None and start < first:
        ranges.append((start, first))
    if end is not None and last is not None and last < end:
        ranges.append((last, end))
    return GridWindow(first, last, True, tuple(ranges))


def _time_sql(
    column: str, ranges: tuple[tuple[dt.datetime | None, dt.datetime | None], ...]
) -> tuple[str, dict[str, Any]]:
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, (lo, hi) in enumerate(ranges):
        conds = []
        if lo is not None:
            conds.append(f"t.{column} >= :r{i}_lo")
            params[f"r{i}_lo"] = lo
        if hi is not None:
            conds.append(f"t.{column} < :r{i}_hi")
            params[f"r{i}_hi"] = hi
        parts.append("(" + (" AND ".join(conds) or "TRUE") + ")")
    return " OR ".join(parts), params


def grid_sql(
    request: TileRequest,
    *,
    table: str,
    time_col: str,
    from_rows: bool = False,
    level: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of an aggregated point tile (see the module docstring).

    ``from_rows`` counts every cell from the table instead of the grid (the benchmark's
    baseline, and the tests' reference for the grid). ``level`` (default zoom + 6: 64 cells
    across) may be coarser, even coarser than the zoom (see :func:`grid_placement`).
    """
    z, x, y = request.z, request.x, request.y
    level = z + GRID_SHIFT if level is None else level
    place = grid_placement(z, x, y, level)
    ez, ex, ey = place.envelope
    params: dict[str, Any] = {
        "ez": ez,
        "ex": ex,
        "ey": ey,
        "cell_m": tile_width_m(level),
        "cx0": place.cx0,
        "cx1": place.cx1,
        "cy0": place.cy0,
        "cy1": place.cy1,
        "cell_px": place.cell_px,
        "ox": place.ox,
        "oy1": place.oy1,
    }
    half = repr(WEB_MERCATOR_HALF)
    cell_x = CELL_X.format(p="r.p", half=half)
    cell_y = CELL_Y.format(p="r.p", half=half)
    parts: list[str] = []
    if level > GRID_FINEST or from_rows:
        # Finer than the stored grid (zoom >= 12, roles without personal data): few rows.
        time, time_params = _time_sql(time_col, ((request.start, request.end),))
        parts.append(ROWS_PART.format(cell_x=cell_x, cell_y=cell_y, table=table, time=time))
        params.update(time_params)
    else:
        window = grid_window(request.start, request.end)
        if window.use_grid:
            stored = max(level, GRID_COARSEST)
            # The '-infinity' month holds the all-time totals (migration 0010).
            months = " AND g.month = '-infinity'"
            if window.months_from is not None or window.months_to is not None:
                months = " AND g.month > '-infinity'"
            if window.months_from is not None:
                months += " AND g.month >= :months_from"
                params["months_from"] = window.months_from.date()
            if window.months_to is not None:
                months += " AND g.month < :months_to"
                params["months_to"] = window.months_to.date()
            params.update(level=stored, shift=stored - level, scale=1 << (stored - level))
            parts.append(GRID_TABLE_PART.format(grid=f"{table}_grid", months=months))
        if window.row_ranges:
            time, time_params = _time_sql(time_col, window.row_ranges)
            parts.append(ROWS_PART.format(cell_x=cell_x, cell_y=cell_y, table=table, time=time))
            params.update(time_params)
    sql = GRID_SQL.format(parts=" UNION ALL ".join(parts), name=request.layer, extent=EXTENT)
    return sql, params


GRID_COUNT_SQL = """
    SELECT coalesce(sum(n), 0) FROM {grid}
    WHERE level = {finest} AND cx BETWEEN :cx0 AND :cx1 AND cy BETWEEN :cy0 AND :cy1 {months}
"""


def _grid_count(session: Session, request: TileRequest, table: str) -> int:
    """Rows in a tile of zoom 12 or more, from the finest grid (one index range): exact without
    a time window, an upper bound with one (the whole months it touches)."""
    shift = GRID_FINEST - request.z
    if shift < 0:
        return 0  # a tile smaller than a grid cell holds few rows
    y_from_south = (1 << request.z) - 1 - request.y
    params: dict[str, Any] = {
        "cx0": request.x << shift,
        "cx1": ((request.x + 1) << shift) - 1,
        "cy0": y_from_south << shift,
        "cy1": ((y_from_south + 1) << shift) - 1,
    }
    months = "AND month = '-infinity'"
    if request.start is not None or request.end is not None:
        months = "AND month > '-infinity'"
        if request.start is not None:
            months += " AND month >= :m_from"
            params["m_from"] = _month_floor(request.start).date()
        if request.end is not None:
            months += " AND month < :m_to"
            params["m_to"] = _next_month(_month_floor(request.end)).date()
    sql = GRID_COUNT_SQL.format(grid=f"{table}_grid", finest=GRID_FINEST, months=months)
    return int(session.execute(text(sql), params).scalar_one())


# A point tile reads a few thousand rows at most, but ST_AsMVTGeom and ST_Transform are costed
# high, so the planner hands the scan to parallel workers: starting them took ~10 ms of a tile
# that costs 3 ms without (a raw z12 tile of 704 sightings: 14.3 -> 2.9 ms; z14 of 1,397:
# 16.7 -> 4.2 ms). Tiles come in bursts from many clients; workers do not pay for any of them.
NO_PARALLEL_SQL: Final = text("SET LOCAL max_parallel_workers_per_gather = 0")


def render(*, session: Session, request: TileRequest, role: str, from_rows: bool = False) -> bytes:
    """The tile as MVT bytes (empty when nothing is in it); ``from_rows``: see :func:`grid_sql`."""
    check_tile(layer=request.layer, z=request.z, x=request.x, y=request.y)
    params: dict[str, object] = {"z": request.z, "x": request.x, "y": request.y}
    if request.layer in POLYGON_SQL:
        params["tol"] = tile_width_m(request.z) / EXTENT  # one tile pixel
        raw = session.execute(text(POLYGON_SQL[request.layer]), params).scalar()
        return bytes(raw or b"")
    session.execute(NO_PARALLEL_SQL)
    table, time_col, columns = POINT_SQL[request.layer]
    if aggregated(request.layer, request.z, role):
        level = grid_level(request, role)
        if not grid_placement(request.z, request.x, request.y, level).draws:
            return b""
        sql, grid_params = grid_sql(
            request, table=table, time_col=time_col, from_rows=from_rows, level=level
        )
        grid_params["suppress"] = request.layer == "sightings" and not sees_personal_data(role)
        grid_params["min_count"] = MIN_PERSON_COUNT
        grid_params["hidden"] = f"<{MIN_PERSON_COUNT}"
        raw = session.execute(text(sql), grid_params).scalar()
        return bytes(raw or b"")
    if not from_rows and _grid_count(session, request, table) > RAW_MAX_POINTS:
        sql, grid_params = grid_sql(request, table=table, time_col=time_col, level=GRID_FINEST)
        grid_params.update(suppress=False, min_count=MIN_PERSON_COUNT, hidden="")
        raw = session.execute(text(sql), grid_params).scalar()
        return bytes(raw or b"")
    time = ""
    if request.start is not None:
        time += f" AND t.{time_col} >= :start"
        params["start"] = request.start
    if request.end is not None:
        time += f" AND t.{time_col} < :end"
        params["end"] = request.end
    sql = RAW_SQL.format(
        env=ENV, table=table, time=time, name=request.layer, extent=EXTENT, columns=columns
    )
    raw = session.execute(text(sql), params).scalar()
    return bytes(raw or b"")
