"""Alternative hotspot views: a kernel density surface and DBSCAN clusters (pure, metric CRS).

Both take coordinates in metres (EPSG:32649, the ``geom_utm`` columns); neither reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from shapely import MultiPoint, Polygon
from sklearn.cluster import DBSCAN

from geo.errors import ValidationError
from geo.registry.caps import (
    BANDWIDTH_M,
    EPS_M,
    MAX_KDE_NODES,
    MIN_SAMPLES,
)

FloatArray = npt.NDArray[np.float64]

# gaussian_filter's default: the kernel is cut at 4 standard deviations (mass lost < 1e-4).
_TRUNCATE = 4.0


@dataclass(frozen=True)
class KdeGrid:
    """A density surface on a regular grid of nodes (metres, EPSG:32649).

    ``density[r, c]`` is the density at node ``(x0 + c * cell_m, y0 + r * cell_m)`` in points (or
    weight units) per km²; row 0 is the southernmost row.
    """

    density: FloatArray
    x0: float
    y0: float
    cell_m: float
    bandwidth_m: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the node centres."""
        rows, cols = self.density.shape
        return (
            self.x0,
            self.y0,
            self.x0 + (cols - 1) * self.cell_m,
            self.y0 + (rows - 1) * self.cell_m,
        )

    def nodes(self) -> tuple[FloatArray, FloatArray]:
        rows, cols = self.density.shape
        xs = self.x0 + self.cell_m * np.arange(cols)
        ys = self.y0 + self.cell_m * np.arange(rows)
        gx, gy = np.meshgrid(xs, ys)
        return gx, gy


def check_kde_parameters(bandwidth_m: float, cell_m: float) -> None:
    """The bandwidth within its cap, and a grid cell no larger than the bandwidth."""
    BANDWIDTH_M.number(bandwidth_m)
    if not (np.isfinite(cell_m) and 0 < cell_m <= bandwidth_m):
        raise ValidationError(
            f"cell_m must be positive and at most bandwidth_m ({bandwidth_m} m); got {cell_m!r}",
            field="cell_m",
            value=cell_m,
        )


def kde_surface(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    bandwidth_m: float,
    cell_m: float,
    bounds: tuple[float, float, float, float] | None = None,
    weights: npt.ArrayLike | None = None,
) -> KdeGrid:
    """Gaussian kernel density by linear binning and ``scipy.ndimage.gaussian_filter``.

    Parameters
    ----------
    x, y
        Point coordinates in metres.
    bandwidth_m
        Standard deviation ``h`` of the isotropic Gaussian kernel.
    cell_m
        Node spacing ``δ`` (≤ ``h``). The error against the exact KDE shrinks as ``(δ/h)²``;
        ``δ = h/4`` keeps it below 1 % of the peak (see :func:`kde_error`, docs/hotspots.md).
    bounds
        (minx, miny, maxx, maxy) to cover; default the points' extent plus ``4 h``.
    weights
        Optional weight per point (e.g. severity).

    Returns
    -------
    KdeGrid
        Density in weight units per km².
    """
    check_kde_parameters(bandwidth_m, cell_m)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    wts = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=np.float64)
    if bounds is None:
        if xs.size == 0:
            raise ValidationError("no points and no bounds for the density surface", field="x")
        pad = _TRUNCATE * bandwidth_m
        bounds = (xs.min() - pad, ys.min() - pad, xs.max() + pad, ys.max() + pad)
    minx, miny, maxx, maxy = bounds
    cols = int(np.floor((maxx - minx) / cell_m)) + 1
    rows = int(np.floor((maxy - miny) / cell_m)) + 1
    if rows * cols > MAX_KDE_NODES:
        raise ValidationError(
            f"the density grid would have {rows * cols:,} nodes (max {MAX_KDE_NODES:,}); "
            f"use a larger cell_m than {cell_m}",
            field="cell_m",
            value=cell_m,
        )
    counts = np.zeros(rows * cols, dtype=np.float64)
    # Linear binning: each point is shared among its four surrounding nodes by bilinear weights.
    fx = (xs - minx) / cell_m
    fy = (ys - miny) / cell_m
    inside = (fx >= 0) & (fy >= 0) & (fx <= cols - 1) & (fy <= rows - 1)
    fx, fy, wts = fx[inside], fy[inside], wts[inside]
    c0 = np.minimum(np.floor(fx).astype(np.int64), max(cols - 2, 0))
    r0 = np.minimum(np.floor(fy).astype(np.int64), max(rows - 2, 0))
    tx = fx - c0
    ty = fy - r0
    for dr, dc, share in (
        (0, 0, (1 - tx) * (1 - ty)),
        (0, 1, tx * (1 - ty)),
        (1, 0, (1 - tx) * ty),
        (1, 1, tx * ty),
    ):
        rr = np.minimum(r0 + dr, rows - 1)
        cc = np.minimum(c0 + dc, cols - 1)
        counts += np.bincount(rr * cols + cc, weights=wts * share, minlength=rows * cols)
    grid = counts.reshape(rows, cols)
    smoothed = ndimage.gaussian_filter(
        grid, sigma=bandwidth_m / cell_m, mode="constant", truncate=_TRUNCATE
    )
    per_km2 = smoothed / (cell_m * cell_m) * 1e6
    return KdeGrid(
        density=per_km2, x0=float(minx), y0=float(miny), cell_m=cell_m, bandwidth_m=bandwidth_m
    )


