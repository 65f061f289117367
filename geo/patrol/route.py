"""In which order: a route through the patrol points, nearest neighbour then 2-opt (pure).

Straight lines in EPSG:32649 metres; there is no road network yet. The inspection plan
(``geo.inspection_plan``) measures and improves its routes with the same functions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geo.deadline import check_deadline
from geo.patrol.coordinates import FloatArray


def route_length(xy: FloatArray) -> float:
    """Length (metres) of a polyline."""
    if len(xy) < 2:
        return 0.0
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def distance_matrix(xy: npt.ArrayLike) -> FloatArray:
    """Straight-line distances (metres) between every pair of points (EPSG:32649 x, y)."""
    nodes = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    dist: FloatArray = np.hypot(*(nodes[:, None, :] - nodes[None, :, :]).transpose(2, 0, 1))
    return dist


def two_opt(route: list[int], dist: FloatArray, *, closed: bool, step: str) -> list[int]:
    """``route`` (node indices into ``dist``, starting at the start node) improved by 2-opt:
    reverse ``route[a..b]`` while that shortens it; the first node stays first and, when
    ``closed`` (the route ends where it began), the last stays last."""
    route = list(route)
    size = len(route)
    last_b = size - 2 if closed else size - 1
    improved = True
    while improved:
        check_deadline(step)
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
    return route


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
    dist = distance_matrix(np.vstack([np.asarray(start_xy, dtype=np.float64), pts]))
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
    route = two_opt(route, dist, closed=return_to_start, step="the patrol route")
    return [v - 1 for v in route if v != 0]
