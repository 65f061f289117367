"""Hotspots and patrol planning: ``GET /api/v1/hotspots``, ``POST /api/v1/patrols/plan``
and the patrol log. Handlers parse and call ``geo``; all SQL and statistics live there."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import GeoJSON
from api.routing import Reader, client_address
from geo import access
from geo.deadline import time_limit
from geo.errors import ValidationError
from geo.hotspots import hotspots, to_feature_collection
from geo.patrol import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    DEFAULT_RECENT_FACTOR,
    get_patrol,
    list_patrols,
    log_patrol,
    patrol_feature,
    plan_patrol,
    plan_to_feature_collection,
)
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["hotspots"])

# A time as the client sent it: parsed by the filter family (geo.registry.filters), so a bad one
# gets the message every other face gives; documented as a date-time.
WhenText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

PlannerDep = Annotated[Principal, Depends(require(access.PLAN_PATROLS))]

PERSON_LAYERS = frozenset({"sightings"})


# Exact statistics of a cell of persons: with the counts around it they give a hidden count back
# (Gi* z is a linear function of the 7 counts of a cell's neighbourhood; the total minus the
# counts shown is the sum of those hidden). Roles without personal data keep the classes.
EXACT_STATISTICS = ("gi_z", "p_value", "p_fdr", "trend_z", "trend_p")


def _suppress(collection: dict[str, Any], role: str) -> dict[str, Any]:
    """Counts of persons (sightings) below 3 become "<3" for roles without personal data, and
    nothing that could give such a count back is left: no exact z or p value, no total
    (docs/privacy.md); the confidence and trend classes stay."""
    if collection["metadata"]["layer"] not in PERSON_LAYERS or access.sees_personal_data(role):
        return collection
    suppressed = False
    for feature in collection["features"]:
        props = feature["properties"]
        shown = access.suppress_count(int(props["count"]), role)
        if isinstance(shown, str):
            props["count"] = shown
            props["weight"] = shown
            suppressed = True
        for name in EXACT_STATISTICS:
            props.pop(name, None)
    if suppressed:
        collection["metadata"]["n_points"] = None
    return collection


@router.get(
    "/hotspots",
    response_class=GeoJSON,
    summary="Hex cells with Getis-Ord Gi* z, p, FDR confidence class and emerging-hotspot trend",
)
def get_hotspots(
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    layer: Annotated[str, Query(description="incidents or sightings")] = "incidents",
    cell_m: Annotated[float, Query(description="hexagon side in metres (EPSG:32649)")] = 1000.0,
    start: Annotated[WhenText | None, Query(description="ISO time; WIB if no offset")] = None,
    end: Annotated[WhenText | None, Query(description="ISO time; WIB if no offset")] = None,
    kind: Annotated[list[str] | None, Query(description="incident kind / sighting source")] = None,
    weight: Annotated[str, Query(description="count or severity (incidents)")] = "count",
    slice: Annotated[str, Query(description="time slice of the trend: week or month")] = "week",
    fdr: Annotated[bool, Query(description="Benjamini-Hochberg correction")] = True,
    include_empty: Annotated[
        bool, Query(description="list every cell, not only those with points, Gi* or trend")
    ] = False,
) -> GeoJSON:
    # A plain ``def``: FastAPI runs it in a worker thread, off the event loop; the time limit
    # ends it with a 503 at the analysis's next step (geo.deadline).
    with time_limit(settings.service.analysis_time_limit_s):
        result = hotspots(
            session=session,
            layer=layer,
            cell_m=cell_m,
            start=start,
            end=end,
            kinds=kind,
            weighting=weight,
            slice_unit=slice,
            fdr=fdr,
            reference_data_dir=settings.area.reference_data_dir,
        )
    collection = to_feature_collection(result, include_empty=include_empty)
    return GeoJSON(_suppress(collection, principal.role))


class PatrolPlanRequest(BaseModel):
    """What to plan: how many points, their radius, where from, and which hotspots."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(DEFAULT_K, description="maximum number of patrol points (1-50)")
    radius_m: float = Field(
        DEFAULT_RADIUS_M, description="a patrol point covers cells within this radius"
    )
    start_lon: float | None = Field(None, description="start; default the office, else Sambas")
    start_lat: float | None = None
    layer: str = "incidents"
    cell_m: float = 1000.0
    start: dt.datetime | None = Field(None, description="hotspot window; WIB if no offset")
    end: dt.datetime | None = None
    kind: list[str] | None = None
    weight: str = Field("count", description="count or severity (incidents)")
    weight_mode: str = Field("hot", description="hot: only hot cells count; count: all cells")
    min_confidence: int = Field(2, description="hot cells at >= 1/2/3 = 90/95/99 %")
    return_to_start: bool = True
    avoid_recent_days: int | None = Field(
        DEFAULT_AVOID_RECENT_DAYS,
        description="cells patrolled in the last N days weigh recent_factor times",
    )
    recent_factor: float = DEFAULT_RECENT_FACTOR