def exact_kde(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    at_x: npt.ArrayLike,
    at_y: npt.ArrayLike,
    *,
    bandwidth_m: float,
    weights: npt.ArrayLike | None = None,
    chunk: int = 4096,
) -> FloatArray:
    """The exact Gaussian KDE (points or weight units per km²) at the given locations."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    wts = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=np.float64)
    ax = np.asarray(at_x, dtype=np.float64)
    ay = np.asarray(at_y, dtype=np.float64)
    shape = ax.shape
    ax, ay = ax.ravel(), ay.ravel()
    out = np.zeros(ax.size)
    norm = 1.0 / (2.0 * np.pi * bandwidth_m * bandwidth_m) * 1e6
    for lo in range(0, ax.size, chunk):
        dx = ax[lo : lo + chunk, None] - xs[None, :]
        dy = ay[lo : lo + chunk, None] - ys[None, :]
        out[lo : lo + chunk] = np.exp(-(dx * dx + dy * dy) / (2 * bandwidth_m**2)) @ wts
    return (out * norm).reshape(shape)


@dataclass(frozen=True)
class KdeError:
    """Error of the binned surface against the exact KDE at the grid nodes."""

    max_abs_per_km2: float
    max_rel_to_peak: float
    rms_rel_to_peak: float


def kde_error(grid: KdeGrid, x: npt.ArrayLike, y: npt.ArrayLike) -> KdeError:
    """Compare a :func:`kde_surface` result with :func:`exact_kde` on the same nodes."""
    gx, gy = grid.nodes()
    exact = exact_kde(x, y, gx, gy, bandwidth_m=grid.bandwidth_m)
    diff = np.abs(grid.density - exact)
    peak = float(exact.max()) if exact.size else 0.0
    if peak == 0:
        return KdeError(0.0, 0.0, 0.0)
    return KdeError(
        max_abs_per_km2=float(diff.max()),
        max_rel_to_peak=float(diff.max() / peak),
        rms_rel_to_peak=float(np.sqrt(np.mean(diff * diff)) / peak),
    )


@dataclass(frozen=True)
class Cluster:
    """One DBSCAN cluster: its label, size, centre and hull (metres, EPSG:32649)."""

    label: int
    size: int
    x: float
    y: float
    hull: Polygon


def check_dbscan_parameters(eps_m: float, min_samples: int) -> None:
    """The neighbourhood radius and the core-point count within their caps."""
    EPS_M.number(eps_m)
    MIN_SAMPLES.integer(min_samples)


def dbscan_clusters(
    x: npt.ArrayLike, y: npt.ArrayLike, *, eps_m: float, min_samples: int
) -> tuple[npt.NDArray[np.int64], list[Cluster]]:
    """DBSCAN (scikit-learn) on metric coordinates.

    Returns the label of every point (−1 = noise) and the clusters, largest first. A hull is
    the convex hull of the cluster's points buffered by ``eps_m / 2`` (so a cluster of collinear
    or coincident points still has an area).
    """
    check_dbscan_parameters(eps_m, min_samples)
    xy = np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])

    if xy.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), []
    labels = DBSCAN(eps=eps_m, min_samples=min_samples).fit_predict(xy).astype(np.int64)
    clusters = []
    for label in np.unique(labels[labels >= 0]):
        pts = xy[labels == label]
        hull = MultiPoint(pts).convex_hull.buffer(eps_m / 2)
        centre = pts.mean(axis=0)
        clusters.append(
            Cluster(
                label=int(label),
                size=int(pts.shape[0]),
                x=float(centre[0]),
                y=float(centre[1]),
                hull=hull,
            )
        )
    clusters.sort(key=lambda c: (-c.size, c.label))
    return labels, clusters
