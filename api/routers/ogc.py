"""``/ogc``: OGC API – Features (Part 1 core and GeoJSON, Part 2 CRS, Part 3 queryables and
CQL2 filters), so QGIS, GDAL and OWSLib read, filter and reproject the layers on the server.

Every route needs READ; the collections a role may not see are absent (404), not forbidden.
The tiles of the same collections are in ``api/routers/ogc_tiles.py``.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from api.deps import SessionDep
from api.responses import JSON, GeoJSON
from api.routing import ERRORS, Reader, client_address
from geo import ogc
from geo.ogc import tilesets
from geo.registry import MAX_LIMIT
from geo.registry.cql import FILTER_LANGS, LEGACY_TEXT_LANG

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON_TYPE = "application/json"
GEOJSON_TYPE = "application/geo+json"
SCHEMA_TYPE = "application/schema+json"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
# A bad filter, sortby, properties or CRS is a bad request (OGC API – Features Part 3).
QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"description": "A filter, sortby, properties or CRS parameter cannot be used as given"},
}
CRS_URIS = [c.uri for c in ogc.SUPPORTED]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collection_doc(request: Request, session: Any, c: ogc.Collection, role: str) -> dict[str, Any]:
    base = _base(request)
    doc: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": CRS_URIS,
        "storageCrs": ogc.STORAGE.uri,
        "links": [
            {"href": f"{base}/collections/{c.id}", "rel": "self", "type": JSON_TYPE},
            {
                "href": f"{base}/collections/{c.id}/items",
                "rel": "items",
                "type": GEOJSON_TYPE,
                "title": c.title,
            },
            {
                "href": f"{base}/collections/{c.id}/queryables",
                "rel": REL_QUERYABLES,
                "type": SCHEMA_TYPE,
                "title": "What a filter or sortby may name (for this role)",
            },
        ],
    }
    if c.tiles:
        doc["links"].append(
            {
                "href": f"{base}/collections/{c.id}/tiles",
                "rel": tilesets.REL_TILESETS,
                "type": JSON_TYPE,
                "title": "Vector tiles",
            }
        )
    bbox = ogc.extent(session=session, collection=c)
    if bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": ogc.CRS84.uri}}
    return doc


@router.get("", summary="OGC API landing page", responses=ERRORS)
def landing(request: Request, principal: Reader) -> JSON:
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return JSON(
        {
            "title": "Timpora Map — OGC API Features and Tiles",
            "description": "Layers of Timpora Kabupaten Sambas: GeoJSON features (CRS84, "
            "EPSG:4326, EPSG:32649) with CQL2 filters, and vector tiles",
            "links": [
                {"href": base, "rel": "self", "type": JSON_TYPE, "title": "This document"},
                {
                    "href": f"{base}/api",
                    "rel": "service-desc",
                    "type": OPENAPI_TYPE,
                    "title": "The OGC API's definition (OpenAPI)",
                },
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": JSON_TYPE},
                {"href": f"{base}/collections", "rel": "data", "type": JSON_TYPE},
                {
                    "href": f"{base}/tileMatrixSets",
                    "rel": REL_TILING_SCHEMES,
                    "type": JSON_TYPE,
                    "title": "Tile matrix sets",
                },
            ],
        }
    )


def _ogc_openapi(request: Request, role: str) -> dict[str, Any]:
    """The OGC routes of the service's OpenAPI document, relative to ``/ogc``, with one items
    path per collection the role sees naming its queryables as query parameters (clients such
    as GDAL learn from it which properties they may filter on the server)."""
    full = request.app.openapi()
    spec: dict[str, Any] = {
        "openapi": full["openapi"],
        "info": {**full["info"], "title": "Timpora Map — OGC API"},
        "servers": [{"url": _base(request)}],
        "paths": {},
        "components": copy.deepcopy(full.get("components", {})),
    }
    for path, item in full["paths"].items():
        if path.startswith("/ogc/") and path != "/ogc/api":
            local = path.removeprefix("/ogc").replace("{collection_id}", "{collectionId}")
            spec["paths"][local] = _rename_collection_param(copy.deepcopy(item))
    template = spec["paths"]["/collections/{collectionId}/items"]
    for c in ogc.visible_collections(role):
        op = copy.deepcopy(template["get"])
        op["operationId"] = f"items_{c.id.replace('-', '_')}"
        op["summary"] = f"{c.title}: features"
        op["parameters"] = [p for p in op["parameters"] if p["name"] != "collectionId"]
        for name, q in ogc.queryables(c, role).items():
            if q.type == "geometry":
                continue
            op["parameters"].append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": f"Only features whose {name} equals this",
                    "schema": q.schema(),
                    "style": "form",
                    "explode": False,
                }
            )
        spec["paths"][f"/collections/{c.id}/items"] = {"get": op}
    return spec


def _rename_collection_param(item: dict[str, Any]) -> dict[str, Any]:
    for op in item.values():
        for p in op.get("parameters", []):
            if p.get("name") == "collection_id":
                p["name"] = "collectionId"
    return item


@router.get(
    "/api",
    summary="The OGC API's definition (OpenAPI), for OGC clients",
    responses={200: {"content": {OPENAPI_TYPE: {}}}, **ERRORS},
)
def openapi(request: Request, principal: Reader) -> JSON:
    return JSON(_ogc_openapi(request, principal.role), media_type=OPENAPI_TYPE)


@router.get("/conformance", summary="Conformance classes", responses=ERRORS)
def conformance(principal: Reader) -> JSON:
    return JSON({"conformsTo": list(ogc.CONFORMANCE)})


@router.get("/collections", summary="The collections this role may see", responses=ERRORS)
def collections(request: Request, session: SessionDep, principal: Reader) -> JSON:
    base = _base(request)
    return JSON(
        {
            "links": [{"href": f"{base}/collections", "rel": "self", "type": JSON_TYPE}],
            "crs": CRS_URIS,
            "collections": [
                _collection_doc(request, session, c, principal.role)
                for c in ogc.visible_collections(principal.role)
            ],
        }
    )


@router.get("/collections/{collection_id}", summary="One collection", responses=ERRORS)
def collection(
    request: Request, session: SessionDep, principal: Reader, collection_id: str
) -> JSON:
    c = ogc.get_collection(collection_id, principal.role)
    return JSON(_collection_doc(request, session, c, principal.role))


@router.get(
    "/collections/{collection_id}/queryables",
    summary="What a filter or sortby may name in this collection, for this role (JSON Schema)",
    responses={200: {"content": {SCHEMA_TYPE: {}}}, **ERRORS},
)
def queryables(request: Request, principal: Reader, collection_id: str) -> JSON:
    c = ogc.get_collection(collection_id, principal.role)
    url = f"{_base(request)}/collections/{c.id}/queryables"
    return JSON(ogc.queryables_schema(c, principal.role, url=url), media_type=SCHEMA_TYPE)


def _crs_param(description: str, alias: str | None = None) -> Any:
    return Query(alias=alias, description=description, json_schema_extra={"enum": CRS_URIS})


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSON,
    summary="Features of a collection (bbox, datetime, CQL2 filter, sortby, properties, crs; "
    "next links)",
    responses=QUERY_ERRORS,
)
def collection_items(
    request: Request,
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    bbox: Annotated[
        str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (CRS84: lon/lat)")
    ] = None,
    bbox_crs: Annotated[
        str | None, _crs_param("The CRS of bbox (default CRS84)", "bbox-crs")
    ] = None,
    datetime: Annotated[
        str | None, Query(description="instant or interval start/end ('..' open)")
    ] = None,
    filter: Annotated[
        str | None,
        Query(description="A CQL2 filter on the queryables, e.g. kind = 'overstay'"),
    ] = None,
    filter_lang: Annotated[
        str | None,
        Query(
            alias="filter-lang",
            description="cql2-text (default) or cql2-json",
            json_schema_extra={"enum": [*FILTER_LANGS, LEGACY_TEXT_LANG]},
        ),
    ] = None,
    filter_crs: Annotated[
        str | None, _crs_param("The CRS of the filter's geometries (default CRS84)", "filter-crs")
    ] = None,
    sortby: Annotated[
        str | None, Query(description="Queryables, each with + (ascending) or -, e.g. -severity")
    ] = None,
    properties: Annotated[
        str | None, Query(description="Only these properties, comma-separated")
    ] = None,
    crs: Annotated[str | None, _crs_param("The CRS of the returned geometries")] = None,
    count: Annotated[
        bool | None,
        Query(description="numberMatched: true counts; default counts where it is cheap"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    c = ogc.get_collection(collection_id, principal.role)
    output_crs = ogc.parse_crs(crs)
    equals = {k: v for k, v in request.query_params.items() if k not in ogc.ITEM_PARAMETERS}
    query = ogc.parse_items_query(
        c,
        principal.role,
        bbox=bbox,
        bbox_crs=ogc.parse_crs(bbox_crs, field="bbox-crs"),
        datetime=datetime,
        filter=filter,
        filter_lang=filter_lang,
        filter_crs=ogc.parse_crs(filter_crs, field="filter-crs"),
        sortby=sortby,
        properties=properties,
        crs=output_crs,
        limit=limit,
        offset=offset,
        equals=equals,
    )
    page = ogc.items(
        session=session,
        collection=c,
        query=query,
        principal=principal,
        client=client_address(request),
        count=count,
    )
    url = f"{_base(request)}/collections/{c.id}/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
    links = [
        {
            "href": f"{url}?{urlencode({**params, 'limit': limit, 'offset': offset})}",
            "rel": "self",
            "type": GEOJSON_TYPE,
        },
        {"href": f"{_base(request)}/collections/{c.id}", "rel": "collection", "type": JSON_TYPE},
    ]
    if page.has_more:
        nxt = {**params, "limit": limit, "offset": offset + limit}
        links.append({"href": f"{url}?{urlencode(nxt)}", "rel": "next", "type": GEOJSON_TYPE})
    return GeoJSON(page.to_bytes(links=links), headers={"Content-Crs": output_crs.header})


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSON,
    summary="One feature",
    responses=QUERY_ERRORS,
)
def collection_item(
    request: Request,
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    feature_id: str,
    properties: Annotated[
        str | None, Query(description="Only these properties, comma-separated")
    ] = None,
    crs: Annotated[str | None, _crs_param("The CRS of the returned geometry")] = None,
) -> Response:
    c = ogc.get_collection(collection_id, principal.role)
    output_crs = ogc.parse_crs(crs)
    feature = ogc.item(
        session=session,
        collection=c,
        feature_id=feature_id,
        principal=principal,
        client=client_address(request),
        properties=ogc.parse_properties(properties, c, principal.role),
        crs=output_crs,
    )
    base = _base(request)
    feature["links"] = [
        {
            "href": f"{base}/collections/{c.id}/items/{feature_id}",
            "rel": "self",
            "type": GEOJSON_TYPE,
        },
        {"href": f"{base}/collections/{c.id}", "rel": "collection", "type": JSON_TYPE},
    ]
    return GeoJSON(feature, headers={"Content-Crs": output_crs.header})
