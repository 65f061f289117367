"""Hot spot statistics on a hexagonal grid: weights, Getis-Ord Gi*, FDR, emerging-hotspot trends.

Everything here is pure and vectorised (numpy + scipy.sparse): arrays in, arrays out, no I/O.

Conventions
-----------
- Cells come from PostGIS ``ST_HexagonGrid(size, ...)`` in EPSG:32649. A cell ``(i, j)`` has its
  centre at ``x = 1.5 * size * i``, ``y = sqrt(3) * size * (j + (i mod 2) / 2)`` (flat-topped
  hexagons, odd columns shifted up half a cell). In axial coordinates ``q = i``,
  ``r = j - floor(i / 2)``, the six neighbours are ``(q±1, r)``, ``(q, r±1)``, ``(q+1, r-1)``,
  ``(q-1, r+1)``.
- Weights are binary contiguity **including the cell itself** (the six neighbours plus self, fewer
  at the edge of the study area): the Gi* of ArcGIS and of ``esda.G_Local(..., star=True)`` with
  ``transform="B"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Confidence levels of ArcGIS's Gi_Bin: ±3 = 99 %, ±2 = 95 %, ±1 = 90 %.
CONFIDENCE_ALPHAS: Final = ((3, 0.01), (2, 0.05), (1, 0.10))
CONFIDENCE_LABELS: Final = {
    3: "hot_99",
    2: "hot_95",
    1: "hot_90",
    0: "not_significant",
    -1: "cold_90",
    -2: "cold_95",
    -3: "cold_99",
}

# ArcGIS Emerging Hot Spot Analysis categories (hot and cold), and "no pattern".
PATTERNS: Final = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
NO_PATTERN: Final = "no_pattern"
TREND_CATEGORIES: Final = (
    *(f"{p}_hot" for p in PATTERNS),
    *(f"{p}_cold" for p in PATTERNS),
    NO_PATTERN,
)

_AXIAL_NEIGHBOURS: Final = np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)], dtype=np.int64
)


# --- weights ---------------------------------------------------------------------------------


def hex_axial(i: npt.ArrayLike, j: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Axial coordinates ``(q, r)`` of ``ST_HexagonGrid`` cells ``(i, j)``."""
    q = np.asarray(i, dtype=np.int64)
    r = np.asarray(j, dtype=np.int64) - np.floor_divide(q, 2)
    return q, r


def hex_centres(i: npt.ArrayLike, j: npt.ArrayLike, size_m: float) -> tuple[FloatArray, FloatArray]:
    """Cell centres in the grid's CRS, as ``ST_HexagonGrid`` lays them out."""
    ii = np.asarray(i, dtype=np.int64)
    jj = np.asarray(j, dtype=np.int64)
    x = 1.5 * size_m * ii.astype(np.float64)
    y = np.sqrt(3.0) * size_m * (jj + np.mod(ii, 2) / 2.0)
    return x, y


def hex_weights(
    i: npt.ArrayLike, j: npt.ArrayLike, *, self_weight: bool = True
) -> sparse.csr_array:
    """Binary contiguity weights of hexagonal cells, as an ``n × n`` CSR matrix.

    Parameters
    ----------
    i, j
        ``ST_HexagonGrid`` column and row indices of the ``n`` cells (any order, unique pairs).
    self_weight
        Put 1 on the diagonal (Gi*). ``False`` gives the plain six-neighbour weights (Gi).

    Returns
    -------
    scipy.sparse.csr_array
        ``w[a, b] = 1`` when cells ``a`` and ``b`` share an edge (or ``a == b`` with
        ``self_weight``); cells outside the given set are simply absent (edge cells have fewer
        neighbours).
    """
    q, r = hex_axial(i, j)
    n = q.size
    if n == 0:
        return sparse.csr_array((0, 0), dtype=np.float64)
    # Pack (q, r) into one int64 key; offsets keep both halves non-negative.
    q0, r0 = q.min() - 1, r.min() - 1
    span = int(r.max() - r0) + 2
    keys = (q - q0) * span + (r - r0)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if np.any(sorted_keys[1:] == sorted_keys[:-1]):
        raise ValueError("hex_weights: duplicate (i, j) cells")
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    for dq, dr in _AXIAL_NEIGHBOURS:
        nkeys = (q + dq - q0) * span + (r + dr - r0)
        pos = np.searchsorted(sorted_keys, nkeys)
        pos = np.minimum(pos, n - 1)
        hit = sorted_keys[pos] == nkeys
        rows.append(np.flatnonzero(hit))
        cols.append(order[pos[hit]])
    if self_weight:
        rows.append(np.arange(n, dtype=np.int64))
        cols.append(np.arange(n, dtype=np.int64))
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    data = np.ones(row.size, dtype=np.float64)
    w = sparse.csr_array((data, (row, col)), shape=(n, n))
    w.sort_indices()
    return w


# --- Getis-Ord Gi* ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GiStar:
    """Gi* z-scores and their analytical two-sided p-values (normal approximation)."""

    z: FloatArray
    p: FloatArray


