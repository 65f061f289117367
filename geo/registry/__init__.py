"""The registry: foreigners, workplaces, incidents, sightings and zones, and the filter family.

- :mod:`geo.registry.layers` — what each layer is (table, fields, time column, filter columns);
- :mod:`geo.registry.filters` — every filter value parsed once (``parse_filters``, bbox, time
  windows, kinds, kecamatan, cell sizes), for every face;
- :mod:`geo.registry.where` — parsed filters as SQL with bound parameters;
- :mod:`geo.registry.features` / :mod:`geo.registry.pages` — GeoJSON built in PostgreSQL, and how
  a page is collected;
- :mod:`geo.registry.reads` / :mod:`geo.registry.validation` / :mod:`geo.registry.writes` — CRUD.

Service functions take keyword-only arguments and return GeoJSON.
"""

from geo.registry.features import FeaturePage, feature_sql, visible_fields
from geo.registry.filters import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListFilters,
    parse_bbox,
    parse_filters,
    split_values,
)
from geo.registry.layers import LAYERS, Field, Layer, get_layer
from geo.registry.reads import count_features, get_feature, list_features
from geo.registry.where import where_clause
from geo.registry.writes import (
    WriteResult,
    check_writer,
    create_feature,
    delete_feature,
    evaluate_alerts,
    update_feature,
)
from geo.times import parse_time

__all__ = [
    "DEFAULT_LIMIT",
    "LAYERS",
    "MAX_LIMIT",
    "FeaturePage",
    "Field",
    "Layer",
    "ListFilters",
    "WriteResult",
    "check_writer",
    "count_features",
    "create_feature",
    "delete_feature",
    "evaluate_alerts",
    "feature_sql",
    "get_feature",
    "get_layer",
    "list_features",
    "parse_bbox",
    "parse_filters",
    "parse_time",
    "split_values",
    "update_feature",
    "visible_fields",
    "where_clause",
]
