"""SQL for the hotspot analysis: the study area, the hex grid with counts per time slice, points.

All measuring happens in EPSG:32649 against the stored, GiST-indexed ``geom_utm`` columns; the hex
grid is PostGIS ``ST_HexagonGrid`` in 32649. Only fixed SQL fragments are formatted into the
statements (table and column names from :data:`LAYERS`); every user value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.models import METRIC_SRID
from geo.registry.caps import (
    MAX_ANALYSIS_POINTS,
    MAX_CELL_SLICES,
    MAX_CELLS,
    check_count,
    check_slices,
)
from geo.registry.filters import (
    ListFilters,
    analysis_layer,
    parse_cell_m,
    parse_choices,
    parse_window,
)
from geo.registry.layers import LAYERS as REGISTRY_LAYERS
from geo.registry.layers import Layer as RegistryLayer
from geo.registry.where import where_clause
from geo.times import WIB, parse_time, period_count, period_start, period_starts

SliceUnit = Literal["week", "month"]
SLICE_UNITS: Final = ("week", "month")
HEX_AREA_FACTOR: Final = 1.5 * np.sqrt(3.0)  # area of a hexagon of side s is 2.598 s²
KABUPATEN_FILE: Final = Path("sambas-admin") / "kabupaten_sambas.geojson"


@dataclass(frozen=True)
class LayerSpec:
    """Where a layer's points live (the registry layer) and what can weight them."""

    source: RegistryLayer
    severity_column: str | None


LAYERS: Final[dict[str, LayerSpec]] = {
    "incidents": LayerSpec(REGISTRY_LAYERS["incidents"], "severity"),
    "sightings": LayerSpec(REGISTRY_LAYERS["sightings"], None),
}


def as_utc(value: str | dt.datetime | None, name: str) -> dt.datetime | None:
    """A timestamp in UTC; one without an offset is read as WIB (docs/architecture.md)."""
    parsed = parse_time(value, field=name)
    return parsed.astimezone(dt.UTC) if parsed is not None else None


@dataclass(frozen=True)
class Window:
    """A validated query window: layer, cell size, time range (UTC), kinds, slice unit."""

    layer: str
    cell_m: float
    start: dt.datetime | None
    end: dt.datetime | None
    kinds: tuple[str, ...] | None
    slice_unit: SliceUnit

    @property
    def spec(self) -> LayerSpec:
        return LAYERS[self.layer]


def make_window(
    *,
    layer: str,
    cell_m: float,
    start: str | dt.datetime | None,
    end: str | dt.datetime | None,
    kinds: list[str] | tuple[str, ...] | None = None,
    slice_unit: str = "week",
) -> Window:
    """Check the query parameters with the filter family (:mod:`geo.registry.filters`), so a bad
    value gets the message it gets on every other face."""
    source = analysis_layer(layer)
    start_at, end_at = parse_window(start, end)
    kind = parse_choices("kind", kinds, allowed=source.choices["kind"], subject=source.name)
    (unit,) = parse_choices("slice", slice_unit, allowed=SLICE_UNITS, subject="hotspots") or ("",)
    return Window(
        layer=source.name,
        cell_m=parse_cell_m(cell_m),
        start=start_at.astimezone(dt.UTC) if start_at else None,
        end=end_at.astimezone(dt.UTC) if end_at else None,
        kinds=kind or None,
        slice_unit=unit,  # type: ignore[arg-type]  # checked above
    )


def _filters(session: Session, window: Window, alias: str = "p") -> tuple[str, dict[str, Any]]:
    """The window's points as SQL (the registry's filters; ``end`` exclusive) with parameters."""
    where = where_clause(
        window.spec.source,
        ListFilters(start=window.start, end=window.end, kind=window.kinds or ()),
        session=session,
        alias=alias,
    ).and_(f"{alias}.geom_utm IS NOT NULL")
    return where.sql, where.params


# --- the study area --------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyArea:
    """The polygon the grid covers, in EPSG:32649, and where it came from."""

    geom: BaseGeometry
    source: str

    @property
    def area_km2(self) -> float:
        return float(self.geom.area) / 1e6


_KABUPATEN_SQL = text(
    "SELECT ST_AsBinary(ST_Union(geom_utm)) FROM admin_area WHERE level = 'kabupaten'"
)


@functools.lru_cache(maxsize=4)
def _kabupaten_from_file(path: Path) -> BaseGeometry:
    import geopandas as gpd

    frame = gpd.read_file(path)
    if frame.crs is None:
        raise ValidationError(f"{path} has no CRS", field="reference_data_dir", value=str(path))
    return frame.to_crs(METRIC_SRID).union_all()