def gi_star(values: npt.ArrayLike, weights: sparse.csr_array | sparse.csr_matrix) -> GiStar:
    """Getis-Ord Gi* for one variable or for many at once (columns).

    Parameters
    ----------
    values
        ``(n,)`` values per cell, or ``(n, t)`` for ``t`` variables (e.g. time slices), each
        analysed on its own.
    weights
        ``(n, n)`` spatial weights that already include the self-weight (see
        :func:`hex_weights`).

    Returns
    -------
    GiStar
        ``z`` with the shape of ``values``;
        ``z_i = (Σ_j w_ij x_j − x̄ W_i) / (s √((n S1_i − W_i²) / (n − 1)))``
        with ``W_i = Σ_j w_ij``, ``S1_i = Σ_j w_ij²``, ``x̄`` and ``s`` the mean and population
        standard deviation of all ``n`` values (Getis & Ord 1995, as in ArcGIS and
        ``esda.G_Local(star=True)``). ``p`` is two-sided. A constant variable has no hot spots:
        z = 0, p = 1.
    """
    x = np.asarray(values, dtype=np.float64)
    one_dim = x.ndim == 1
    if one_dim:
        x = x[:, None]
    n = x.shape[0]
    w = sparse.csr_array(weights)
    if w.shape != (n, n):
        raise ValueError(f"weights are {w.shape}, values have {n} rows")
    if n < 2:
        z = np.zeros_like(x)
        p = np.ones_like(x)
        return GiStar(z=z[:, 0] if one_dim else z, p=p[:, 0] if one_dim else p)
    w_sum = np.asarray(w.sum(axis=1)).ravel()
    s1 = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    mean = x.mean(axis=0)
    sd = np.sqrt(np.maximum((x * x).mean(axis=0) - mean * mean, 0.0))
    lag = w @ x
    numerator = lag - np.outer(w_sum, mean)
    spread = np.sqrt(np.maximum(n * s1 - w_sum * w_sum, 0.0) / (n - 1))
    denominator = np.outer(spread, sd)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(denominator > 0, numerator / denominator, 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    if one_dim:
        return GiStar(z=z[:, 0], p=p[:, 0])
    return GiStar(z=z, p=p)


def fdr_bh(p_values: npt.ArrayLike) -> FloatArray:
    """Benjamini–Hochberg adjusted p-values (q-values), per column for a 2-D array.

    A cell is significant at level α after FDR correction when its adjusted p-value is ≤ α;
    this equals BH's step-up rule applied at α (the largest ``k`` with ``p_(k) ≤ k α / n``).
    """
    p = np.asarray(p_values, dtype=np.float64)
    one_dim = p.ndim == 1
    if one_dim:
        p = p[:, None]
    n = p.shape[0]
    if n == 0:
        return p[:, 0] if one_dim else p
    order = np.argsort(p, axis=0, kind="stable")
    ranked = np.take_along_axis(p, order, axis=0)
    scale = n / np.arange(1, n + 1, dtype=np.float64)[:, None]
    adjusted = ranked * scale
    # Step-up: q_(k) = min_{m >= k} p_(m) n / m.
    adjusted = np.minimum.accumulate(adjusted[::-1], axis=0)[::-1]
    adjusted = np.minimum(adjusted, 1.0)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=0)
    return out[:, 0] if one_dim else out


def confidence_bins(
    z: npt.ArrayLike, p_values: npt.ArrayLike, *, fdr: bool = True
) -> npt.NDArray[np.int8]:
    """ArcGIS's Gi_Bin: ±3/±2/±1 for hot/cold at 99/95/90 % confidence, 0 otherwise.

    With ``fdr`` the p-values are first adjusted by Benjamini–Hochberg (per column).
    """
    zz = np.asarray(z, dtype=np.float64)
    p = fdr_bh(p_values) if fdr else np.asarray(p_values, dtype=np.float64)
    level = np.zeros(zz.shape, dtype=np.int8)
    for value, alpha in reversed(CONFIDENCE_ALPHAS):  # 90 %, then 95 %, then 99 % overwrite
        level[p <= alpha] = value
    return (level * np.sign(zz)).astype(np.int8)


def confidence_labels(bins: npt.ArrayLike) -> list[str]:
    return [CONFIDENCE_LABELS[int(b)] for b in np.asarray(bins).ravel()]


# --- trends ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall trend test per row: S, z (continuity-corrected, ties-corrected), two-sided p."""

    s: FloatArray
    z: FloatArray
    p: FloatArray


