"""A patrol plan from a hotspot result (pure): cell weights, the recency discount, the chosen
points in visiting order, their coverage, and the plan as GeoJSON.

Cells within the radius of a patrol logged in the last ``avoid_recent_days`` days count
``recent_factor`` times their weight, so plans rotate (docs/hotspots.md, "Patrol planning").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from scipy.spatial import cKDTree

from geo.errors import ValidationError
from geo.hotspots.analysis import HotspotResult
from geo.patrol.coordinates import FloatArray, check_lon_lat, to_lonlat, to_utm
from geo.patrol.coverage import GUARANTEE, coverage_matrix, greedy_max_coverage
from geo.patrol.route import order_route, route_length
from geo.registry.caps import PATROL_K, PATROL_RADIUS_M, RECENT_FACTOR

# What "patrolled" means, one default for planning and logging: a plan's stop covers the cells
# whose centres lie within DEFAULT_RADIUS_M, and a patrol logged there discounts that same area in
# the plans of the next DEFAULT_AVOID_RECENT_DAYS days (its cells weigh DEFAULT_RECENT_FACTOR
# times as much). The allowed ranges are the caps of geo.registry.caps.
DEFAULT_RADIUS_M: Final = 2000.0
DEFAULT_AVOID_RECENT_DAYS: Final = 7
DEFAULT_RECENT_FACTOR: Final = 0.5
DEFAULT_K: Final = 4
MAX_PATROL_POINTS: Final = int(PATROL_K.high)
MIN_RADIUS_M: Final = PATROL_RADIUS_M.low
MAX_RADIUS_M: Final = PATROL_RADIUS_M.high
WeightMode = Literal["hot", "count"]
WEIGHT_MODES: Final = ("hot", "count")


@dataclass(frozen=True)
class PatrolPoint:
    """A stop: the hotspot weight it newly covers, and its demand, that weight after the
    discount of recent patrols (equal to it where no patrol was logged lately)."""

    order: int
    lon: float
    lat: float
    x_utm: float
    y_utm: float
    covered_weight: float
    cells_covered: list[str]
    demand: float
    recently_patrolled_cells: int


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
    covered_demand: float = 0.0  # the covered weight after the discount of recent patrols
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
    recent_factor: float = DEFAULT_RECENT_FACTOR,
) -> PatrolPlan:
    """A patrol plan from a hotspot result (pure): see the module docstring."""
    check_plan_parameters(k=k, radius_m=radius_m, recent_factor=recent_factor)
    check_lon_lat(*start, field="start")
    cells = result.cells
    xy = np.column_stack([cells["x_utm"].to_numpy(float), cells["y_utm"].to_numpy(float)])
    weight = hotspot_weights(result, weight_mode=weight_mode, min_confidence=min_confidence)
    target = weight > 0
    mult = np.ones(len(xy))
    if recent_visits_xy is not None and len(recent_visits_xy):
        radii = (
            recent_visits_radius_m
            if recent_visits_radius_m is not None
            else np.full(len(recent_visits_xy), radius_m)
        )
        mult = recency_multiplier(xy, recent_visits_xy, radii, recent_factor=recent_factor)
    recent_cells = int(((mult < 1) & target).sum())
    objective = weight * mult
    cover = greedy_max_coverage(xy, xy[target], objective[target], k=k, radius_m=radius_m)
    start_xy = to_utm(*start)
    chosen_xy = xy[cover.chosen] if cover.chosen else np.zeros((0, 2))
    order = order_route(start_xy, chosen_xy, return_to_start=return_to_start)
    c = coverage_matrix(chosen_xy, xy[target], radius_m)
    target_ids = cells["cell_id"].to_numpy()[target]
    points: list[PatrolPoint] = []
    taken = np.zeros(int(target.sum()), dtype=bool)
    target_weight, target_demand, target_mult = weight[target], objective[target], mult[target]
    covered_weight = covered_demand = 0.0
    for position, idx in enumerate(order, start=1):
        hit = c[[idx], :].indices
        new = hit[~taken[hit]]
        taken[new] = True
        gain = float(target_weight[new].sum())
        demand = float(target_demand[new].sum())
        covered_weight += gain
        covered_demand += demand
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
                demand=demand,
                recently_patrolled_cells=int((target_mult[new] < 1).sum()),
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
        covered_demand=covered_demand,
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


def check_plan_parameters(
    *, k: int, radius_m: float, recent_factor: float = DEFAULT_RECENT_FACTOR
) -> None:
    """The plan's work-scaling parameters within their caps (geo.registry.caps)."""
    PATROL_K.integer(k)
    PATROL_RADIUS_M.number(radius_m)
    RECENT_FACTOR.number(recent_factor)


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
                    "demand": p.demand,
                    "recently_patrolled_cells": p.recently_patrolled_cells,
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
        "covered_demand": plan.covered_demand,
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