@router.post(
    "/patrols/plan",
    response_class=GeoJSON,
    summary="Patrol points (greedy maximum coverage of hotspot weight) and a route",
)
def post_patrol_plan(
    body: PatrolPlanRequest, session: SessionDep, settings: SettingsDep, principal: PlannerDep
) -> GeoJSON:
    if (body.start_lon is None) != (body.start_lat is None):
        raise ValidationError(
            "start_lon and start_lat must be given together",
            field="start_lon" if body.start_lon is None else "start_lat",
        )
    start_point = (
        (body.start_lon, body.start_lat)
        if body.start_lon is not None and body.start_lat is not None
        else None
    )
    with time_limit(settings.service.analysis_time_limit_s):
        plan = plan_patrol(
            session=session,
            k=body.k,
            radius_m=body.radius_m,
            start_point=start_point,
            area=settings.area,
            layer=body.layer,
            cell_m=body.cell_m,
            start=body.start,
            end=body.end,
            kinds=body.kind,
            weighting=body.weight,
            weight_mode=body.weight_mode,
            min_confidence=body.min_confidence,
            return_to_start=body.return_to_start,
            avoid_recent_days=body.avoid_recent_days,
            recent_factor=body.recent_factor,
        )
    return GeoJSON(plan_to_feature_collection(plan))


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: tuple[float, float]


class PatrolLogProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patrolled_at: dt.datetime
    ended_at: dt.datetime | None = None
    team: str | None = None
    radius_m: float = Field(
        DEFAULT_RADIUS_M, description="the area patrolled; by default what a plan's stop covers"
    )
    note: str | None = None
    sharing: Literal["timpora", "agencies", "agency"] = Field(
        "timpora",
        description="whom the entry is shared with: the whole Timpora, the agencies in "
        "shared_with, or the reporting agency only (docs/privacy.md)",
    )
    shared_with: list[str] = Field(
        default_factory=list, max_length=50, description="agency short names, for 'agencies'"
    )


class PatrolLogFeature(BaseModel):
    """A GeoJSON Feature (Point, lon/lat) with the patrol's time, team, radius and note."""

    type: Literal["Feature"]
    geometry: PointGeometry
    properties: PatrolLogProperties


@router.post(
    "/patrols/log",
    response_class=GeoJSON,
    status_code=201,
    summary="Record where and when a patrol went",
)
def post_patrol_log(
    body: PatrolLogFeature, request: Request, session: SessionDep, principal: PlannerDep
) -> GeoJSON:
    lon, lat = body.geometry.coordinates
    props = body.properties
    entry = log_patrol(
        session=session,
        lon=lon,
        lat=lat,
        patrolled_at=props.patrolled_at,
        ended_at=props.ended_at,
        team=props.team,
        radius_m=props.radius_m,
        note=props.note,
        principal=principal,
        client=client_address(request),
        sharing=props.sharing,
        shared_with=tuple(props.shared_with),
    )
    return GeoJSON(patrol_feature(entry, lon, lat), status_code=201)


@router.get("/patrols/log", response_class=GeoJSON, summary="The patrol log, newest first")
def get_patrol_log(
    session: SessionDep,
    principal: Reader,
    start: Annotated[dt.datetime | None, Query(description="ISO time; WIB if no offset")] = None,
    end: Annotated[dt.datetime | None, Query()] = None,
    limit: Annotated[int, Query()] = 100,
    offset: Annotated[int, Query()] = 0,
) -> GeoJSON:
    rows = list_patrols(session=session, start=start, end=end, limit=limit, offset=offset)
    return GeoJSON(
        {
            "type": "FeatureCollection",
            "features": [patrol_feature(entry, lon, lat) for entry, lon, lat in rows],
        }
    )


@router.get("/patrols/log/{patrol_id}", response_class=GeoJSON, summary="One patrol log entry")
def get_patrol_log_entry(patrol_id: int, session: SessionDep, principal: Reader) -> GeoJSON:
    entry, lon, lat = get_patrol(session=session, patrol_id=patrol_id)
    return GeoJSON(patrol_feature(entry, lon, lat))
