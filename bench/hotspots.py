"""Benchmark: Gi* vs ``esda.G_Local`` (no permutations), emerging-hotspot classification, KDE error.

Targets: Gi* on 10,000 cells >= 50x faster than esda.G_Local(permutations=0);
100,000 cells under 0.1 s; emerging-hotspot classification of 10,000 cells x 52 weeks under 1 s.
Pure numpy/scipy on synthetic hex grids (no database needed):

    .venv/bin/python bench/hotspots.py [--repeat 5] [--quick]

Ours is timed as ``gi_star`` on prebuilt weights (what esda is given too); building the weights
(``hex_weights``) is reported on its own line, and so is the whole per-call path.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402

from bench.common import Row, machine, report, run_times  # noqa: E402
from geo.hotspots.stats import (  # noqa: E402
    confidence_bins,
    emerging_hotspots,
    gi_star,
    hex_weights,
)
from geo.hotspots.surfaces import kde_error, kde_surface  # noqa: E402


def grid(n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    side = int(np.ceil(np.sqrt(n_cells)))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    return ii.ravel()[:n_cells], jj.ravel()[:n_cells]


def counts(n_cells: int, seed: int = 0, slices: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n_cells,) if slices is None else (n_cells, slices)
    values = rng.poisson(0.4, shape).astype(float)
    hot = rng.choice(n_cells, max(1, n_cells // 200), replace=False)
    values[hot] += 6  # some planted hot cells, so the data are not pure noise
    return values


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls after one warm-up call."""
    return statistics.median(run_times(fn, repeat, warmup=True))


def esda_weights(w: sparse.csr_array):  # type: ignore[no-untyped-def]
    from libpysal.weights import WSP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WSP(sparse.csr_matrix(w)).to_W(silence_warnings=True)


def esda_gi(values: np.ndarray, w_pysal) -> object:  # type: ignore[no-untyped-def]
    import esda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(values, w_pysal, transform="B", star=True, permutations=0)


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    args = parser.parse_args()
    small, large, weeks = (2_000, 10_000, 12) if args.quick else (10_000, 100_000, 52)
    # The targets are stated for the full sizes; a quick run only checks that everything works.
    judged = not args.quick

    def met(ok: bool) -> bool | None:
        return ok if judged else None

    machine_text = machine()
    print(f"machine: {machine_text}")
    rows: list[Row] = []

    # Gi* vs esda on `small` cells
    i, j = grid(small)
    w = hex_weights(i, j)
    x = counts(small)
    ours = timed(lambda: gi_star(x, w), args.repeat)
    w_pysal = esda_weights(w)
    baseline = timed(lambda: esda_gi(x, w_pysal), max(1, args.repeat // 2))
    z_diff = float(np.max(np.abs(gi_star(x, w).z - esda_gi(x, w_pysal).Zs)))  # type: ignore[attr-defined]
    ratio = baseline / ours
    rows.append(
        Row("Gi* vs esda.G_Local (permutations=0)", ours * 1e3, baseline * 1e3, ratio, ">= 50x",
            met(ratio >= 50), "ms", f"{small:,} cells")
    )  # fmt: skip
    with_weights = timed(lambda: gi_star(x, hex_weights(i, j)), args.repeat)
    rows.append(
        Row("Gi* incl. building hex_weights vs esda", with_weights * 1e3, baseline * 1e3,
            baseline / with_weights, unit="ms", note=f"{small:,} cells")
    )  # fmt: skip

    # Gi* on `large` cells
    i2, j2 = grid(large)
    w2 = hex_weights(i2, j2)
    x2 = counts(large, seed=1)
    big = timed(lambda: gi_star(x2, w2), args.repeat)
    rows.append(
        Row("Gi*, large grid", big * 1e3, target="< 100 ms", met=met(big < 0.1), unit="ms",
            note=f"{large:,} cells")
    )  # fmt: skip
    big_full = timed(lambda: confidence_bins(*vars(gi_star(x2, hex_weights(i2, j2))).values()),
                     args.repeat)  # fmt: skip
    rows.append(
        Row("Gi* + weights + FDR bins, large grid", big_full * 1e3, unit="ms",
            note=f"{large:,} cells")
    )  # fmt: skip

    # Emerging hot spots: `small` cells x `weeks`
    series = counts(small, seed=2, slices=weeks)

    def emerging() -> object:
        g = gi_star(series, w)
        return emerging_hotspots(g.z, confidence_bins(g.z, g.p))

    em = timed(emerging, args.repeat)
    rows.append(
        Row("emerging-hotspot classification", em * 1e3, target="< 1000 ms", met=met(em < 1),
            unit="ms", note=f"{small:,} cells x {weeks} weeks")
    )  # fmt: skip
    rows.append(
        Row("max |z ours - z esda|", z_diff, target="<= 1e-9", met=z_diff <= 1e-9,
            note=f"{small:,} cells")
    )  # fmt: skip
    report(rows, title=f"hotspots: medians of {args.repeat} runs", machine_text=machine_text)
    print(f"max |z_ours - z_esda| = {z_diff:.2e} (medians of {args.repeat} runs)")

    # KDE: binned + Gaussian filter vs the exact KDE, for three cell sizes
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 40_000, (6, 2))
    pts = np.vstack(
        [rng.normal(c, 900, (300, 2)) for c in centres] + [rng.uniform(0, 40_000, (400, 2))]
    )
    print("KDE (h = 1000 m, 2,200 points): error of the binned surface vs the exact KDE")
    for divisor in (1, 2, 4, 8):
        cell = 1000.0 / divisor
        g = kde_surface(pts[:, 0], pts[:, 1], bandwidth_m=1000.0, cell_m=cell)
        err = kde_error(g, pts[:, 0], pts[:, 1])
        t = timed(partial(kde_surface, pts[:, 0], pts[:, 1], bandwidth_m=1000.0, cell_m=cell), 3)
        print(
            f"  cell h/{divisor} = {cell:6.1f} m: max {err.max_rel_to_peak:.3%} of peak, "
            f"rms {err.rms_rel_to_peak:.3%}, grid {g.density.shape}, {fmt(t)}"
        )


if __name__ == "__main__":
    main()
