"""Hotspots with statistical confidence: Gi* on a hex grid, FDR, emerging-hotspot
trends, KDE and DBSCAN. See docs/hotspots.md for the method.

- :mod:`geo.hotspots.stats` — pure statistics (weights, Gi*, BH FDR, Mann–Kendall, categories);
- :mod:`geo.hotspots.surfaces` — KDE surface and DBSCAN clusters (pure);
- :mod:`geo.hotspots.data` — the SQL (study area, ``ST_HexagonGrid`` counts per slice, points);
- :mod:`geo.hotspots.analysis` — the service tying them together.
"""

from geo.hotspots.analysis import (
    HotspotResult,
    analyse,
    clusters_for_layer,
    clusters_frame,
    hotspots,
    kde_for_layer,
    to_feature_collection,
)
from geo.hotspots.data import LAYERS, CellCounts, StudyArea, hotspot_cells, layer_points, study_area
from geo.hotspots.stats import (
    CONFIDENCE_LABELS,
    TREND_CATEGORIES,
    confidence_bins,
    emerging_hotspots,
    fdr_bh,
    gi_star,
    hex_weights,
    mann_kendall,
)
from geo.hotspots.surfaces import KdeGrid, dbscan_clusters, exact_kde, kde_error, kde_surface

__all__ = [
    "CONFIDENCE_LABELS",
    "LAYERS",
    "TREND_CATEGORIES",
    "CellCounts",
    "HotspotResult",
    "KdeGrid",
    "StudyArea",
    "analyse",
    "clusters_for_layer",
    "clusters_frame",
    "confidence_bins",
    "dbscan_clusters",
    "emerging_hotspots",
    "exact_kde",
    "fdr_bh",
    "gi_star",
    "hex_weights",
    "hotspot_cells",
    "hotspots",
    "kde_error",
    "kde_for_layer",
    "kde_surface",
    "layer_points",
    "mann_kendall",
    "study_area",
    "to_feature_collection",
]
