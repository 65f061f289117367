"""OGC API – Tiles for the vector tile layers (``geo.tiles``): the WebMercatorQuad tile matrix
set, tileset metadata and TileJSON 3.0, so QGIS, GDAL and MapLibre add the layers themselves.

The tiles are the ones of ``/tiles/{layer}/{z}/{x}/{y}.mvt`` (which keeps working); OGC API –
Tiles addresses the same tile as ``{tileMatrix}/{tileRow}/{tileCol}`` = ``{z}/{y}/{x}``.
"""

from __future__ import annotations

from typing import Any, Final

from geo.errors import NotFoundError
from geo.tiles import MAX_ZOOM, POINT_MIN_ZOOM, WEB_MERCATOR_HALF

MVT_TYPE: Final = "application/vnd.mapbox-vector-tile"
TMS_ID: Final = "WebMercatorQuad"
TMS_URI: Final = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
WEB_MERCATOR: Final = "http://www.opengis.net/def/crs/EPSG/0/3857"
TILE_SIZE: Final = 256
PIXEL_M: Final = 0.00028  # the standardised rendering pixel (scale denominators)
REL_TILING_SCHEME: Final = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILESETS: Final = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"

# What each tile layer carries (geo.tiles): its geometry and the properties of its features.
# Point layers are counts on a grid below POINT_MIN_ZOOM (always, for sightings, for roles
# without personal data: docs/privacy.md).
COUNT_FIELDS: Final = {
    "count": "Number of records in the cell (null when hidden)",
    "count_label": "The count as shown (<3 when hidden)",
}
TILE_LAYERS: Final[dict[str, dict[str, Any]]] = {
    "admin-areas": {
        "geometry": "polygons",
        "fields": {"code": "Kemendagri code", "name": "Name", "level": "kabupaten/kecamatan/desa"},
    },
    "zones": {
        "geometry": "polygons",
        "fields": {"id": "Zone id", "name": "Name", "kind": "Zone kind", "active": "Active"},
    },
    "incidents": {
        "geometry": "points",
        "fields": {
            "id": "Incident id",
            "kind": "Incident kind",
            "severity": "Severity 1-5",
            "status": "Status",
            **COUNT_FIELDS,
        },
    },
    "sightings": {
        "geometry": "points",
        "fields": {
            "id": "Sighting id",
            "source": "Source",
            "foreigner_id": "Foreigner id",
            **COUNT_FIELDS,
        },
    },
}


def cell_size_m(zoom: int) -> float:
    return float(2 * WEB_MERCATOR_HALF / TILE_SIZE / 2**zoom)


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad definition (OGC Two Dimensional Tile Matrix Set 2.0, JSON)."""
    return {
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": WEB_MERCATOR,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": [
            {
                "id": str(z),
                "scaleDenominator": cell_size_m(z) / PIXEL_M,
                "cellSize": cell_size_m(z),
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-WEB_MERCATOR_HALF, WEB_MERCATOR_HALF],
                "tileWidth": TILE_SIZE,
                "tileHeight": TILE_SIZE,
                "matrixWidth": 2**z,
                "matrixHeight": 2**z,
            }
            for z in range(MAX_ZOOM + 1)
        ],
    }


def check_tile_matrix_set(tms_id: str) -> None:
    if tms_id != TMS_ID:
        raise NotFoundError(f"no tile matrix set {tms_id[:50]!r}; the one served is {TMS_ID}")


def tile_layer(collection_id: str) -> dict[str, Any]:
    try:
        return TILE_LAYERS[collection_id]
    except KeyError:
        raise NotFoundError(f"collection {collection_id!r} has no tiles") from None


def tile_template(base: str, collection_id: str) -> str:
    tile = "{tileMatrix}/{tileRow}/{tileCol}"
    return f"{base}/collections/{collection_id}/tiles/{TMS_ID}/{tile}"


def tileset(
    *, base: str, collection_id: str, title: str, bbox: list[float] | None
) -> dict[str, Any]:
    """A collection's tileset metadata (OGC API – Tiles, tileset)."""
    spec = tile_layer(collection_id)
    url = f"{base}/collections/{collection_id}/tiles/{TMS_ID}"
    doc: dict[str, Any] = {
        "title": f"{title} (vector tiles)",
        "dataType": "vector",
        "crs": WEB_MERCATOR,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            {"href": url, "rel": "self", "type": "application/json"},
            {
                "href": f"{base}/tileMatrixSets/{TMS_ID}",
                "rel": REL_TILING_SCHEME,
                "type": "application/json",
                "title": "WebMercatorQuad",
            },
            {
                "href": tile_template(base, collection_id),
                "rel": "item",
                "type": MVT_TYPE,
                "templated": True,
                "title": "A tile (Mapbox vector tile)",
            },
            {
                "href": f"{url}/tilejson.json",
                "rel": "describedby",
                "type": "application/json",
                "title": "TileJSON 3.0 (MapLibre)",
            },
            {"href": f"{base}/collections/{collection_id}", "rel": "collection"},
        ],
        "layers": [
            {
                "id": collection_id,
                "dataType": "vector",
                "geometryDimension": 2 if spec["geometry"] == "polygons" else 0,
                "minTileMatrix": "0",
                "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {
                        name: {"description": description}
                        for name, description in spec["fields"].items()
                    },
                },
            }
        ],
    }
    if spec["geometry"] == "points":
        doc["description"] = (
            f"Counts on a grid below zoom {POINT_MIN_ZOOM}, points from there on "
            "(sightings: always counts for roles without personal data)"
        )
    if bbox is not None:
        doc["boundingBox"] = {
            "lowerLeft": bbox[:2],
            "upperRight": bbox[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
    return doc


def tilesets(*, base: str, collection_id: str, title: str) -> dict[str, Any]:
    """The list of a collection's tilesets (one: WebMercatorQuad)."""
    tile_layer(collection_id)
    url = f"{base}/collections/{collection_id}/tiles"
    return {
        "links": [{"href": url, "rel": "self", "type": "application/json"}],
        "tilesets": [
            {
                "title": f"{title} (vector tiles)",
                "dataType": "vector",
                "crs": WEB_MERCATOR,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {"href": f"{url}/{TMS_ID}", "rel": "self", "type": "application/json"},
                    {
                        "href": f"{base}/tileMatrixSets/{TMS_ID}",
                        "rel": REL_TILING_SCHEME,
                        "type": "application/json",
                    },
                ],
            }
        ],
    }


def tilejson(
    *, base: str, collection_id: str, title: str, description: str, bbox: list[float] | None
) -> dict[str, Any]:
    """TileJSON 3.0.0 for MapLibre and other XYZ clients (``{z}/{y}/{x}``: OGC's row/col)."""
    spec = tile_layer(collection_id)
    bounds = bbox or [-180.0, -85.0511287798066, 180.0, 85.0511287798066]
    center_zoom = 9 if bbox else 0
    return {
        "tilejson": "3.0.0",
        "name": title,
        "description": description,
        "scheme": "xyz",
        "tiles": [f"{base}/collections/{collection_id}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}"],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, center_zoom],
        "vector_layers": [
            {
                "id": collection_id,
                "description": title,
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "fields": dict(spec["fields"]),
            }
        ],
    }
