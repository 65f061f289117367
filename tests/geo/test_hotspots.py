"""Hotspots: hex weights, Gi* (= esda), FDR, Mann–Kendall, emerging categories, KDE, DBSCAN, and
the SQL path on synthetic incidents in Sambas (planted clusters + uniform background)."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse, stats
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.hotspots import (
    analyse,
    confidence_bins,
    dbscan_clusters,
    emerging_hotspots,
    exact_kde,
    fdr_bh,
    gi_star,
    hex_weights,
    hotspot_cells,
    hotspots,
    kde_error,
    kde_surface,
    mann_kendall,
    to_feature_collection,
)
from geo.hotspots.data import CellCounts, make_window
from geo.hotspots.stats import hex_centres
from tests.geo.hotspot_synth import (
    CLUSTER_CENTRES,
    SHARED_DATA,
    T0,
    Synthetic,
    centre_utm,
    cluster_points,
    insert_incidents,
    planted,
    uniform_in_kabupaten,
)

ROOT = Path(__file__).resolve().parents[2]


def lattice(n_cols: int, n_rows: int, drop: float = 0.0, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(i, j) of a block of ST_HexagonGrid cells, optionally with random holes (irregular edges)."""
    ii, jj = np.meshgrid(np.arange(-3, n_cols - 3), np.arange(-2, n_rows - 2), indexing="ij")
    i, j = ii.ravel(), jj.ravel()
    if drop:
        keep = np.random.default_rng(seed).random(i.size) >= drop
        i, j = i[keep], j[keep]
    return i, j


# --- weights ---------------------------------------------------------------------------------


def test_hex_weights_are_the_six_touching_cells_plus_self() -> None:
    i, j = lattice(20, 15, drop=0.1)
    w = hex_weights(i, j)
    x, y = hex_centres(i, j, 1000.0)
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    expected = np.isclose(dist, np.sqrt(3) * 1000.0) | (dist == 0)
    assert (w.toarray() == expected).all()
    assert np.asarray(w.sum(axis=1)).max() == 7
    assert (w != w.T).nnz == 0


def test_hex_weights_without_self() -> None:
    i, j = lattice(6, 6)
    assert hex_weights(i, j, self_weight=False).diagonal().sum() == 0


def test_hex_centres_match_postgis(session: Session) -> None:
    rows = session.execute(
        text(
            "SELECT i, j, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
            "FROM ST_HexagonGrid(750, ST_MakeEnvelope(250000, 120000, 262000, 131000, 32649))"
        )
    ).all()
    arr = np.asarray(rows, dtype=float)
    x, y = hex_centres(arr[:, 0].astype(int), arr[:, 1].astype(int), 750.0)
    assert np.allclose(x, arr[:, 2], atol=1e-6)
    assert np.allclose(y, arr[:, 3], atol=1e-6)


# --- Gi* -------------------------------------------------------------------------------------


def esda_z(values: np.ndarray, w: sparse.csr_array) -> np.ndarray:
    import esda
    from libpysal.weights import WSP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = WSP(sparse.csr_matrix(w)).to_W(silence_warnings=True)
        g = esda.G_Local(values, weights, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs)


@pytest.mark.parametrize(
    ("kind", "drop"),
    [
        pytest.param("poisson", 0.0, id="poisson-full-block"),
        pytest.param("poisson", 0.2, id="poisson-ragged-edges"),
        pytest.param("planted", 0.1, id="planted-cluster"),
        pytest.param("severity", 0.0, id="float-weights"),
    ],
)
def test_gi_star_equals_esda(kind: str, drop: float) -> None:
    rng = np.random.default_rng(42)
    i, j = lattice(30, 25, drop=drop, seed=3)
    values = rng.poisson(1.5, i.size).astype(float)
    if kind == "planted":
        values[(np.abs(i - 10) <= 1) & (np.abs(j - 8) <= 1)] += 25
    if kind == "severity":
        values = rng.gamma(2.0, 1.7, i.size)
    w = hex_weights(i, j)
    ours = gi_star(values, w)
    assert np.max(np.abs(ours.z - esda_z(values, w))) < 1e-9
    assert np.allclose(ours.p, 2 * stats.norm.sf(np.abs(ours.z)))