def study_area(
    *, session: Session, window: Window | None = None, reference_data_dir: Path | None = None
) -> StudyArea | None:
    """The regency polygon: the loaded ``admin_area`` kabupaten, else the reference file, else
    the extent of the layer's data in the window (grown by one cell). None when there is none."""
    wkb = session.execute(_KABUPATEN_SQL).scalar()
    if wkb is not None:
        return StudyArea(geom=shapely.from_wkb(bytes(wkb)), source="admin_area")
    if reference_data_dir is not None and (reference_data_dir / KABUPATEN_FILE).exists():
        path = (reference_data_dir / KABUPATEN_FILE).resolve()
        return StudyArea(geom=_kabupaten_from_file(path), source=str(KABUPATEN_FILE))
    if window is None:
        return None
    where, params = _filters(session, window)
    row = session.execute(
        text(
            "SELECT ST_AsBinary(ST_Expand(ST_SetSRID(ST_Extent(p.geom_utm)::geometry, "
            f"{METRIC_SRID}), :pad)) FROM {window.spec.source.table} AS p WHERE {where}"
        ),
        {**params, "pad": window.cell_m},
    ).scalar()
    if row is None:
        return None
    return StudyArea(geom=shapely.from_wkb(bytes(row)), source="data_extent")


# --- the grid with counts --------------------------------------------------------------------


@dataclass(frozen=True)
class CellCounts:
    """Hex cells over the study area with their counts per time slice (oldest first).

    ``counts[:, t]`` is the number of points and ``weights[:, t]`` their weight sum (severity for
    incidents, else the count) in cell × slice ``t``; ``slices[t]`` is the slice start (WIB date).
    """

    window: Window
    area_source: str
    i: npt.NDArray[np.int64]
    j: npt.NDArray[np.int64]
    geoms: list[BaseGeometry]  # EPSG:4326 polygons
    slices: list[dt.date]
    counts: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return int(self.i.size)

    @property
    def total_counts(self) -> npt.NDArray[np.float64]:
        return self.counts.sum(axis=1) if self.counts.size else np.zeros(self.n_cells)

    @property
    def total_weights(self) -> npt.NDArray[np.float64]:
        return self.weights.sum(axis=1) if self.weights.size else np.zeros(self.n_cells)


def _slice_bounds(window: Window, seen: list[dt.date]) -> tuple[dt.date | None, dt.date | None]:
    """The first and last slice: from the window where it is given, else from the data."""
    first: dt.date | None = min(seen) if seen else None
    last: dt.date | None = max(seen) if seen else None
    if window.start is not None:
        first = period_start(window.start.astimezone(WIB).date(), window.slice_unit)
    if window.end is not None:
        # The last slice is the one holding the last instant before the (exclusive) end.
        last_instant = window.end - dt.timedelta(microseconds=1)
        last = period_start(last_instant.astimezone(WIB).date(), window.slice_unit)
    return first or last, last or first


def _check_slices(
    window: Window, first: dt.date | None, last: dt.date | None, *, n_cells: int
) -> None:
    """At most MAX_SLICES slices, and cells x slices within MAX_CELL_SLICES."""
    if first is None or last is None:
        return
    n_slices = check_slices(period_count(first, last, window.slice_unit), unit=window.slice_unit)
    check_count(
        n_cells * n_slices,
        cap=MAX_CELL_SLICES,
        what=f"{n_cells:,} cells x {n_slices} {window.slice_unit} slices",
        field="cell_m",
        advice="use a larger cell_m, a shorter window or longer slices",
    )


