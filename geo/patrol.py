"""Patrol planning on hotspots: where to send ``k`` patrols, in which order, and a patrol log.

- **Where** — greedy maximum coverage: choose up to ``k`` patrol points among the hex-cell centres
  so that the hotspot weight of the cells whose centres lie within ``radius_m`` is as large as
  possible. Coverage is monotone submodular, so the greedy choice covers at least (1 − 1/e) ≈ 63 %
  of the best possible ``k``-point coverage (Nemhauser, Wolsey & Fisher 1978).
- **Order** — a route from the start point (the immigration office from settings, else Sambas
  town) by nearest neighbour then 2-opt, straight lines in EPSG:32649 (no road network yet).
- **Recently patrolled** — cells within the radius of a patrol logged in the last
  ``avoid_recent_days`` days count ``recent_factor`` times their weight, so plans rotate.

The planning functions are pure; :func:`plan_patrol` and the patrol-log functions do the SQL.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from pyproj import Transformer
from scipy import sparse
from scipy.spatial import cKDTree
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo import audit
from geo.errors import NotFoundError, ValidationError
from geo.geometry import transformer
from geo.hotspots.analysis import HotspotResult, hotspots
from geo.hotspots.data import as_utc
from geo.models import METRIC_SRID, SRID, PatrolLog
from geo.settings import AreaSettings
from geo.users import Principal

FloatArray = npt.NDArray[np.float64]

SAMBAS_TOWN: Final = (109.310052, 1.361227)  # lon, lat: fallback start point
MAX_PATROL_POINTS: Final = 50
MIN_RADIUS_M: Final = 50.0
MAX_RADIUS_M: Final = 50_000.0
WeightMode = Literal["hot", "count"]
WEIGHT_MODES: Final = ("hot", "count")
GUARANTEE: Final = (
    "greedy maximum coverage: at least 1 - 1/e (63.2 %) of the optimal k-point coverage"
)


def _transformer(to_metric: bool) -> Transformer:
    return transformer(SRID, METRIC_SRID) if to_metric else transformer(METRIC_SRID, SRID)


def to_utm(lon: float, lat: float) -> tuple[float, float]:
    x, y = _transformer(True).transform(lon, lat)
    return float(x), float(y)


def to_utm_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = _transformer(True).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon, lat = _transformer(False).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def check_lon_lat(lon: float, lat: float, *, field: str = "start") -> None:
    """A finite lon/lat in range, in the UTM zone this service measures in (a loose check)."""
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(
            f"{field} must be a finite lon in [-180, 180] and lat in [-90, 90]; "
            f"got ({lon!r}, {lat!r})",
            field=field,
            value=f"{lon},{lat}",
        )
    # EPSG:32649 is meant for 108-114 °E; far outside it distances are wrong, not just far.
    if not (102.0 <= lon <= 120.0 and -10.0 <= lat <= 12.0):
        raise ValidationError(
            f"{field} ({lon}, {lat}) is far outside Kabupaten Sambas (lon 108.9-109.9, "
            "lat 0.9-2.1); did you swap lon and lat?",
            field=field,
            value=f"{lon},{lat}",
        )


def default_start(area: AreaSettings | None = None) -> tuple[float, float]:
    """The office location from settings (TIMPORA_OFFICE_LON/LAT), else Sambas town."""
    if area is not None and area.office_lon is not None and area.office_lat is not None:
        return area.office_lon, area.office_lat
    return SAMBAS_TOWN


# --- pure planning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Chosen candidate indices (in order of choice) and the weight each one added."""

    chosen: list[int]
    gains: list[float]
    covered: npt.NDArray[np.bool_]


def coverage_matrix(
    candidates_xy: FloatArray, targets_xy: FloatArray, radius_m: float
) -> sparse.csr_array:
    """``c[a, b] = 1`` when target ``b`` lies within ``radius_m`` of candidate ``a``."""
    m, n = len(candidates_xy), len(targets_xy)
    if m == 0 or n == 0:
        return sparse.csr_array((m, n), dtype=np.float64)
    pairs = cKDTree(candidates_xy).sparse_distance_matrix(
        cKDTree(targets_xy), radius_m, output_type="ndarray"
    )
    rows = pairs["i"].astype(np.int64)
    cols = pairs["j"].astype(np.int64)
    return sparse.csr_array((np.ones(rows.size), (rows, cols)), shape=(m, n))