def test_gi_star_columns_are_independent_analyses() -> None:
    rng = np.random.default_rng(1)
    i, j = lattice(12, 12)
    w = hex_weights(i, j)
    values = rng.poisson(2.0, (i.size, 5)).astype(float)
    both = gi_star(values, w)
    for t in range(5):
        assert np.allclose(both.z[:, t], gi_star(values[:, t], w).z)


def test_gi_star_of_a_constant_is_not_significant() -> None:
    i, j = lattice(5, 5)
    result = gi_star(np.full(i.size, 3.0), hex_weights(i, j))
    assert (result.z == 0).all() and (result.p == 1).all()


# --- FDR and confidence bins -----------------------------------------------------------------


def test_fdr_bh_matches_scipy() -> None:
    p = np.random.default_rng(5).beta(0.3, 2.0, 500)
    assert np.allclose(fdr_bh(p), stats.false_discovery_control(p, method="bh"))
    two = np.column_stack([p, p[::-1]])
    assert np.allclose(fdr_bh(two)[:, 1], stats.false_discovery_control(p[::-1], method="bh"))


@pytest.mark.parametrize(
    ("z", "p", "expected"),
    [
        pytest.param(3.5, 0.0005, 3, id="hot-99"),
        pytest.param(2.1, 0.03, 2, id="hot-95"),
        pytest.param(1.7, 0.09, 1, id="hot-90"),
        pytest.param(1.0, 0.3, 0, id="not-significant"),
        pytest.param(-2.8, 0.005, -3, id="cold-99"),
        pytest.param(-1.7, 0.09, -1, id="cold-90"),
    ],
)
def test_confidence_bins_without_fdr(z: float, p: float, expected: int) -> None:
    assert confidence_bins(np.array([z]), np.array([p]), fdr=False)[0] == expected


def test_fdr_demotes_borderline_cells() -> None:
    z = np.array([4.0, 2.0] + [0.1] * 98)
    p = 2 * stats.norm.sf(np.abs(z))
    assert list(confidence_bins(z, p, fdr=False)[:2]) == [3, 2]
    assert list(confidence_bins(z, p, fdr=True)[:2]) == [3, 0]


# --- Mann–Kendall and emerging categories ----------------------------------------------------


def brute_mann_kendall(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    s = sum(np.sign(x[b] - x[a]) for a in range(n) for b in range(a + 1, n))
    _, counts = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in counts)) / 18
    z = (s - np.sign(s)) / np.sqrt(var) if var > 0 else 0.0
    return float(s), float(z)


def test_mann_kendall_matches_direct_formula_with_ties() -> None:
    rng = np.random.default_rng(9)
    series = rng.integers(0, 4, (40, 15)).astype(float) + np.arange(15) * 0.1 * rng.integers(
        0, 2, (40, 1)
    )
    mk = mann_kendall(series)
    for row in range(40):
        s, z = brute_mann_kendall(series[row])
        assert mk.s[row] == s
        assert mk.z[row] == pytest.approx(z)


def test_mann_kendall_agrees_with_kendall_tau_without_ties() -> None:
    x = np.random.default_rng(2).normal(size=20).cumsum()
    tau = stats.kendalltau(np.arange(20), x).statistic
    assert mann_kendall(x[None, :]).s[0] == pytest.approx(tau * 20 * 19 / 2)


H, C, N = 3, -3, 0  # hot, cold, nothing (bins)


