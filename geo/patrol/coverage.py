"""Where to patrol: greedy weighted maximum coverage of targets by up to ``k`` points (pure).

Coverage is monotone submodular, so the greedy choice covers at least (1 − 1/e) ≈ 63 % of the best
possible ``k``-point coverage (Nemhauser, Wolsey & Fisher 1978).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.spatial import cKDTree

from geo.deadline import check_deadline
from geo.patrol.coordinates import FloatArray

GUARANTEE: Final = (
    "greedy maximum coverage: at least 1 - 1/e (63.2 %) of the optimal k-point coverage"
)


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
        check_deadline("choosing patrol points")
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