def greedy_max_coverage(
    candidates_xy: npt.ArrayLike,
    targets_xy: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    k: int,
    radius_m: float,
) -> Coverage:
    """Greedy weighted maximum coverage.

    Parameters
    ----------
    candidates_xy
        ``(m, 2)`` possible patrol points (metres).
    targets_xy
        ``(n, 2)`` locations carrying weight (metres).
    weights
        ``(n,)`` non-negative weight of each target.
    k
        Maximum number of points; fewer are returned when nothing more can be covered.
    radius_m
        A point covers the targets within this distance.

    Returns
    -------
    Coverage
        The chosen candidates; their total is ≥ (1 − 1/e) × the optimum (monotone submodular
        objective, Nemhauser et al. 1978).
    """
    cand = np.asarray(candidates_xy, dtype=np.float64).reshape(-1, 2)
    targ = np.asarray(targets_xy, dtype=np.float64).reshape(-1, 2)
    remaining = np.asarray(weights, dtype=np.float64).copy()
    if remaining.shape != (len(targ),):
        raise ValueError(f"weights {remaining.shape} do not match {len(targ)} targets")
    if np.any(remaining < 0) or not np.all(np.isfinite(remaining)):
        raise ValueError("weights must be finite and non-negative")
    c = coverage_matrix(cand, targ, radius_m)
    covered = np.zeros(len(targ), dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    for _ in range(k):
        gain = c @ remaining
        if gain.size == 0:
            break
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        hit = c[[best], :].indices
        chosen.append(best)
        gains.append(float(gain[best]))
        covered[hit] = True
        remaining[hit] = 0.0
    return Coverage(chosen=chosen, gains=gains, covered=covered)


def route_length(xy: FloatArray) -> float:
    """Length (metres) of a polyline."""
    if len(xy) < 2:
        return 0.0
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def order_route(
    start_xy: tuple[float, float], points_xy: npt.ArrayLike, *, return_to_start: bool = True
) -> list[int]:
    """Visit order of ``points_xy`` from ``start_xy``: nearest neighbour, then 2-opt.

    Returns indices into ``points_xy``. The route is straight lines (no road network).
    """
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    n = len(pts)
    if n == 0:
        return []
    nodes = np.vstack([np.asarray(start_xy, dtype=np.float64), pts])
    dist = np.hypot(*(nodes[:, None, :] - nodes[None, :, :]).transpose(2, 0, 1))
    # Nearest neighbour from the start (node 0).
    route = [0]
    left = set(range(1, n + 1))
    while left:
        last = route[-1]
        nxt = min(left, key=lambda v: (dist[last, v], v))
        route.append(nxt)
        left.remove(nxt)
    if return_to_start:
        route.append(0)
    # 2-opt: reverse route[a..b] while that shortens the route; the start stays first (and last).
    size = len(route)
    last_b = size - 2 if return_to_start else size - 1
    improved = True
    while improved:
        improved = False
        for a in range(1, size - 1):
            for b in range(a + 1, last_b + 1):
                before = dist[route[a - 1], route[a]]
                after = dist[route[a - 1], route[b]]
                if b + 1 < size:
                    before += dist[route[b], route[b + 1]]
                    after += dist[route[a], route[b + 1]]
                if after < before - 1e-9:
                    route[a : b + 1] = route[a : b + 1][::-1]
                    improved = True
    return [v - 1 for v in route if v != 0]


@dataclass(frozen=True)
class PatrolPoint:
    order: int
    lon: float
    lat: float
    x_utm: float
    y_utm: float
    covered_weight: float
    cells_covered: list[str]


@dataclass(frozen=True)
class PatrolPlan:
    """Patrol points in visiting order, the route, and how much hotspot weight they cover."""

    points: list[PatrolPoint]
    route: list[tuple[float, float]]  # lon, lat; starts (and ends) at the start point
    start: tuple[float, float]
    k: int
    radius_m: float
    length_km: float
    covered_weight: float
    total_weight: float
    return_to_start: bool
    weight_mode: str
    recently_patrolled_cells: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def covered_share(self) -> float:
        return self.covered_weight / self.total_weight if self.total_weight > 0 else 0.0


def hotspot_weights(
    result: HotspotResult, *, weight_mode: str = "hot", min_confidence: int = 2
) -> FloatArray:
    """The weight each cell brings to a plan.

    ``hot``: the cell's count (or severity sum) if it is a hot spot at ≥ ``min_confidence``
    (1 = 90 %, 2 = 95 %, 3 = 99 %, after FDR), else 0. ``count``: every cell's count.
    """
    if weight_mode not in WEIGHT_MODES:
        raise ValidationError(
            f"weight_mode must be one of {', '.join(WEIGHT_MODES)}; got {weight_mode!r}",
            field="weight_mode",
            value=weight_mode,
        )
    if min_confidence not in (1, 2, 3):
        raise ValidationError(
            f"min_confidence must be 1, 2 or 3 (90/95/99 %); got {min_confidence!r}",
            field="min_confidence",
            value=min_confidence,
        )
    cells = result.cells
    weight: FloatArray = cells["weight"].to_numpy(dtype=np.float64)
    if weight_mode == "hot":
        weight = np.where(cells["gi_bin"].to_numpy() >= min_confidence, weight, 0.0)
    return weight


def recency_multiplier(
    targets_xy: FloatArray,
    visits_xy: FloatArray,
    visit_radius_m: FloatArray,
    *,
    recent_factor: float,
) -> FloatArray:
    """``recent_factor`` for targets within the radius of a recent patrol, else 1."""
    out = np.ones(len(targets_xy))
    if len(visits_xy) == 0 or len(targets_xy) == 0:
        return out
    tree = cKDTree(targets_xy)
    for (vx, vy), r in zip(visits_xy, visit_radius_m, strict=True):
        out[tree.query_ball_point((vx, vy), float(r))] = recent_factor
    return out


def plan_from_hotspots(
    result: HotspotResult,
    *,
    k: int,
    radius_m: float,
    start: tuple[float, float],
    weight_mode: str = "hot",
    min_confidence: int = 2,
    return_to_start: bool = True,
    recent_visits_xy: FloatArray | None = None,
    recent_visits_radius_m: FloatArray | None = None,
    recent_factor: float = 0.5,
) -> PatrolPlan:
    """A patrol plan from a hotspot result (pure): see the module docstring."""
    check_plan_parameters(k=k, radius_m=radius_m, recent_factor=recent_factor)
    check_lon_lat(*start, field="start")
    cells = result.cells
    xy = np.column_stack([cells["x_utm"].to_numpy(float), cells["y_utm"].to_numpy(float)])
    weight = hotspot_weights(result, weight_mode=weight_mode, min_confidence=min_confidence)
    target = weight > 0
    objective = weight.copy()
    recent_cells = 0
    if recent_visits_xy is not None and len(recent_visits_xy):
        radii = (
            recent_visits_radius_m
            if recent_visits_radius_m is not None
            else np.full(len(recent_visits_xy), radius_m)
        )
        mult = recency_multiplier(xy, recent_visits_xy, radii, recent_factor=recent_factor)
        recent_cells = int(((mult < 1) & target).sum())
        objective = objective * mult
    cover = greedy_max_coverage(xy, xy[target], objective[target], k=k, radius_m=radius_m)
    start_xy = to_utm(*start)
    chosen_xy = xy[cover.chosen] if cover.chosen else np.zeros((0, 2))
    order = order_route(start_xy, chosen_xy, return_to_start=return_to_start)
    c = coverage_matrix(chosen_xy, xy[target], radius_m)
    target_ids = cells["cell_id"].to_numpy()[target]
    points: list[PatrolPoint] = []
    taken = np.zeros(int(target.sum()), dtype=bool)
    covered_weight = 0.0
    for position, idx in enumerate(order, start=1):
        hit = c[[idx], :].indices
        new = hit[~taken[hit]]
        taken[new] = True
        gain = float(weight[target][new].sum())
        covered_weight += gain
        lon, lat = to_lonlat([chosen_xy[idx, 0]], [chosen_xy[idx, 1]])
        points.append(
            PatrolPoint(
                order=position,
                lon=float(lon[0]),
                lat=float(lat[0]),
                x_utm=float(chosen_xy[idx, 0]),
                y_utm=float(chosen_xy[idx, 1]),
                covered_weight=gain,
                cells_covered=[str(v) for v in target_ids[hit]],
            )
        )
    path = [start_xy] + [(p.x_utm, p.y_utm) for p in points]
    if return_to_start and points:
        path.append(start_xy)
    path_xy = np.asarray(path, dtype=np.float64)
    lons, lats = to_lonlat(path_xy[:, 0], path_xy[:, 1])
    window = result.counts.window
    return PatrolPlan(
        points=points,
        route=[(float(a), float(b)) for a, b in zip(lons, lats, strict=True)],
        start=start,
        k=k,
        radius_m=radius_m,
        length_km=route_length(path_xy) / 1000.0,
        covered_weight=covered_weight,
        total_weight=float(weight.sum()),
        return_to_start=return_to_start,
        weight_mode=weight_mode,
        recently_patrolled_cells=recent_cells,
        metadata={
            "layer": window.layer,
            "cell_m": window.cell_m,
            "start": window.start.isoformat() if window.start else None,
            "end": window.end.isoformat() if window.end else None,
            "weighting": result.weighting,
            "min_confidence": min_confidence,
            "recent_factor": recent_factor,
            "method": GUARANTEE + "; route: nearest neighbour + 2-opt, straight lines",
        },
    )


def check_plan_parameters(*, k: int, radius_m: float, recent_factor: float = 0.5) -> None:
    if not (isinstance(k, int) and 1 <= k <= MAX_PATROL_POINTS):
        raise ValidationError(
            f"k must be an integer from 1 to {MAX_PATROL_POINTS}; got {k!r}", field="k", value=k
        )
    if not (math.isfinite(radius_m) and MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M):
        raise ValidationError(
            f"radius_m must be between {MIN_RADIUS_M:g} and {MAX_RADIUS_M:g}; got {radius_m!r}",
            field="radius_m",
            value=radius_m,
        )
    if not (math.isfinite(recent_factor) and 0 <= recent_factor <= 1):
        raise ValidationError(
            f"recent_factor must be between 0 and 1; got {recent_factor!r}",
            field="recent_factor",
            value=recent_factor,
        )


def plan_to_feature_collection(plan: PatrolPlan) -> dict[str, Any]:
    """The plan as GeoJSON (lon, lat): the start, the patrol points in order, and the route."""
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": "start",
            "geometry": {"type": "Point", "coordinates": list(plan.start)},
            "properties": {"kind": "start", "order": 0},
        }
    ]
    for p in plan.points:
        features.append(
            {
                "type": "Feature",
                "id": f"point-{p.order}",
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                "properties": {
                    "kind": "patrol_point",
                    "order": p.order,
                    "radius_m": plan.radius_m,
                    "covered_weight": p.covered_weight,
                    "cells_covered": p.cells_covered,
                },
            }
        )
    if len(plan.route) >= 2:
        features.append(
            {
                "type": "Feature",
                "id": "route",
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in plan.route]},
                "properties": {"kind": "route", "length_km": round(plan.length_km, 3)},
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "covered_share": plan.covered_share,
        "covered_weight": plan.covered_weight,
        "total_weight": plan.total_weight,
        "length_km": round(plan.length_km, 3),
        "metadata": {
            **plan.metadata,
            "k": plan.k,
            "n_points": len(plan.points),
            "radius_m": plan.radius_m,
            "weight_mode": plan.weight_mode,
            "return_to_start": plan.return_to_start,
            "recently_patrolled_cells": plan.recently_patrolled_cells,
        },
    }