def hotspot_cells(
    *,
    session: Session,
    layer: str = "incidents",
    cell_m: float = 1000.0,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    slice_unit: str = "week",
    reference_data_dir: Path | None = None,
) -> CellCounts:
    """The hex grid (``ST_HexagonGrid`` of side ``cell_m`` in EPSG:32649) over the regency with
    the layer's counts per cell and time slice (week starting Monday, or month, in WIB).

    A point on an edge shared by two cells counts once (in the cell with the lower (i, j)).
    """
    window = make_window(
        layer=layer, cell_m=cell_m, start=start, end=end, kinds=kinds, slice_unit=slice_unit
    )
    area = study_area(session=session, window=window, reference_data_dir=reference_data_dir)
    empty = np.zeros((0, 0))
    if area is None:
        return CellCounts(window, "none", np.zeros(0, np.int64), np.zeros(0, np.int64), [], [],
                          empty, empty)  # fmt: skip
    estimate = area.geom.area / (HEX_AREA_FACTOR * window.cell_m**2)
    if estimate > MAX_CELLS:
        raise ValidationError(
            f"cell_m {window.cell_m:g} gives about {estimate:,.0f} cells over "
            f"{area.area_km2:,.0f} km² (max {MAX_CELLS:,}); use a larger cell_m",
            field="cell_m",
            value=window.cell_m,
        )
    # Refuse a window of too many slices before reading anything (its data may be far shorter).
    _check_slices(window, *_slice_bounds(window, []), n_cells=int(estimate))
    spec = window.spec
    time_column = spec.source.time_column
    where, params = _filters(session, window)
    weight = f"p.{spec.severity_column}" if spec.severity_column else "1"
    sql = text(
        f"""
        WITH area AS (SELECT ST_GeomFromWKB(:area_wkb, {METRIC_SRID}) AS geom),
        cells AS (
            SELECT h.i, h.j, h.geom
            FROM area, ST_HexagonGrid(:cell_m, area.geom) AS h
            WHERE ST_Intersects(h.geom, area.geom)
        ),
        pts AS (
            SELECT DISTINCT ON (p.id) c.i, c.j, {weight} AS w,
                   date_trunc(:unit, p.{time_column} AT TIME ZONE 'Asia/Pontianak')::date
                       AS slice
            FROM {spec.source.table} AS p
            JOIN cells AS c ON ST_Intersects(c.geom, p.geom_utm)
            WHERE {where}
            ORDER BY p.id, c.i, c.j
        ),
        agg AS (
            SELECT i, j, slice, count(*) AS n, sum(w) AS w FROM pts GROUP BY i, j, slice
        )
        SELECT c.i, c.j, ST_AsBinary(ST_Transform(c.geom, 4326)) AS geom,
               array_agg(a.slice ORDER BY a.slice) FILTER (WHERE a.slice IS NOT NULL) AS slices,
               array_agg(a.n ORDER BY a.slice) FILTER (WHERE a.slice IS NOT NULL) AS n,
               array_agg(a.w ORDER BY a.slice) FILTER (WHERE a.slice IS NOT NULL) AS w
        FROM cells AS c LEFT JOIN agg AS a USING (i, j)
        GROUP BY c.i, c.j, c.geom
        ORDER BY c.i, c.j
        """
    )
    rows = session.execute(
        sql,
        {
            **params,
            "area_wkb": shapely.to_wkb(area.geom),
            "cell_m": window.cell_m,
            "unit": window.slice_unit,
        },
    ).all()
    seen: list[dt.date] = [s for row in rows if row.slices for s in row.slices]
    first, last = _slice_bounds(window, seen)
    _check_slices(window, first, last, n_cells=len(rows))
    slices = period_starts(first, last, window.slice_unit) if first and last else []
    position = {s: k for k, s in enumerate(slices)}
    n = len(rows)
    counts = np.zeros((n, len(slices)))
    weights = np.zeros((n, len(slices)))
    for idx, row in enumerate(rows):
        if row.slices:
            cols = [position[s] for s in row.slices]
            counts[idx, cols] = row.n
            weights[idx, cols] = [float(v) for v in row.w]
    return CellCounts(
        window=window,
        area_source=area.source,
        i=np.array([r.i for r in rows], dtype=np.int64),
        j=np.array([r.j for r in rows], dtype=np.int64),
        geoms=list(shapely.from_wkb([bytes(r.geom) for r in rows])) if rows else [],
        slices=slices,
        counts=counts,
        weights=weights,
        extra={"area_km2": area.area_km2},
    )


def layer_points(
    *,
    session: Session,
    layer: str = "incidents",
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """x, y (EPSG:32649 metres) and weight (severity or 1) of the layer's points in the window."""
    window = make_window(layer=layer, cell_m=1000.0, start=start, end=end, kinds=kinds)
    spec = window.spec
    where, params = _filters(session, window)
    weight = f"p.{spec.severity_column}" if spec.severity_column else "1"
    rows = session.execute(
        text(
            f"SELECT ST_X(p.geom_utm), ST_Y(p.geom_utm), {weight} FROM {spec.source.table} AS p "
            f"WHERE {where} ORDER BY p.id LIMIT :cap"
        ),
        {**params, "cap": MAX_ANALYSIS_POINTS + 1},
    ).all()
    if len(rows) > MAX_ANALYSIS_POINTS:
        raise ValidationError(
            f"more than {MAX_ANALYSIS_POINTS:,} {layer} in the window (the cap of an analysis "
            "of points); narrow the time window or the kinds",
            field="start",
            value=MAX_ANALYSIS_POINTS,
        )
    if not rows:
        empty = np.zeros(0)
        return empty, empty.copy(), empty.copy()
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()
