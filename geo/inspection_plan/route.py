"""Which workplaces and in which order: an orienteering heuristic (pure).

The problem: from a start point, visit at most ``max_stops`` workplaces and come back within
``max_length_m``, collecting as much risk score as possible (the orienteering problem,
NP-hard). The heuristic (docs/risk.md, "Inspection plan"):

1. **Reachable only.** A workplace whose round trip from the start alone is longer than the
   limit can never be visited; it is left out before anything else.
2. **Greedy insertion, several ways.** Starting from the empty tour (start → start), insert the
   workplace with the best ``score / (added km + 0.1) ** alpha`` at its cheapest place in the
   tour, as long as the tour stays within the limit and the stop count allows; ``alpha`` 0 takes
   the highest score that still fits (right when the stop count binds), 1 and 2 the best score
   per added kilometre (right when the length binds), 0.5 between them.
3. **2-opt, then fill again.** Each tour is shortened by 2-opt (``geo.patrol.route.two_opt``,
   the patrol route's own), and the kilometres it frees are offered to the remaining
   workplaces, until nothing more fits.
4. **Best of the runs**: the most score, then the shorter tour, then the lower ids.

A week is five days of such tours from the same start, each day choosing among the workplaces
no earlier day took. Distances are straight lines in EPSG:32649 (``geo.patrol.route``; there is
no road network), and the return to the start counts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from geo.deadline import check_deadline
from geo.patrol.coordinates import FloatArray
from geo.patrol.route import distance_matrix, two_opt

ALPHAS: Final = (0.0, 0.5, 1.0, 2.0)
_KM_FLOOR: Final = 0.1  # so a workplace next to the tour does not divide by zero


@dataclass(frozen=True)
class Tour:
    """One day's tour: candidate indices in visiting order, its length and collected score."""

    order: list[int]
    length_m: float
    score: float


def _length(route: list[int], dist: FloatArray) -> float:
    return float(sum(dist[a, b] for a, b in itertools.pairwise(route)))


def _fill(
    route: list[int],
    dist: FloatArray,
    score: FloatArray,
    free: set[int],
    *,
    alpha: float,
    max_length_m: float,
    max_stops: int,
) -> list[int]:
    """Insert nodes of ``free`` greedily (see the module docstring) into the closed ``route``."""
    route = list(route)
    length = _length(route, dist)
    while len(route) - 2 < max_stops and free:
        check_deadline("the inspection route")
        cands = np.fromiter(sorted(free), dtype=np.int64)
        r = np.asarray(route, dtype=np.int64)
        a, b = r[:-1], r[1:]
        added = dist[np.ix_(cands, a)] + dist[np.ix_(cands, b)] - dist[a, b][None, :]
        where = added.argmin(axis=1)
        cost = added[np.arange(len(cands)), where]
        fits = length + cost <= max_length_m + 1e-6
        if not fits.any():
            break
        value = score[cands] / np.power(np.maximum(cost, 0.0) / 1000.0 + _KM_FLOOR, alpha)
        value = np.where(fits, value, -np.inf)
        # Best value; ties: the cheaper insertion, then the lower index (lexsort: last key first).
        pick = int(np.lexsort((cands, cost, -value))[0])
        node = int(cands[pick])
        route.insert(int(where[pick]) + 1, node)
        length += float(cost[pick])
        free.discard(node)
    return route


def best_tour(
    dist: FloatArray,
    score: FloatArray,
    candidates: list[int],
    *,
    max_length_m: float,
    max_stops: int,
) -> list[int]:
    """Node indices (into ``dist``; node 0 is the start) of the best tour found, in order."""
    reachable = [c for c in candidates if 2 * dist[0, c] <= max_length_m + 1e-6]
    best: tuple[float, float, list[int]] | None = None
    best_route: list[int] = []
    for alpha in ALPHAS:
        free = set(reachable)
        route = [0, 0]
        while True:
            grown = _fill(
                route,
                dist,
                score,
                free,
                alpha=alpha,
                max_length_m=max_length_m,
                max_stops=max_stops,
            )
            if len(grown) > 3:
                grown = two_opt(grown, dist, closed=True, step="the inspection route")
            if grown == route:
                break
            route = grown
        # The most score, then the shorter tour, then the lower ids.
        key = (-float(score[route[1:-1]].sum()), round(_length(route, dist), 3), sorted(route))
        if best is None or key < best:
            best, best_route = key, route[1:-1]
    return best_route


def plan_tours(
    start_xy: tuple[float, float],
    points_xy: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    max_length_m: float,
    max_stops: int,
    days: int = 1,
) -> list[Tour]:
    """``days`` tours from ``start_xy`` through ``points_xy`` (EPSG:32649 metres), each within
    ``max_length_m`` (the return included) and ``max_stops``, no point twice; indices into
    ``points_xy``. Points of score 0 or less are never visited."""
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    value = np.concatenate([[0.0], np.asarray(scores, dtype=np.float64).reshape(-1)])
    if len(value) != len(pts) + 1:
        raise ValueError("one score per point")
    dist = distance_matrix(np.vstack([np.asarray(start_xy, dtype=np.float64), pts]))
    left = [i + 1 for i in range(len(pts)) if value[i + 1] > 0]
    tours = []
    for _ in range(days):
        nodes = best_tour(dist, value, left, max_length_m=max_length_m, max_stops=max_stops)
        taken = set(nodes)
        left = [c for c in left if c not in taken]
        route = [0, *nodes, 0]
        tours.append(
            Tour(
                order=[n - 1 for n in nodes],
                length_m=_length(route, dist) if nodes else 0.0,
                score=float(value[nodes].sum()) if nodes else 0.0,
            )
        )
    return tours
