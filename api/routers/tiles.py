"""``GET /tiles/{layer}/{z}/{x}/{y}.mvt``: Mapbox vector tiles built by PostGIS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.auth import require
from api.deps import SessionDep
from api.routing import ERRORS
from geo import tiles
from geo.access import READ
from geo.registry import parse_time
from geo.users import Principal

router = APIRouter(tags=["tiles"])

MVT_TYPE = "application/vnd.mapbox-vector-tile"


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    summary="A vector tile (admin-areas, zones, incidents, sightings); points as grid counts "
    f"below zoom {tiles.POINT_MIN_ZOOM}",
    responses={200: {"content": {MVT_TYPE: {}}}, 204: {"description": "Empty tile"}, **ERRORS},
    response_class=Response,
)
def get_tile(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(READ))],
    layer: Annotated[str, Path(description=", ".join(tiles.LAYERS))],
    z: Annotated[int, Path(ge=0, le=tiles.MAX_ZOOM)],
    x: Annotated[int, Path(ge=0, le=2**tiles.MAX_ZOOM - 1)],
    y: Annotated[int, Path(ge=0, le=2**tiles.MAX_ZOOM - 1)],
    start: Annotated[str | None, Query(description="ISO 8601; no offset = WIB")] = None,
    end: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
) -> Response:
    request = tiles.TileRequest(
        layer=layer,
        z=z,
        x=x,
        y=y,
        start=parse_time(start, field="start"),
        end=parse_time(end, field="end"),
    )
    body = tiles.render(session=session, request=request, role=principal.role)
    headers = {"Cache-Control": "private, max-age=60"}
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT_TYPE, headers=headers)