# --- SQL: the plan from the database, and the patrol log -------------------------------------


def recent_patrols_utm(*, session: Session, since: dt.datetime) -> tuple[FloatArray, FloatArray]:
    """Patrol log points (EPSG:32649) and radii since ``since``."""
    rows = session.execute(
        text(
            "SELECT ST_X(geom_utm), ST_Y(geom_utm), radius_m FROM patrol_log "
            "WHERE patrolled_at >= :since ORDER BY id"
        ),
        {"since": since},
    ).all()
    if not rows:
        return np.zeros((0, 2)), np.zeros(0)
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, :2].copy(), arr[:, 2].copy()


def plan_patrol(
    *,
    session: Session,
    k: int = 4,
    radius_m: float = 2000.0,
    start_point: tuple[float, float] | None = None,
    area: AreaSettings | None = None,
    layer: str = "incidents",
    cell_m: float = 1000.0,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    weighting: str = "count",
    weight_mode: str = "hot",
    min_confidence: int = 2,
    return_to_start: bool = True,
    avoid_recent_days: int | None = 7,
    recent_factor: float = 0.5,
    now: dt.datetime | None = None,
    reference_data_dir: Path | None = None,
) -> PatrolPlan:
    """Hotspots of the window (SQL), recent patrols (SQL), then :func:`plan_from_hotspots`."""
    check_plan_parameters(k=k, radius_m=radius_m, recent_factor=recent_factor)
    point = start_point or default_start(area)
    check_lon_lat(*point, field="start_point")
    if avoid_recent_days is not None and not (0 <= avoid_recent_days <= 365):
        raise ValidationError(
            f"avoid_recent_days must be between 0 and 365; got {avoid_recent_days!r}",
            field="avoid_recent_days",
            value=avoid_recent_days,
        )
    if reference_data_dir is None and area is not None:
        reference_data_dir = area.reference_data_dir
    result = hotspots(
        session=session,
        layer=layer,
        cell_m=cell_m,
        start=start,
        end=end,
        kinds=kinds,
        weighting=weighting,
        reference_data_dir=reference_data_dir,
    )
    visits_xy: FloatArray | None = None
    visits_r: FloatArray | None = None
    if avoid_recent_days:
        moment = as_utc(now, "now") or dt.datetime.now(dt.UTC)
        visits_xy, visits_r = recent_patrols_utm(
            session=session, since=moment - dt.timedelta(days=avoid_recent_days)
        )
    return plan_from_hotspots(
        result,
        k=k,
        radius_m=radius_m,
        start=point,
        weight_mode=weight_mode,
        min_confidence=min_confidence,
        return_to_start=return_to_start,
        recent_visits_xy=visits_xy,
        recent_visits_radius_m=visits_r,
        recent_factor=recent_factor,
    )