@pytest.mark.parametrize(
    ("bins", "trend", "expected"),
    [
        pytest.param([N] * 9 + [H], 0, "new_hot", id="new"),
        pytest.param([N] * 7 + [H] * 3, 0, "consecutive_hot", id="consecutive"),
        pytest.param([H] * 10, +1, "intensifying_hot", id="intensifying"),
        pytest.param([H] * 10, 0, "persistent_hot", id="persistent"),
        pytest.param([H] * 10, -1, "diminishing_hot", id="diminishing"),
        pytest.param([N, H, N, H, N, N, H, N, N, H], 0, "sporadic_hot", id="sporadic"),
        pytest.param([C, N, N, H, N, N, N, N, H, H], 0, "oscillating_hot", id="oscillating"),
        pytest.param([H] * 9 + [N], 0, "historical_hot", id="historical"),
        pytest.param([N] * 9 + [C], 0, "new_cold", id="new-cold"),
        pytest.param([C] * 10, -1, "intensifying_cold", id="intensifying-cold"),
        pytest.param([H, N, N, C, N, C, N, N, N, C], 0, "oscillating_cold", id="oscillating-cold"),
        pytest.param([N] * 10, 0, "no_pattern", id="nothing"),
        pytest.param([H, H, N, N, N, N, N, N, N, N], 0, "no_pattern", id="old-hot-only"),
    ],
)
def test_emerging_categories(bins: list[int], trend: int, expected: str) -> None:
    t = len(bins)
    base = np.array([3.0 if b > 0 else -3.0 if b < 0 else 0.0 for b in bins])
    noise = np.array([0.05, -0.05] * (t // 2))
    z = base + (trend * np.linspace(0, 2, t) if trend else noise)
    result = emerging_hotspots(z[None, :], np.array([bins]))
    assert result.category[0] == expected


# --- KDE and DBSCAN --------------------------------------------------------------------------


def test_kde_binned_surface_is_close_to_exact_kde() -> None:
    rng = np.random.default_rng(3)
    xy = np.vstack([cluster_points(rng, c, 150, sd_m=800) for c in CLUSTER_CENTRES[:3]])
    grid = kde_surface(xy[:, 0], xy[:, 1], bandwidth_m=1000.0, cell_m=250.0)
    err = kde_error(grid, xy[:, 0], xy[:, 1])
    assert err.max_rel_to_peak < 0.01
    coarse = kde_error(kde_surface(xy[:, 0], xy[:, 1], bandwidth_m=1000.0, cell_m=1000.0), *xy.T)
    assert coarse.max_rel_to_peak > err.max_rel_to_peak  # the error grows with the cell
    # Mass is conserved: the integral of the density is the number of points.
    assert grid.density.sum() * (grid.cell_m**2) / 1e6 == pytest.approx(len(xy), rel=1e-3)
    peak = np.unravel_index(grid.density.argmax(), grid.density.shape)
    gx, gy = grid.nodes()
    direct = exact_kde(xy[:, 0], xy[:, 1], gx[peak], gy[peak], bandwidth_m=1000.0)
    assert grid.density[peak] == pytest.approx(float(direct), rel=0.01)


def test_kde_rejects_cells_larger_than_the_bandwidth() -> None:
    with pytest.raises(ValidationError) as info:
        kde_surface([0.0], [0.0], bandwidth_m=500.0, cell_m=800.0)
    assert info.value.field == "cell_m"


def test_dbscan_finds_the_planted_clusters() -> None:
    data = planted(seed=11, per_cluster=40, background=150)
    labels, clusters = dbscan_clusters(data.xy[:, 0], data.xy[:, 1], eps_m=500.0, min_samples=8)
    assert len(clusters) == len(CLUSTER_CENTRES)
    for k, centre in enumerate(CLUSTER_CENTRES):
        members = labels[data.cluster == k]
        label = np.bincount(members[members >= 0]).argmax()
        assert (members == label).mean() >= 0.9
        found = next(c for c in clusters if c.label == label)
        assert np.hypot(found.x - centre_utm(*centre)[0], found.y - centre_utm(*centre)[1]) < 300


# --- pure analysis on a synthetic lattice: uniform data gives few false hot spots ------------


def counts_on_lattice(values: np.ndarray, i: np.ndarray, j: np.ndarray) -> CellCounts:
    window = make_window(layer="incidents", cell_m=1000.0, start=None, end=None)
    per_slice = values if values.ndim == 2 else values[:, None]
    return CellCounts(window, "test", i, j, [None] * i.size, [], per_slice, per_slice)  # type: ignore[list-item]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_uniform_counts_give_at_most_five_percent_hot_cells(seed: int) -> None:
    i, j = lattice(50, 40)
    values = np.random.default_rng(seed).poisson(0.3, i.size).astype(float)
    cells = analyse(counts_on_lattice(values, i, j)).cells
    assert (cells["gi_bin"] > 0).mean() <= 0.05


# --- the SQL path on synthetic incidents -----------------------------------------------------


def cells_of(result_cells, xy: np.ndarray, cell_m: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Index of the cell whose centre is nearest to each point (= the cell containing it)."""
    cx = result_cells["x_utm"].to_numpy()
    cy = result_cells["y_utm"].to_numpy()
    return np.array([int(np.argmin(np.hypot(cx - x, cy - y))) for x, y in xy])


def test_planted_hotspots_come_out_hot_at_95_percent(session: Session) -> None:
    data = planted(seed=7, per_cluster=30, background=200)
    insert_incidents(session, data)
    result = hotspots(session=session, cell_m=1000.0, reference_data_dir=SHARED_DATA)
    cells = result.cells
    assert result.counts.area_source in {"admin_area", "sambas-admin/kabupaten_sambas.geojson"}
    assert cells["count"].sum() == len(data.xy)  # each point counted once
    assert 2000 < len(cells) < 2600  # ≈ 5,938 km² / 2.6 km² per cell, plus the edge cells
    # Planted cells: cells holding at least 4 points of one planted cluster.
    member_cells = cells_of(cells, data.xy[data.cluster >= 0], 1000.0)
    ids, n = np.unique(member_cells, return_counts=True)
    planted_cells = ids[n >= 4]
    assert len(planted_cells) >= 8
    recall = (cells["gi_bin"].to_numpy()[planted_cells] >= 2).mean()
    assert recall >= 0.9
    # And the centres of the grid agree with the PostGIS polygons.
    centroids = cells.geometry.to_crs(32649).centroid
    assert np.allclose(centroids.x, cells["x_utm"], atol=0.5)
    assert np.allclose(centroids.y, cells["y_utm"], atol=0.5)


def test_uniform_incidents_give_at_most_five_percent_hot_cells(session: Session) -> None:
    rng = np.random.default_rng(21)
    xy = uniform_in_kabupaten(rng, 600)
    data = Synthetic(
        xy=xy,
        times=[T0 + dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 80, len(xy))],
        cluster=np.full(len(xy), -1),
        severity=np.ones(len(xy), dtype=int),
    )
    insert_incidents(session, data)
    cells = hotspots(session=session, cell_m=2000.0, reference_data_dir=SHARED_DATA).cells
    assert cells["count"].sum() == 600
    assert (cells["gi_bin"] > 0).mean() <= 0.05


def test_emerging_hotspots_are_new_or_intensifying(session: Session) -> None:
    rng = np.random.default_rng(5)
    weeks = 12
    background = uniform_in_kabupaten(rng, 240)
    times = [T0 + dt.timedelta(days=float(d)) for d in rng.uniform(0, weeks * 7, 240)]
    parts = [background]
    # A place that appears in the final week only (new) ...
    parts.append(cluster_points(rng, CLUSTER_CENTRES[1], 15, sd_m=200))
    times += [T0 + dt.timedelta(weeks=weeks - 1, days=float(d)) for d in rng.uniform(0, 6.9, 15)]
    # ... and one that is busy every week, more so each week (intensifying).
    for week, n in enumerate(range(2, 2 + weeks)):
        parts.append(cluster_points(rng, CLUSTER_CENTRES[3], n, sd_m=200))
        times += [T0 + dt.timedelta(weeks=week, days=float(d)) for d in rng.uniform(0, 6.9, n)]
    xy = np.vstack(parts)
    data = Synthetic(xy, times, np.full(len(xy), -1), np.ones(len(xy), int))
    insert_incidents(session, data)
    result = hotspots(
        session=session,
        cell_m=1500.0,
        start=T0,
        end=T0 + dt.timedelta(weeks=weeks) - dt.timedelta(seconds=1),
        slice_unit="week",
        reference_data_dir=SHARED_DATA,
    )
    assert len(result.counts.slices) == weeks
    cells = result.cells
    new_cell, growing_cell = cells_of(
        cells, np.array([centre_utm(*CLUSTER_CENTRES[1]), centre_utm(*CLUSTER_CENTRES[3])]), 1500
    )
    assert cells["trend"].iloc[new_cell] == "new_hot"
    assert cells["trend"].iloc[growing_cell] == "intensifying_hot"
    assert cells["trend_z"].iloc[growing_cell] > 1.96
    others = cells["trend"].drop(index=cells.index[[new_cell, growing_cell]])
    assert others.str.endswith("_hot").mean() < 0.05


def test_severity_weighting_and_kind_filter(session: Session) -> None:
    data = planted(seed=3, per_cluster=20, background=50)
    insert_incidents(session, data, kind="smuggling")
    by_count = hotspots(session=session, cell_m=2000.0, reference_data_dir=SHARED_DATA)
    by_severity = hotspots(
        session=session, cell_m=2000.0, weighting="severity", reference_data_dir=SHARED_DATA
    )
    assert by_severity.cells["weight"].sum() == data.severity.sum()
    assert by_count.cells["weight"].sum() == len(data.xy)
    other_kind = hotspot_cells(
        session=session, cell_m=2000.0, kinds=["overstay"], reference_data_dir=SHARED_DATA
    )
    assert other_kind.total_counts.sum() == 0


def test_feature_collection_shape(session: Session) -> None:
    insert_incidents(session, planted(seed=4, per_cluster=15, background=40))
    result = hotspots(session=session, cell_m=2000.0, reference_data_dir=SHARED_DATA)
    fc = to_feature_collection(result)
    assert fc["type"] == "FeatureCollection"
    assert 0 < len(fc["features"]) < len(result.cells)
    props = fc["features"][0]["properties"]
    assert set(props) >= {"count", "gi_z", "p_value", "confidence", "gi_bin", "trend"}
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert 108.8 < lon < 110.0 and 0.8 < lat < 2.2
    assert fc["metadata"]["n_points"] == 15 * 5 + 40
    everything = to_feature_collection(result, include_empty=True)
    assert len(everything["features"]) == len(result.cells)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"cell_m": 5.0}, "cell_m", id="cell-too-small"),
        pytest.param({"cell_m": 50_000.0}, "cell_m", id="cell-too-large"),
        pytest.param({"cell_m": float("nan")}, "cell_m", id="cell-nan"),
        pytest.param({"layer": "foreigners"}, "layer", id="unknown-layer"),
        pytest.param({"kinds": ["piracy"]}, "kind", id="unknown-kind"),
        pytest.param({"slice_unit": "day"}, "slice", id="unknown-slice"),
        pytest.param(
            {"start": dt.datetime(2026, 3, 1), "end": dt.datetime(2026, 2, 1)},
            "end",
            id="start-after-end",
        ),
        pytest.param({"weighting": "severity", "layer": "sightings"}, "weight", id="no-severity"),
        pytest.param({"weighting": "money"}, "weight", id="unknown-weighting"),
    ],
)
def test_bad_parameters_raise_validation_error(
    session: Session, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        hotspots(session=session, reference_data_dir=SHARED_DATA, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value)


def test_naive_times_are_read_as_wib() -> None:
    window = make_window(
        layer="incidents", cell_m=1000.0, start=dt.datetime(2026, 1, 1, 7, 0), end=None
    )
    assert window.start == dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)


# --- the notebook ----------------------------------------------------------------------------


def test_notebook_runs_on_committed_synthetic_data(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    with Session(committed) as session:
        insert_incidents(session, planted(seed=8, per_cluster=25, background=120))
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    monkeypatch.setenv("TIMPORA_REFERENCE_DATA_DIR", str(SHARED_DATA))
    path = ROOT / "notebooks" / "hotspot_analysis.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute(env={**os.environ})
    outputs = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "hot_99" in outputs or "hot_95" in outputs
    assert "covered share" in outputs
