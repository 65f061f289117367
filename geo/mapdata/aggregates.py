"""Map aggregates sized by area, not by the number of points: heat cells, hex bins, kecamatan
statistics and counts per period.

Grids are built in EPSG:32649 (metres) against the stored ``geom_utm`` columns; results come back
in EPSG:4326. Counts of sightings are counts of *persons*, which callers suppress for roles
without personal data (``geo.access.suppress_count``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.mapdata.filters import MapFilters, point_where
from geo.models import METRIC_SRID
from geo.registry.caps import check_slices
from geo.registry.filters import parse_cell_m, parse_choices
from geo.times import WIB_NAME, period_count, period_starts

Period = Literal["week", "month"]
PERIODS: Final[tuple[str, ...]] = ("week", "month")
# The reference basemap is drawn at regency scale: 50 m simplification is invisible there.
BASEMAP_TOLERANCE_M: Final = 50.0


@dataclass(frozen=True)
class HeatCells:
    """Square cells of ``cell_m`` metres (EPSG:32649) with the number of points in each.

    ``cells`` rows are [lat, lon, count] at the cell centre (4 decimals, ~11 m: a twentieth of
    the smallest useful cell, and fewer bytes for every one of tens of thousands of cells).
    """

    cell_m: float
    cells: list[list[float]]
    total: int

    @property
    def max_count(self) -> int:
        return int(max((c[2] for c in self.cells), default=0))


HEAT_CELLS_SQL: Final = """
WITH cell AS (
    SELECT floor(ST_X(t.geom_utm) / :cell_m) AS gx,
           floor(ST_Y(t.geom_utm) / :cell_m) AS gy,
           count(*) AS n
      FROM {table} t
     WHERE {where} AND t.geom_utm IS NOT NULL
     GROUP BY 1, 2
)
SELECT coalesce(json_agg(json_build_array(q.lat, q.lon, q.n) ORDER BY q.lat, q.lon), '[]')::text
  FROM (SELECT round(ST_Y(c.pt)::numeric, 4)::float8 AS lat,
               round(ST_X(c.pt)::numeric, 4)::float8 AS lon,
               n
          FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint((gx + 0.5) * :cell_m,
                                                            (gy + 0.5) * :cell_m),
                                               {srid}), 4326) AS pt, n
                  FROM cell) c) q
"""


def heat_cells(*, session: Session, filters: MapFilters, cell_m: float = 500.0) -> HeatCells:
    """Counts per square cell, aggregated in the database so the payload is bounded by area."""
    cell_m = parse_cell_m(cell_m)
    where = point_where(session=session, filters=filters)
    sql = HEAT_CELLS_SQL.format(table=filters.source.table, where=where.sql, srid=METRIC_SRID)
    # One JSON array built by PostgreSQL: no per-row Python objects for tens of thousands of cells.
    raw = session.execute(text(sql), {"cell_m": cell_m, **where.params}).scalar_one()
    cells: list[list[float]] = orjson.loads(raw)
    return HeatCells(cell_m=cell_m, cells=cells, total=int(sum(c[2] for c in cells)))


# --- hex bins ---------------------------------------------------------------------------------

HEX_SQL: Final = """
WITH pts AS (
    SELECT t.geom_utm FROM {table} t WHERE {where} AND t.geom_utm IS NOT NULL
), ext AS (
    SELECT ST_SetSRID(ST_Extent(geom_utm)::geometry, {srid}) AS g FROM pts
), counted AS (
    SELECT h.i, h.j, min(h.geom) AS hex, count(*) AS n
      FROM ext
      CROSS JOIN LATERAL ST_HexagonGrid(:size_m, ext.g) AS h
      JOIN pts ON ST_Intersects(h.geom, pts.geom_utm)
     WHERE ext.g IS NOT NULL
     GROUP BY h.i, h.j
)
SELECT i, j, n, ST_AsGeoJSON(ST_Transform(hex, 4326), 5) AS geojson
  FROM counted
 ORDER BY i, j
