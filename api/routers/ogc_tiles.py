"""``/ogc/tileMatrixSets`` and ``/ogc/collections/{id}/tiles``: OGC API – Tiles and TileJSON for
the vector tile layers, so QGIS, GDAL and MapLibre add them from the landing page.

The tiles are those of ``/tiles/{layer}/{z}/{x}/{y}.mvt`` (same bytes, same rules per role);
OGC addresses them as ``{tileMatrix}/{tileRow}/{tileCol}``, that is ``{z}/{y}/{x}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import SessionDep
from api.responses import JSON
from api.routing import ERRORS, Reader
from geo import ogc, tiles
from geo.errors import NotFoundError
from geo.ogc import tilesets

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON_TYPE = "application/json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _tiled(collection_id: str, role: str) -> ogc.Collection:
    c = ogc.get_collection(collection_id, role)
    if not c.tiles:
        raise NotFoundError(f"collection {c.id!r} has no tiles")
    return c


@router.get("/tileMatrixSets", summary="The tile matrix sets of the tiles", responses=ERRORS)
def tile_matrix_sets(request: Request, principal: Reader) -> JSON:
    url = f"{_base(request)}/tileMatrixSets/{tilesets.TMS_ID}"
    return JSON(
        {
            "links": [
                {"href": f"{_base(request)}/tileMatrixSets", "rel": "self", "type": JSON_TYPE}
            ],
            "tileMatrixSets": [
                {
                    "id": tilesets.TMS_ID,
                    "title": "Google Maps Compatible for the World",
                    "uri": tilesets.TMS_URI,
                    "links": [{"href": url, "rel": tilesets.REL_TILING_SCHEME, "type": JSON_TYPE}],
                }
            ],
        }
    )


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}", summary="A tile matrix set's definition", responses=ERRORS
)
def tile_matrix_set(principal: Reader, tileMatrixSetId: str) -> JSON:
    tilesets.check_tile_matrix_set(tileMatrixSetId)
    return JSON(tilesets.tile_matrix_set())


@router.get(
    "/collections/{collection_id}/tiles",
    summary="The tilesets of a collection",
    responses=ERRORS,
)
def collection_tilesets(request: Request, principal: Reader, collection_id: str) -> JSON:
    c = _tiled(collection_id, principal.role)
    return JSON(tilesets.tilesets(base=_base(request), collection_id=c.id, title=c.title))


@router.get(
    "/collections/{collection_id}/tiles/{tileMatrixSetId}",
    summary="A collection's tileset (metadata, tile URL template)",
    responses=ERRORS,
)
def collection_tileset(
    request: Request,
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    tileMatrixSetId: str,
) -> JSON:
    c = _tiled(collection_id, principal.role)
    tilesets.check_tile_matrix_set(tileMatrixSetId)
    return JSON(
        tilesets.tileset(
            base=_base(request),
            collection_id=c.id,
            title=c.title,
            bbox=ogc.extent(session=session, collection=c),
        )
    )


@router.get(
    "/collections/{collection_id}/tiles/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON 3.0 of a collection's tiles (MapLibre, Leaflet, QGIS XYZ)",
    responses=ERRORS,
)
def collection_tilejson(
    request: Request,
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    tileMatrixSetId: str,
) -> JSON:
    c = _tiled(collection_id, principal.role)
    tilesets.check_tile_matrix_set(tileMatrixSetId)
    return JSON(
        tilesets.tilejson(
            base=_base(request),
            collection_id=c.id,
            title=c.title,
            description=c.description,
            bbox=ogc.extent(session=session, collection=c),
        )
    )


@router.get(
    "/collections/{collection_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A vector tile (the same as /tiles/{layer}/{z}/{x}/{y}.mvt)",
    responses={
        200: {"content": {tilesets.MVT_TYPE: {}}},
        204: {"description": "Empty tile"},
        **ERRORS,
    },
    response_class=Response,
)
def collection_tile(
    session: SessionDep,
    principal: Reader,
    collection_id: str,
    tileMatrixSetId: str,
    tileMatrix: Annotated[int, Path(ge=0, le=tiles.MAX_ZOOM)],
    tileRow: Annotated[int, Path(ge=0, le=2**tiles.MAX_ZOOM - 1)],
    tileCol: Annotated[int, Path(ge=0, le=2**tiles.MAX_ZOOM - 1)],
    datetime: Annotated[
        str | None, Query(description="instant or interval start/end ('..' open)")
    ] = None,
) -> Response:
    c = _tiled(collection_id, principal.role)
    tilesets.check_tile_matrix_set(tileMatrixSetId)
    start, end = ogc.parse_datetime(datetime)
    request = tiles.TileRequest(
        layer=c.id, z=tileMatrix, x=tileCol, y=tileRow, start=start, end=end
    )
    body = tiles.render(session=session, request=request, role=principal.role)
    headers = {"Cache-Control": "private, max-age=60"}
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=tilesets.MVT_TYPE, headers=headers)
