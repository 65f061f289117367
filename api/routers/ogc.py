"""``/ogc``: OGC API – Features Part 1 (Core, GeoJSON), so QGIS and GDAL read the layers directly.

Every route needs READ; the collections a role may not see are absent (404), not forbidden.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from api.deps import SessionDep
from api.responses import JSON, GeoJSON
from api.routing import ERRORS, Reader, client_address
from geo import ogc
from geo.registry import MAX_LIMIT, parse_bbox
from geo.registry.filters import ListFilters

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON_TYPE = "application/json"
GEOJSON_TYPE = "application/geo+json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collection_doc(request: Request, session: Any, c: ogc.Collection) -> dict[str, Any]:
    base = _base(request)
    doc: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [ogc.CRS84],
        "links": [
            {"href": f"{base}/collections/{c.id}", "rel": "self", "type": JSON_TYPE},
            {
                "href": f"{base}/collections/{c.id}/items",
                "rel": "items",
                "type": GEOJSON_TYPE,
                "title": c.title,
            },
        ],
    }
    bbox = ogc.extent(session=session, collection=c)
    if bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": ogc.CRS84}}
    return doc


@router.get("", summary="OGC API landing page", responses=ERRORS)
def landing(request: Request, principal: Reader) -> JSON:
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return JSON(
        {
            "title": "Timpora Map — OGC API Features",
            "description": "Layers of Timpora Kabupaten Sambas (GeoJSON, CRS84)",
            "links": [
                {"href": base, "rel": "self", "type": JSON_TYPE, "title": "This document"},
                {
                    "href": f"{root}/openapi.json",
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "title": "The API definition",
                },
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": JSON_TYPE},
                {"href": f"{base}/collections", "rel": "data", "type": JSON_TYPE},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes", responses=ERRORS)
def conformance(principal: Reader) -> JSON:
    return JSON({"conformsTo": list(ogc.CONFORMANCE)})


@router.get("/collections", summary="The collections this role may see", responses=ERRORS)
def collections(request: Request, session: SessionDep, principal: Reader) -> JSON:
    base = _base(request)
    return JSON(
        {
            "links": [{"href": f"{base}/collections", "rel": "self", "type": JSON_TYPE}],
            "collections": [
                _collection_doc(request, session, c)
                for c in ogc.visible_collections(principal.role)
            ],
        }
    )


@router.get("/collections/{collection_id}", summary="One collection", responses=ERRORS)
def collection(
    request: Request, session: SessionDep, principal: Reader, collection_id: str
) -> JSON:
    c = ogc.get_collection(collection_id, principal.role)
    return JSON(_collection_doc(request, session, c))


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSON,
    summary="Features of a collection (bbox, datetime, limit, offset; next links)",
    responses=ERRORS,
)
def collection_items(
    request: Request,
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (CRS84)")] = None,
    datetime: Annotated[
        str | None, Query(description="instant or interval start/end ('..' open)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    c = ogc.get_collection(collection_id, principal.role)
    start, end = ogc.parse_datetime(datetime)
    has_time = c.layer is None or c.layer.time_column is not None
    filters = ListFilters(
        bbox=parse_bbox(bbox),
        start=start if has_time else None,
        end=end if has_time else None,
        limit=limit,
        offset=offset,
    )
    page = ogc.items(
        session=session,
        collection=c,
        filters=filters,
        principal=principal,
        client=client_address(request),
    )
    url = f"{_base(request)}/collections/{c.id}/items"
    params: dict[str, Any] = {k: v for k, v in (("bbox", bbox), ("datetime", datetime)) if v}
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
    return GeoJSON(page.to_bytes(links=links))


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSON,
    summary="One feature",
    responses=ERRORS,
)
def collection_item(
    request: Request,
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    feature_id: str,
) -> Response:
    c = ogc.get_collection(collection_id, principal.role)
    feature = ogc.item(
        session=session,
        collection=c,
        feature_id=feature_id,
        principal=principal,
        client=client_address(request),
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
    return GeoJSON(feature)