"""


@dataclass(frozen=True)
class HexCell:
    i: int
    j: int
    count: int
    geometry: dict[str, Any]


def hex_counts(*, session: Session, filters: MapFilters, cell_m: float = 2000.0) -> list[HexCell]:
    """Counts per hexagon (``ST_HexagonGrid`` in EPSG:32649, ``cell_m`` = edge length)."""
    cell_m = parse_cell_m(cell_m)
    where = point_where(session=session, filters=filters)
    sql = HEX_SQL.format(table=filters.source.table, where=where.sql, srid=METRIC_SRID)
    rows = session.execute(text(sql), {"size_m": cell_m, **where.params}).all()
    return [
        HexCell(i=int(r.i), j=int(r.j), count=int(r.n), geometry=orjson.loads(r.geojson))
        for r in rows
    ]


# --- kecamatan statistics ---------------------------------------------------------------------

KECAMATAN_SQL: Final = """
WITH kec AS (
    SELECT a.code, a.name, a.geom, a.geom_utm,
           coalesce(a.area_km2, ST_Area(a.geom_utm) / 1e6) AS area_km2
      FROM admin_area a
     WHERE a.level = 'kecamatan'
       AND a.parent_code IN (SELECT code FROM admin_area WHERE level = 'kabupaten')
), counts AS (
    SELECT t.kecamatan_code AS code, count(*) AS n
      FROM {table} t WHERE {where} AND t.kecamatan_code IS NOT NULL
     GROUP BY 1
), residents AS (
    SELECT f.kecamatan_code AS code, count(*) AS n
      FROM foreigner f WHERE f.status = 'active' AND f.kecamatan_code IS NOT NULL
     GROUP BY 1
)
SELECT kec.code, kec.name, kec.area_km2,
       coalesce(counts.n, 0) AS n_points,
       coalesce(residents.n, 0) AS foreigners,
       ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(kec.geom_utm, :tol), 4326), 5)
           AS geojson
  FROM kec
  LEFT JOIN counts ON counts.code = kec.code
  LEFT JOIN residents ON residents.code = kec.code
 ORDER BY kec.code
"""


@dataclass(frozen=True)
class KecamatanStat:
    code: str
    name: str
    area_km2: float
    count: int
    foreigners: int
    geometry: dict[str, Any]

    @property
    def per_km2(self) -> float:
        return self.count / self.area_km2 if self.area_km2 > 0 else 0.0

    @property
    def per_foreigner(self) -> float | None:
        return self.count / self.foreigners if self.foreigners else None


def kecamatan_stats(
    *, session: Session, filters: MapFilters, tolerance_m: float = BASEMAP_TOLERANCE_M
) -> list[KecamatanStat]:
    """Per kecamatan of the regency: points in the filters, area, active registered foreigners."""
    where = point_where(session=session, filters=filters)
    sql = KECAMATAN_SQL.format(table=filters.source.table, where=where.sql)
    rows = session.execute(text(sql), {"tol": tolerance_m, **where.params}).all()
    return [
        KecamatanStat(
            code=r.code,
            name=r.name,
            area_km2=float(r.area_km2 or 0.0),
            count=int(r.n_points),
            foreigners=int(r.foreigners),
            geometry=orjson.loads(r.geojson),
        )
        for r in rows
    ]


# --- timeline ---------------------------------------------------------------------------------

PERIOD_SQL: Final = """
SELECT to_char(date_trunc(:period, t.{time_col} AT TIME ZONE '{tz}'), 'YYYY-MM-DD') AS period,
       coalesce(t.kecamatan_code, '') AS code,
       count(*) AS n
  FROM {table} t
 WHERE {where}
 GROUP BY 1, 2
 ORDER BY 1, 2
"""


@dataclass(frozen=True)
class PeriodCounts:
    """Counts per period (start date in WIB, ``YYYY-MM-DD``) and kecamatan code."""

    period: Period
    periods: list[str]
    counts: dict[str, dict[str, int]]  # period -> kecamatan code ('' = outside) -> count

    def totals(self) -> list[int]:
        return [sum(self.counts.get(p, {}).values()) for p in self.periods]


def period_counts(*, session: Session, filters: MapFilters, period: str = "month") -> PeriodCounts:
    """Counts per week (ISO, Monday) or month in WIB, per kecamatan; empty periods filled in."""
    parse_choices("period", period, allowed=PERIODS, subject="the timeline")
    where = point_where(session=session, filters=filters)
    sql = PERIOD_SQL.format(
        table=filters.source.table,
        where=where.sql,
        time_col=filters.source.time_column,
        tz=WIB_NAME,
    )
    rows = session.execute(text(sql), {"period": period, **where.params}).all()
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.period, {})[r.code] = int(r.n)
    periods = _fill_periods(sorted(counts), period)
    return PeriodCounts(period=period, periods=periods, counts=counts)  # type: ignore[arg-type]


def _fill_periods(present: list[str], period: str) -> list[str]:
    if not present:
        return []
    first, last = dt.date.fromisoformat(present[0]), dt.date.fromisoformat(present[-1])
    check_slices(period_count(first, last, period), unit=period, field="period")
    return [day.isoformat() for day in period_starts(first, last, period)]
