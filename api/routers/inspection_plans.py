"""``/api/v1/inspections/plans``: inspection plans made, saved and read back.

Handlers call ``geo.inspection_plan``; the SQL and the heuristic live there (docs/risk.md,
"Inspection plan"). Making a plan needs the right to plan patrols; reading one, the right to
read the maps. Roles with personal data also get the persons behind each stop (audited).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import JSON, GeoJSON
from api.routing import Reader, client_address, download
from geo import access, inspection_plan, risk
from geo.deadline import time_limit
from geo.inspection_plan import service
from geo.users import Principal
from maps.inspection_plan_pdf import plan_pdf_file

router = APIRouter(prefix="/api/v1", tags=["inspections"])

Planner = Annotated[Principal, Depends(require(access.PLAN_PATROLS))]


class InspectionPlanRequest(BaseModel):
    """Where from, how far, how many stops, when, where, and the ranking's parameters."""

    model_config = ConfigDict(extra="forbid")

    start_lon: float | None = Field(None, description="start; default the office, else Sambas")
    start_lat: float | None = None
    start_place: str | None = Field(
        None,
        max_length=service.MAX_PLACE_CHARS,
        description="a named start: crossing post, office, town or landmark (e.g. PLBN Aruk)",
    )
    period: str = Field("day", description="day, or week (Monday to Friday of date's week)")
    date: dt.date | None = Field(None, description="the day (default today, WIB)")
    max_route_km: float = Field(
        service.DEFAULT_ROUTE_KM, description="one day's route, the return included (1-300)"
    )
    max_stops: int = Field(service.DEFAULT_STOPS, description="stops per day (1-12)")
    kecamatan: str | None = Field(None, description="Kemendagri code or name")
    radius_m: float = Field(300.0, description="a workplace's area for the ranking (10-2000)")
    window_days: int = Field(90, description="sightings/incidents this recent (1-730)")
    expiring_days: int = Field(30, description="permits expiring within (0-180)")
    as_of: dt.date | None = Field(None, description="the ranking's reference date (default date)")


@router.post(
    "/inspections/plans",
    response_class=GeoJSON,
    status_code=201,
    summary="Plan joint inspections: top-risk workplaces within reach, in order; saved",
)
def post_plan(
    body: InspectionPlanRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Planner,
) -> GeoJSON:
    plan_request = inspection_plan.parse_request(
        session=session,
        area=settings.area,
        start_lon=body.start_lon,
        start_lat=body.start_lat,
        start_place=body.start_place,
        period=body.period,
        date=body.date,
        max_route_km=body.max_route_km,
        max_stops=body.max_stops,
        kecamatan=body.kecamatan,
        radius_m=body.radius_m,
        window_days=body.window_days,
        expiring_days=body.expiring_days,
        as_of=body.as_of,
    )
    with time_limit(settings.service.analysis_time_limit_s):
        plan = inspection_plan.make_plan(
            session=session,
            request=plan_request,
            principal=principal,
            client=client_address(request),
        )
    return GeoJSON(plan, status_code=201)


@router.get("/inspections/plans", summary="Saved inspection plans, newest first")
def get_plans(
    session: SessionDep,
    principal: Reader,
    start: Annotated[dt.date | None, Query(description="plans ending on or after")] = None,
    end: Annotated[dt.date | None, Query(description="plans starting on or before")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSON:
    plans = inspection_plan.list_plans(
        session=session, limit=limit, offset=offset, start=start, end=end
    )
    return JSON({"plans": plans, "factors": list(risk.FACTOR_NAMES)})


@router.get(
    "/inspections/plans/{plan_id:int}",
    response_class=GeoJSON,
    summary="One saved plan: start, stops in order with reasons and agencies, route",
)
def get_plan(plan_id: int, request: Request, session: SessionDep, principal: Reader) -> GeoJSON:
    return GeoJSON(
        inspection_plan.get_plan(
            session=session,
            plan_id=plan_id,
            principal=principal,
            client=client_address(request),
        )
    )


@router.get(
    "/inspections/plans/{plan_id:int}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="One saved plan as a one-page A4 field sheet: route map, stops, reasons, agencies",
)
def get_plan_pdf(
    plan_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    lang: Annotated[str | None, Query(description="id (default) or en")] = None,
) -> Response:
    made = plan_pdf_file(
        session=session,
        settings=settings,
        principal=principal,
        plan_id=plan_id,
        lang=lang,
        client=client_address(request),
    )
    return download(made.content, media_type=made.media_type, file_name=made.file_name)