def log_patrol(
    *,
    session: Session,
    lon: float,
    lat: float,
    patrolled_at: dt.datetime,
    ended_at: dt.datetime | None = None,
    team: str | None = None,
    radius_m: float = 1000.0,
    note: str | None = None,
    principal: Principal | None = None,
    client: str | None = None,
) -> PatrolLog:
    """Record where and when a patrol went (and an audit row for the write)."""
    check_lon_lat(lon, lat, field="geometry")
    at = as_utc(patrolled_at, "patrolled_at")
    if at is None:
        raise ValidationError("patrolled_at is required", field="patrolled_at")
    until = as_utc(ended_at, "ended_at")
    if until is not None and until < at:
        raise ValidationError(
            f"ended_at ({until.isoformat()}) is before patrolled_at ({at.isoformat()})",
            field="ended_at",
            value=until.isoformat(),
        )
    if not (math.isfinite(radius_m) and 0 < radius_m <= MAX_RADIUS_M):
        raise ValidationError(
            f"radius_m must be in (0, {MAX_RADIUS_M:g}]; got {radius_m!r}",
            field="radius_m",
            value=radius_m,
        )
    if team is not None and len(team) > 100:
        raise ValidationError("team must be at most 100 characters", field="team", value=team)
    entry = PatrolLog(
        patrolled_at=at,
        ended_at=until,
        team=team,
        radius_m=radius_m,
        note=note,
        created_by=principal.name if principal else None,
        geom=func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID),
    )
    session.add(entry)
    session.flush()
    audit.record(
        session=session,
        principal=principal,
        action="create",
        resource=f"patrol_log/{entry.id}",
        record_count=1,
        client=client,
    )
    session.refresh(entry)
    return entry


