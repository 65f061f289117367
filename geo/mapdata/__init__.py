"""All the SQL behind the maps: aggregates sized by area, not by the number of points.

- :mod:`geo.mapdata.filters` — what a map shows (``MapFilters``) and its point set as SQL;
- :mod:`geo.mapdata.aggregates` — heat cells, hex bins, kecamatan statistics, counts per period;
- :mod:`geo.mapdata.reference` — basemap layers, zones, the regency's extent and kecamatan;
- :mod:`geo.mapdata.points` — the overview's workplaces and latest alerts.

Every function takes keyword-only arguments and bound parameters.
"""

from geo.mapdata.aggregates import (
    BASEMAP_TOLERANCE_M,
    PERIODS,
    HeatCells,
    HexCell,
    KecamatanStat,
    Period,
    PeriodCounts,
    heat_cells,
    hex_counts,
    kecamatan_stats,
    period_counts,
)
from geo.mapdata.filters import (
    KINDS,
    LAYERS,
    PERSON_LAYERS,
    Layer,
    MapFilters,
    parse_filters,
    point_where,
)
from geo.mapdata.points import AlertPoint, WorkplacePoint, latest_alerts, workplaces
from geo.mapdata.reference import (
    BASEMAP_KINDS,
    SAMBAS_EXTENT,
    area_label_points,
    kecamatan_extent,
    kecamatan_list,
    load_reference_layers,
    reference_layers,
    regency_bounds,
    zones,
)

__all__ = [
    "BASEMAP_KINDS",
    "BASEMAP_TOLERANCE_M",
    "KINDS",
    "LAYERS",
    "PERIODS",
    "PERSON_LAYERS",
    "SAMBAS_EXTENT",
    "AlertPoint",
    "HeatCells",
    "HexCell",
    "KecamatanStat",
    "Layer",
    "MapFilters",
    "Period",
    "PeriodCounts",
    "WorkplacePoint",
    "area_label_points",
    "heat_cells",
    "hex_counts",
    "kecamatan_extent",
    "kecamatan_list",
    "kecamatan_stats",
    "latest_alerts",
    "load_reference_layers",
    "parse_filters",
    "period_counts",
    "point_where",
    "reference_layers",
    "regency_bounds",
    "workplaces",
    "zones",
]
