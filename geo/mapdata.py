"""All the SQL behind the maps: aggregates sized by area, not by the number of points.

Every function takes keyword-only arguments and bound parameters; grids are built in EPSG:32649
(metres) against the stored ``geom_utm`` columns, and results come back in EPSG:4326. Layers are
``incidents`` or ``sightings``; counts of sightings and foreigners are counts of *persons*, which
callers suppress for roles without personal data (``geo.access.suppress_count``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.geometry import latlon
from geo.models import INCIDENT_KINDS, METRIC_SRID, SIGHTING_SOURCES
from geo.times import WIB, WIB_NAME, parse_time

Layer = Literal["incidents", "sightings"]
Period = Literal["week", "month"]
LAYERS: Final[tuple[str, ...]] = ("incidents", "sightings")
PERIODS: Final[tuple[str, ...]] = ("week", "month")
PERSON_LAYERS: Final = frozenset({"sightings"})

# Kinds a filter may name: incident kinds, or sighting sources for the sightings layer.
KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "incidents": INCIDENT_KINDS,
    "sightings": SIGHTING_SOURCES,
}

MIN_CELL_M: Final = 100.0
MAX_CELL_M: Final = 20_000.0
# The reference basemap is drawn at regency scale: 50 m simplification is invisible there.
BASEMAP_TOLERANCE_M: Final = 50.0


@dataclass(frozen=True)
class MapFilters:
    """What a map shows: one layer, a time window (aware datetimes), kinds and kecamatan codes."""

    layer: Layer = "incidents"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    kinds: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()

    @property
    def persons(self) -> bool:
        return self.layer in PERSON_LAYERS

    def describe(self) -> dict[str, str]:
        """The filters as text for a caption (times in WIB)."""
        out: dict[str, str] = {}
        if self.start:
            out["start"] = self.start.astimezone(WIB).strftime("%Y-%m-%d %H:%M")
        if self.end:
            out["end"] = self.end.astimezone(WIB).strftime("%Y-%m-%d %H:%M")
        if self.kinds:
            out["kind"] = ", ".join(self.kinds)
        if self.kecamatan:
            out["kecamatan"] = ", ".join(self.kecamatan)
        return out


def _split(values: str | Sequence[str] | None) -> tuple[str, ...]:
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in item.split(",") if p.strip())
    return tuple(dict.fromkeys(out))


def parse_filters(
    *,
    layer: str | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
) -> MapFilters:
    """Validate raw filter values (query string, CLI options); errors name the bad value."""
    layer_name = (layer or "incidents").strip()
    if layer_name not in LAYERS:
        raise ValidationError(
            f"layer must be one of {', '.join(LAYERS)}; got {layer_name!r}",
            field="layer",
            value=layer_name,
        )
    start_at = parse_time(start, field="start")
    end_at = parse_time(end, field="end")
    if start_at and end_at and end_at <= start_at:
        raise ValidationError(
            f"end ({end_at.isoformat()}) must be after start ({start_at.isoformat()})",
            field="end",
            value=end_at.isoformat(),
        )
    kinds = _split(kind)
    allowed = KINDS[layer_name]
    for k in kinds:
        if k not in allowed:
            raise ValidationError(
                f"kind for layer {layer_name} must be one of {', '.join(allowed)}; got {k!r}",
                field="kind",
                value=k,
            )
    codes = _split(kecamatan)
    for code in codes:
        if len(code) > 16 or not all(c.isalnum() or c in "._-" for c in code):
            raise ValidationError(
                f"kecamatan must be a Kemendagri code such as 61.01.09; got {code!r}",
                field="kecamatan",
                value=code,
            )
    return MapFilters(
        layer=layer_name,  # type: ignore[arg-type]  # checked against LAYERS above
        start=start_at,
        end=end_at,
        kinds=kinds,
        kecamatan=codes,
    )


def check_cell_m(cell_m: float, *, field_name: str = "cell_m") -> float:
    if not (MIN_CELL_M <= cell_m <= MAX_CELL_M):
        raise ValidationError(
            f"{field_name} must be between {MIN_CELL_M:.0f} and {MAX_CELL_M:.0f} metres; "
            f"got {cell_m}",
            field=field_name,
            value=cell_m,
        )
    return float(cell_m)


# --- the filtered point set -------------------------------------------------------------------

# Table, time column and kind column per layer: constants, never user input.
_LAYER_SQL: Final[Mapping[str, tuple[str, str, str]]] = {
    "incidents": ("incident", "occurred_at", "kind"),
    "sightings": ("sighting", "observed_at", "source"),
}


@dataclass
class _Where:
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def _where(filters: MapFilters, alias: str = "t") -> _Where:
    _table, time_col, kind_col = _LAYER_SQL[filters.layer]
    clauses = ["TRUE"]
    params: dict[str, Any] = {}
    if filters.start is not None:
        clauses.append(f"{alias}.{time_col} >= :start")
        params["start"] = filters.start
    if filters.end is not None:
        clauses.append(f"{alias}.{time_col} < :end")
        params["end"] = filters.end
    if filters.kinds:
        clauses.append(f"{alias}.{kind_col} = ANY(:kinds)")
        params["kinds"] = list(filters.kinds)
    if filters.kecamatan:
        clauses.append(f"{alias}.kecamatan_code = ANY(:kecamatan)")
        params["kecamatan"] = list(filters.kecamatan)
    if filters.layer == "sightings":
        clauses.append(f"NOT {alias}.out_of_area")
    return _Where(" AND ".join(clauses), params)


def _table(filters: MapFilters) -> str:
    return _LAYER_SQL[filters.layer][0]


# --- heat cells -------------------------------------------------------------------------------


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
    cell_m = check_cell_m(cell_m)
    where = _where(filters)
    sql = HEAT_CELLS_SQL.format(table=_table(filters), where=where.sql, srid=METRIC_SRID)
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
    cell_m = check_cell_m(cell_m)
    where = _where(filters)
    sql = HEX_SQL.format(table=_table(filters), where=where.sql, srid=METRIC_SRID)
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
    where = _where(filters)
    sql = KECAMATAN_SQL.format(table=_table(filters), where=where.sql)
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
    if period not in PERIODS:
        raise ValidationError(
            f"period must be one of {', '.join(PERIODS)}; got {period!r}",
            field="period",
            value=period,
        )
    _table_name, time_col, _ = _LAYER_SQL[filters.layer]
    where = _where(filters)
    sql = PERIOD_SQL.format(table=_table(filters), where=where.sql, time_col=time_col, tz=WIB_NAME)
    rows = session.execute(text(sql), {"period": period, **where.params}).all()
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.period, {})[r.code] = int(r.n)
    periods = _fill_periods(sorted(counts), period)
    return PeriodCounts(period=period, periods=periods, counts=counts)  # type: ignore[arg-type]


def _fill_periods(present: list[str], period: str) -> list[str]:
    if not present:
        return []
    first = dt.date.fromisoformat(present[0])
    last = dt.date.fromisoformat(present[-1])
    out: list[str] = []
    day = first
    while day <= last:
        out.append(day.isoformat())
        if period == "week":
            day += dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


# --- reference layers -------------------------------------------------------------------------

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


# --- point layers for the overview ------------------------------------------------------------

WORKPLACES_SQL: Final = """
SELECT w.id, w.name, w.sector, w.kecamatan_name, w.foreign_worker_quota,
       ST_X(w.geom) AS lon, ST_Y(w.geom) AS lat
  FROM workplace w
 WHERE (:no_kecamatan OR w.kecamatan_code = ANY(:kecamatan))
 ORDER BY w.id
