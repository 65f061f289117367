"""The hotspot service: counts per hex cell → Gi* with FDR confidence → emerging-hotspot trend.

:func:`analyse` is pure (a :class:`CellCounts` in, a :class:`HotspotResult` out);
:func:`hotspots` fetches the counts through SQL and analyses them, for the API, the CLI and
notebooks alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy.orm import Session

from geo.deadline import check_deadline
from geo.errors import ValidationError
from geo.hotspots.data import CellCounts, hotspot_cells, layer_points
from geo.hotspots.stats import (
    CONFIDENCE_LABELS,
    NO_PATTERN,
    confidence_bins,
    emerging_hotspots,
    fdr_bh,
    gi_star,
    hex_centres,
    hex_weights,
)
from geo.hotspots.surfaces import (
    Cluster,
    KdeGrid,
    check_dbscan_parameters,
    check_kde_parameters,
    dbscan_clusters,
    kde_surface,
)
from geo.models import METRIC_SRID, SRID

Weighting = Literal["count", "severity"]
WEIGHTINGS: Final = ("count", "severity")
MIN_TREND_SLICES: Final = 3


@dataclass(frozen=True)
class HotspotResult:
    """Per-cell hotspot figures (``cells``, a GeoDataFrame in EPSG:4326) and how they were made."""

    cells: gpd.GeoDataFrame
    counts: CellCounts
    weighting: str
    fdr: bool

    @property
    def metadata(self) -> dict[str, Any]:
        window = self.counts.window
        bins = self.cells["gi_bin"].to_numpy() if len(self.cells) else np.zeros(0)
        trends = self.cells["trend"].value_counts().to_dict() if len(self.cells) else {}
        return {
            "layer": window.layer,
            "cell_m": window.cell_m,
            "cell_shape": "hexagon (ST_HexagonGrid side length, EPSG:32649)",
            "start": window.start.isoformat() if window.start else None,
            "end": window.end.isoformat() if window.end else None,
            "kinds": list(window.kinds) if window.kinds else None,
            "weighting": self.weighting,
            "slice": window.slice_unit,
            "slices": [s.isoformat() for s in self.counts.slices],
            "area_source": self.counts.area_source,
            "n_cells": len(self.cells),
            "n_points": int(self.counts.total_counts.sum()),
            "n_hot": int((bins > 0).sum()),
            "n_cold": int((bins < 0).sum()),
            "trend_counts": {str(k): int(v) for k, v in trends.items()},
            "method": (
                "Getis-Ord Gi* (binary contiguity, 6 hex neighbours + self), analytical z and "
                "two-sided p, Benjamini-Hochberg FDR"
                if self.fdr
                else "Getis-Ord Gi* (no FDR correction)"
            ),
        }


def _variable(counts: CellCounts, weighting: str) -> tuple[npt.NDArray[np.float64], Any]:
    if weighting not in WEIGHTINGS:
        raise ValidationError(
            f"weight must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}",
            field="weight",
            value=weighting,
        )
    if weighting == "severity" and counts.window.spec.severity_column is None:
        raise ValidationError(
            f"weight=severity needs a layer with a severity; {counts.window.layer} has none",
            field="weight",
            value=weighting,
        )
    per_slice = counts.weights if weighting == "severity" else counts.counts
    return per_slice, per_slice.sum(axis=1) if per_slice.size else np.zeros(counts.n_cells)


def analyse(
    counts: CellCounts,
    *,
    weighting: str = "count",
    fdr: bool = True,
    trend_alpha: float = 0.05,
) -> HotspotResult:
    """Gi* on the window's totals and the emerging-hotspot trend over its slices.

    Parameters
    ----------
    counts
        Cells and counts from :func:`geo.hotspots.data.hotspot_cells` (or built by hand).
    weighting
        ``count`` (points per cell) or ``severity`` (sum of incident severities).
    fdr
        Apply the Benjamini–Hochberg correction before binning into confidence classes.
    trend_alpha
        Significance of the Mann–Kendall trend test (emerging hotspots).

    Returns
    -------
    HotspotResult
        ``cells`` with columns ``cell_id``, ``i``, ``j``, ``x_utm``, ``y_utm``, ``count``,
        ``weight``, ``gi_z``, ``p_value``, ``p_fdr``, ``gi_bin`` (−3..3), ``confidence``
        (``hot_99`` … ``cold_99`` or ``not_significant``), ``trend`` (an Emerging Hot Spot
        category or ``no_pattern``), ``trend_z``, ``trend_p``, and the polygon in EPSG:4326.
    """
    per_slice, total = _variable(counts, weighting)
    n = counts.n_cells
    w = hex_weights(counts.i, counts.j)
    g = gi_star(total, w)
    check_deadline("Gi* of the totals")
    p_fdr = fdr_bh(g.p) if fdr else g.p
    bins = confidence_bins(g.z, g.p, fdr=fdr)
    trend = np.full(n, NO_PATTERN, dtype=object)
    trend_z = np.zeros(n)
    trend_p = np.ones(n)
    if per_slice.shape[1] >= MIN_TREND_SLICES:
        gs = gi_star(per_slice, w)
        slice_bins = confidence_bins(gs.z, gs.p, fdr=fdr)
        emerging = emerging_hotspots(gs.z, slice_bins, trend_alpha=trend_alpha)
        trend, trend_z, trend_p = emerging.category, emerging.trend_z, emerging.trend_p
        check_deadline("the emerging-hotspot trend")
    x, y = hex_centres(counts.i, counts.j, counts.window.cell_m)
    frame = gpd.GeoDataFrame(
        {
            "cell_id": [
                f"{a}_{b}" for a, b in zip(counts.i.tolist(), counts.j.tolist(), strict=True)
            ],
            "i": counts.i,
            "j": counts.j,
            "x_utm": x,
            "y_utm": y,
            "count": counts.total_counts.astype(np.int64),
            "weight": total,
            "gi_z": g.z,
            "p_value": g.p,
            "p_fdr": p_fdr,
            "gi_bin": bins.astype(np.int64),
            "confidence": [CONFIDENCE_LABELS[int(b)] for b in bins],
            "trend": np.asarray(trend, dtype=str),
            "trend_z": trend_z,
            "trend_p": trend_p,
        },
        geometry=gpd.GeoSeries(counts.geoms, crs=SRID) if n else gpd.GeoSeries([], crs=SRID),
        crs=SRID,
    )
    return HotspotResult(cells=frame, counts=counts, weighting=weighting, fdr=fdr)


def hotspots(
    *,
    session: Session,
    layer: str = "incidents",
    cell_m: float = 1000.0,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    weighting: str = "count",
    slice_unit: str = "week",
    fdr: bool = True,
    trend_alpha: float = 0.05,
    reference_data_dir: Path | None = None,
) -> HotspotResult:
    """Fetch the counts (SQL) and analyse them: what ``GET /api/v1/hotspots`` returns."""
    if weighting not in WEIGHTINGS:  # fail before the query
        raise ValidationError(
            f"weight must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}",
            field="weight",
            value=weighting,
        )
    counts = hotspot_cells(
        session=session,
        layer=layer,
        cell_m=cell_m,
        start=start,
        end=end,
        kinds=kinds,
        slice_unit=slice_unit,
        reference_data_dir=reference_data_dir,
    )
    check_deadline("counting the cells")
    return analyse(counts, weighting=weighting, fdr=fdr, trend_alpha=trend_alpha)


_PROPERTIES: Final = (
    "cell_id",
    "count",
    "weight",
    "gi_z",
    "p_value",
    "p_fdr",
    "confidence",
    "gi_bin",
    "trend",
    "trend_z",
    "trend_p",
)


def _number(value: Any) -> float | int | None:
    if isinstance(value, np.integer | int):
        return int(value)
    v = float(value)
    return round(v, 10) if np.isfinite(v) else None


def to_feature_collection(result: HotspotResult, *, include_empty: bool = False) -> dict[str, Any]:
    """GeoJSON FeatureCollection (EPSG:4326) of the cells, with the run's metadata.

    Without ``include_empty`` only cells with points, a significant Gi*, or a trend are listed
    (the statistic still uses every cell of the grid).
    """
    cells = result.cells
    if not include_empty and len(cells):
        keep = (cells["count"] > 0) | (cells["gi_bin"] != 0) | (cells["trend"] != NO_PATTERN)
        cells = cells[keep]
    columns = {name: cells[name].tolist() for name in _PROPERTIES}
    geometries = shapely.to_geojson(np.asarray(cells.geometry.values)) if len(cells) else []
    import orjson  # local: the rest of geo does not need it

    features = []
    for k in range(len(cells)):
        props: dict[str, Any] = {}
        for name in _PROPERTIES:
            value = columns[name][k]
            props[name] = value if isinstance(value, str) else _number(value)
        features.append(
            {
                "type": "Feature",
                "id": props["cell_id"],
                "geometry": orjson.loads(geometries[k]),
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features, "metadata": result.metadata}


# --- alternative views -----------------------------------------------------------------------


def kde_for_layer(
    *,
    session: Session,
    layer: str = "incidents",
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    bandwidth_m: float = 1500.0,
    cell_m: float | None = None,
    weighting: str = "count",
) -> KdeGrid | None:
    """The KDE surface of a layer (``cell_m`` default ``bandwidth_m / 4``); None without points."""
    check_kde_parameters(bandwidth_m, cell_m or bandwidth_m / 4)
    x, y, severity = layer_points(session=session, layer=layer, start=start, end=end, kinds=kinds)
    check_deadline("reading the points")
    if x.size == 0:
        return None
    weights = severity if weighting == "severity" else None
    return kde_surface(
        x, y, bandwidth_m=bandwidth_m, cell_m=cell_m or bandwidth_m / 4, weights=weights
    )


def clusters_for_layer(
    *,
    session: Session,
    layer: str = "incidents",
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    eps_m: float = 1000.0,
    min_samples: int = 5,
) -> list[Cluster]:
    """DBSCAN clusters of a layer's points (metres in EPSG:32649)."""
    check_dbscan_parameters(eps_m, min_samples)
    x, y, _ = layer_points(session=session, layer=layer, start=start, end=end, kinds=kinds)
    check_deadline("reading the points")
    _, clusters = dbscan_clusters(x, y, eps_m=eps_m, min_samples=min_samples)
    check_deadline("DBSCAN")
    return clusters


def clusters_frame(clusters: list[Cluster]) -> gpd.GeoDataFrame:
    """Clusters as a GeoDataFrame in EPSG:4326 (hull polygons), largest first."""
    frame = gpd.GeoDataFrame(
        {
            "label": [c.label for c in clusters],
            "size": [c.size for c in clusters],
            "x_utm": [c.x for c in clusters],
            "y_utm": [c.y for c in clusters],
        },
        geometry=gpd.GeoSeries([c.hull for c in clusters], crs=METRIC_SRID),
        crs=METRIC_SRID,
    )
    return frame.to_crs(SRID)