def list_patrols(
    *,
    session: Session,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[PatrolLog, float, float]]:
    """Patrol log entries with their lon, lat, newest first (then by id)."""
    if not 1 <= limit <= 10_000:
        raise ValidationError(f"limit must be 1..10000; got {limit!r}", field="limit", value=limit)
    if offset < 0:
        raise ValidationError(f"offset must be >= 0; got {offset!r}", field="offset", value=offset)
    since, until = as_utc(start, "start"), as_utc(end, "end")
    if since is not None and until is not None and since > until:
        raise ValidationError(
            f"start ({since.isoformat()}) is after end ({until.isoformat()})",
            field="start",
            value=since.isoformat(),
        )
    query = select(PatrolLog, func.ST_X(PatrolLog.geom), func.ST_Y(PatrolLog.geom))
    if since is not None:
        query = query.where(PatrolLog.patrolled_at >= since)
    if until is not None:
        query = query.where(PatrolLog.patrolled_at <= until)
    query = query.order_by(PatrolLog.patrolled_at.desc(), PatrolLog.id.desc())
    rows = session.execute(query.limit(int(limit)).offset(int(offset))).all()
    return [(row[0], float(row[1]), float(row[2])) for row in rows]


def get_patrol(*, session: Session, patrol_id: int) -> tuple[PatrolLog, float, float]:
    row = session.execute(
        select(PatrolLog, func.ST_X(PatrolLog.geom), func.ST_Y(PatrolLog.geom)).where(
            PatrolLog.id == patrol_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no patrol log entry {patrol_id}")
    return row[0], float(row[1]), float(row[2])


def patrol_feature(entry: PatrolLog, lon: float, lat: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": entry.id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "id": entry.id,
            "patrolled_at": entry.patrolled_at.isoformat(),
            "ended_at": entry.ended_at.isoformat() if entry.ended_at else None,
            "team": entry.team,
            "radius_m": entry.radius_m,
            "note": entry.note,
            "created_by": entry.created_by,
        },
    }
