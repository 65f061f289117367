"""The OGC APIs, framework-free: Features (Part 1 core, Part 2 CRS, Part 3 filtering) and Tiles.

- :mod:`geo.ogc.collections` — the collections a role sees, their queryables, items and counts;
- :mod:`geo.ogc.crs` — the output, bbox and filter CRSs (CRS84, EPSG:4326, EPSG:32649);
- :mod:`geo.ogc.tilesets` — the WebMercatorQuad tile matrix set, tilesets and TileJSON.

CQL2 filters are compiled to bound SQL by :mod:`geo.registry.cql`, beside the other list filters.
docs/ogc.md shows an analyst how to use them from QGIS, GDAL and MapLibre.
"""

from typing import Final

from geo.ogc.collections import (
    COLLECTIONS,
    ITEM_PARAMETERS,
    Collection,
    ItemsQuery,
    extent,
    get_collection,
    item,
    items,
    number_matched,
    parse_datetime,
    parse_items_query,
    parse_properties,
    queryables,
    queryables_schema,
    time_property,
    visible_collections,
)
from geo.ogc.crs import CRS84, STORAGE, SUPPORTED, Crs, parse_crs

_FEATURES = "http://www.opengis.net/spec/ogcapi-features-{part}/1.0/conf/{name}"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/{name}"
_TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{name}"
# Exactly what is implemented (the suite drives each with a client: tests/api/test_ogc*.py).
CONFORMANCE: Final = (
    _FEATURES.format(part=1, name="core"),
    _FEATURES.format(part=1, name="geojson"),
    _FEATURES.format(part=1, name="oas30"),
    _FEATURES.format(part=2, name="crs"),
    _FEATURES.format(part=3, name="queryables"),
    _FEATURES.format(part=3, name="queryables-query-parameters"),
    _FEATURES.format(part=3, name="filter"),
    _FEATURES.format(part=3, name="features-filter"),
    _CQL2.format(name="cql2-text"),
    _CQL2.format(name="cql2-json"),
    _CQL2.format(name="basic-cql2"),
    _CQL2.format(name="advanced-comparison-operators"),
    _CQL2.format(name="case-insensitive-comparison"),
    _CQL2.format(name="basic-spatial-functions"),
    _CQL2.format(name="basic-spatial-functions-plus"),
    _CQL2.format(name="spatial-functions"),
    _CQL2.format(name="temporal-functions"),
    _CQL2.format(name="property-property"),
    _TILES.format(name="core"),
    _TILES.format(name="tileset"),
    _TILES.format(name="tilesets-list"),
    _TILES.format(name="geodata-tilesets"),
    _TILES.format(name="mvt"),
    _TILES.format(name="oas30"),
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
)

__all__ = [
    "COLLECTIONS",
    "CONFORMANCE",
    "CRS84",
    "ITEM_PARAMETERS",
    "STORAGE",
    "SUPPORTED",
    "Collection",
    "Crs",
    "ItemsQuery",
    "extent",
    "get_collection",
    "item",
    "items",
    "number_matched",
    "parse_crs",
    "parse_datetime",
    "parse_items_query",
    "parse_properties",
    "queryables",
    "queryables_schema",
    "time_property",
    "visible_collections",
]
