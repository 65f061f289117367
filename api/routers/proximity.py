"""``GET /api/v1/proximity``: everything within ``radius_m`` of a point, nearest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import require
from api.deps import SessionDep
from api.responses import GeoJSON
from api.routing import ERRORS, client_address
from api.schemas import FeaturePage
from geo import proximity
from geo.access import READ
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["proximity"])


@router.get(
    "/proximity",
    response_class=GeoJSON,
    summary="Features within a radius of a point, with exact distances in metres (EPSG:32649)",
    responses={200: {"model": FeaturePage}, **ERRORS},
)
def get_proximity(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(READ))],
    lon: Annotated[float, Query(ge=-180, le=180, examples=[109.6467])],
    lat: Annotated[float, Query(ge=-90, le=90, examples=[1.4133])],
    radius_m: Annotated[float, Query(gt=0, le=proximity.MAX_RADIUS_M, examples=[2000])],
    layers: Annotated[
        list[str] | None,
        Query(description=f"any of {', '.join(proximity.LAYERS)} (default: all)"),
    ] = None,
    start: Annotated[str | None, Query(description="sightings/incidents from (ISO 8601)")] = None,
    end: Annotated[str | None, Query(description="sightings/incidents before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=proximity.MAX_RESULTS)] = 1000,
) -> Response:
    query = proximity.parse_query(
        lon=lon, lat=lat, radius_m=radius_m, layers=layers, start=start, end=end, limit=limit
    )
    body = proximity.nearby(
        session=session, query=query, principal=principal, client=client_address(request)
    )
    return GeoJSON(body)
