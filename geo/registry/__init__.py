"""The registry: CRUD services for foreigners, workplaces, incidents, sightings and zones.

``parse_filters`` / ``ListFilters`` are the list filters every face shares (API, OGC, exports,
imports); the service functions take keyword-only arguments and return GeoJSON.
"""

from geo.registry.filters import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListFilters,
    parse_bbox,
    parse_filters,
    split_values,
    where_clause,
)
from geo.registry.layers import LAYERS, Field, Layer, get_layer
from geo.registry.service import (
    FeaturePage,
    WriteResult,
    count_features,
    create_feature,
    delete_feature,
    evaluate_alerts,
    feature_sql,
    get_feature,
    list_features,
    update_feature,
    visible_fields,
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