def mann_kendall(series: npt.ArrayLike) -> MannKendall:
    """Mann–Kendall monotonic trend test of each row of an ``(n, t)`` array (time along axis 1).

    ``S = Σ_{a<b} sign(x_b − x_a)``; ``Var S = [t(t−1)(2t+5) − Σ_g g(g−1)(2g+5)] / 18`` over tie
    groups ``g`` of each row; ``z = (S − sign S) / √Var S``.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    n, t = x.shape
    if t < 3:
        zeros = np.zeros(n)
        return MannKendall(s=zeros, z=zeros.copy(), p=np.ones(n))
    s = np.zeros(n)
    for lag in range(1, t):
        s += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    # Tie correction, vectorised: run lengths of equal values in each sorted row.
    srt = np.sort(x, axis=1)
    new_run = np.ones((n, t), dtype=bool)
    new_run[:, 1:] = srt[:, 1:] != srt[:, :-1]
    starts = np.flatnonzero(new_run.ravel())
    lengths = np.diff(np.append(starts, n * t)).astype(np.float64)
    run_rows = starts // t
    ties = np.bincount(run_rows, weights=lengths * (lengths - 1) * (2 * lengths + 5), minlength=n)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    return MannKendall(s=s, z=z, p=p)


@dataclass(frozen=True)
class EmergingHotspots:
    """Per cell: ArcGIS Emerging Hot Spot category, Mann–Kendall z and p of its Gi* z series."""

    category: npt.NDArray[np.str_]
    trend_z: FloatArray
    trend_p: FloatArray


def emerging_hotspots(
    z_series: npt.ArrayLike,
    bins: npt.ArrayLike,
    *,
    trend_alpha: float = 0.05,
    persistence: float = 0.9,
) -> EmergingHotspots:
    """Classify each cell's history of Gi* results into ArcGIS Emerging Hot Spot categories.

    Parameters
    ----------
    z_series
        ``(n, t)`` Gi* z-scores per cell and time slice, oldest first.
    bins
        ``(n, t)`` confidence bins (:func:`confidence_bins`); a slice is *hot* when its bin is
        > 0 (significant at ≥ 90 % after FDR), *cold* when < 0.
    trend_alpha
        Significance of the Mann–Kendall trend on the z series (intensifying/diminishing).
    persistence
        Share of slices that makes a cell persistent/intensifying/diminishing/historical (ArcGIS
        uses 90 %).

    Returns
    -------
    EmergingHotspots
        Categories ``new_hot``, ``consecutive_hot``, ``intensifying_hot``, ``persistent_hot``,
        ``diminishing_hot``, ``sporadic_hot``, ``oscillating_hot``, ``historical_hot``, the same
        with ``_cold``, or ``no_pattern``; decided in that order (first match wins):

        - new: significant in the final slice and never before;
        - consecutive: an uninterrupted run of ≥ 2 significant slices at the end, never
          significant before the run, and < 90 % of slices significant;
        - intensifying / persistent / diminishing: significant in ≥ 90 % of slices including the
          final one, with a significant upward / no / downward Mann–Kendall trend in the
          intensity (z for hot, −z for cold);
        - sporadic: significant in the final slice, on-and-off before, < 90 %, and never of the
          opposite kind;
        - oscillating: as sporadic but of the opposite kind at least once before;
        - historical: not significant in the final slice but in ≥ 90 % of slices.
    """
    z = np.asarray(z_series, dtype=np.float64)
    b = np.asarray(bins)
    if z.ndim != 2 or z.shape != b.shape:
        raise ValueError(f"z_series {z.shape} and bins {b.shape} must be equal (n, t) arrays")
    n, t = z.shape
    category = np.full(n, NO_PATTERN, dtype=object)
    mk = mann_kendall(z)
    if t == 0:
        return EmergingHotspots(category=category.astype(str), trend_z=mk.z, trend_p=mk.p)
    up = (mk.p < trend_alpha) & (mk.s > 0)
    down = (mk.p < trend_alpha) & (mk.s < 0)
    final_rules: list[tuple[str, BoolArray]] = []
    historical_rules: list[tuple[str, BoolArray]] = []
    for kind, sig, opposite, stronger, weaker in (
        ("hot", b > 0, b < 0, up, down),
        ("cold", b < 0, b > 0, down, up),
    ):
        count = sig.sum(axis=1)
        final = sig[:, -1]
        # Length of the run of significant slices that ends at the final slice.
        not_sig_rev = ~sig[:, ::-1]
        trailing = np.where(not_sig_rev.any(axis=1), np.argmax(not_sig_rev, axis=1), t)
        mostly = count >= persistence * t
        ever_opposite = opposite[:, :-1].any(axis=1)
        final_rules += [
            (f"new_{kind}", final & (count == 1)),
            (f"consecutive_{kind}", final & (trailing >= 2) & (count == trailing) & ~mostly),
            (f"intensifying_{kind}", final & mostly & stronger),
            (f"persistent_{kind}", final & mostly & ~stronger & ~weaker),
            (f"diminishing_{kind}", final & mostly & weaker),
            (f"sporadic_{kind}", final & ~mostly & ~ever_opposite),
            (f"oscillating_{kind}", final & ~mostly & ever_opposite),
        ]
        historical_rules.append((f"historical_{kind}", ~final & mostly))
    # A cell significant in the final slice is classified by that; "historical" comes last.
    free = np.ones(n, dtype=bool)
    for name, mask in final_rules + historical_rules:
        hit = free & mask
        category[hit] = name
        free &= ~hit
    return EmergingHotspots(category=category.astype(str), trend_z=mk.z, trend_p=mk.p)