"""


@dataclass(frozen=True)
class WorkplacePoint:
    id: int
    name: str
    sector: str
    kecamatan_name: str | None
    foreign_worker_quota: int | None
    lon: float
    lat: float


def workplaces(*, session: Session, kecamatan: Sequence[str] = ()) -> list[WorkplacePoint]:
    """Registered workplaces (names are not personal data)."""
    rows = session.execute(
        text(WORKPLACES_SQL), {"no_kecamatan": not kecamatan, "kecamatan": list(kecamatan)}
    ).all()
    return [
        WorkplacePoint(
            id=int(r.id),
            name=r.name,
            sector=r.sector,
            kecamatan_name=r.kecamatan_name,
            foreign_worker_quota=r.foreign_worker_quota,
            lon=float(r.lon),
            lat=float(r.lat),
        )
        for r in rows
    ]


ALERTS_SQL: Final = """
SELECT a.id, a.rule_kind, a.severity, a.status, a.kecamatan_name, a.desa_name, a.distance_m,
       a.event_at, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat
  FROM alert a
 WHERE a.geom IS NOT NULL AND a.status <> 'resolved'
   AND (:personal OR (a.foreigner_id IS NULL AND a.sighting_id IS NULL))
   AND (:no_kecamatan OR a.kecamatan_code = ANY(:kecamatan))
 ORDER BY a.created_at DESC, a.id DESC
 LIMIT :limit
"""


@dataclass(frozen=True)
class AlertPoint:
    id: int
    rule_kind: str
    severity: int
    status: str
    kecamatan_name: str | None
    desa_name: str | None
    distance_m: float | None
    event_at: dt.datetime
    lon: float
    lat: float


def latest_alerts(
    *,
    session: Session,
    personal: bool,
    kecamatan: Sequence[str] = (),
    limit: int = 50,
) -> list[AlertPoint]:
    """Open alerts, newest first. Without ``personal``, alerts about a person are left out:
    one marker is the position of one identifiable foreigner, not an aggregate."""
    rows = session.execute(
        text(ALERTS_SQL),
        {
            "personal": personal,
            "no_kecamatan": not kecamatan,
            "kecamatan": list(kecamatan),
            "limit": int(limit),
        },
    ).all()
    return [
        AlertPoint(
            id=int(r.id),
            rule_kind=r.rule_kind,
            severity=int(r.severity),
            status=r.status,
            kecamatan_name=r.kecamatan_name,
            desa_name=r.desa_name,
            distance_m=float(r.distance_m) if r.distance_m is not None else None,
            event_at=r.event_at,
            lon=float(r.lon),
            lat=float(r.lat),
        )
        for r in rows
    ]


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
