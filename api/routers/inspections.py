"""``/api/v1/inspections``: joint inspections of workplaces and their findings.

Handlers call ``geo.inspections``; the checks and the SQL live there (docs/inspections.md).
Only digits are an inspection id, so other paths under ``/inspections/`` (the inspection plans)
are never read as one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import JSON
from api.routing import client_address
from geo import access, inspections
from geo.inspections.model import MAX_AGENCIES, MAX_FINDINGS, MAX_REASON, MAX_TEXT
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["inspections"])

Reader = Annotated[Principal, Depends(require(access.READ))]
Writer = Annotated[Principal, Depends(require(access.WRITE))]
InspectionId = Annotated[int, Path(ge=1, le=2**31 - 1)]

AGENCY = {"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "id or short name"}
FINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["foreigner_id", "finding", "action_taken"],
    "additionalProperties": False,
    "properties": {
        "foreigner_id": {"type": "integer"},
        "finding": {"type": "string", "enum": list(inspections.FINDINGS)},
        "action_taken": {"type": "string", "enum": list(inspections.ACTIONS)},
        "note": {"type": "string", "maxLength": MAX_TEXT},
        "permit_expires_on": {
            "type": "string",
            "format": "date",
            "description": "the permit's expiry read on the document; updates the registry",
        },
        "status": {
            "type": "string",
            "description": "a new registry status for the person (e.g. absconded)",
        },
    },
}
INSPECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["workplace_id", "inspected_on", "led_by"],
    "additionalProperties": False,
    "properties": {
        "workplace_id": {"type": "integer"},
        "inspected_on": {"type": "string", "format": "date"},
        "checked_at": {
            "type": "string",
            "format": "date-time",
            "description": "when the persons were checked (default noon WIB of the day)",
        },
        "led_by": AGENCY,
        "agencies": {"type": "array", "items": AGENCY, "maxItems": MAX_AGENCIES},
        "summary": {"type": "string", "maxLength": MAX_TEXT},
        "external_ref": {"type": "string", "maxLength": 100},
        "plan_stop_id": {
            "type": "integer",
            "description": "the stop of a saved inspection plan this inspection carries out",
        },
        "findings": {"type": "array", "items": FINDING_SCHEMA, "maxItems": MAX_FINDINGS},
    },
}


class VoidIn(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.post(
    "/inspections",
    status_code=201,
    summary="Record an inspection with its findings (registry updated in the same transaction)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": INSPECTION_SCHEMA}},
        }
    },
)
def post_inspection(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Writer,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    client = client_address(request)
    new_id = inspections.record(
        session=session, principal=principal, body=body, area=settings.area, client=client
    )
    item = inspections.get_inspection(
        session=session, principal=principal, inspection_id=new_id, client=client
    )
    return JSON(item, status_code=201, headers={"Location": f"{request.url.path}/{new_id}"})


@router.get(
    "/inspections",
    summary="Inspections, newest first: persons for personal roles, counts for the others",
)
def get_inspections(
    request: Request,
    session: SessionDep,
    principal: Reader,
    workplace_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    agency: Annotated[
        str | None, Query(max_length=64, description="id or short name; led or present")
    ] = None,
    start: Annotated[dt.date | None, Query(description="inspected on or after")] = None,
    end: Annotated[dt.date | None, Query(description="inspected on or before")] = None,
    include_void: bool = False,
    limit: Annotated[int, Query(ge=1, le=inspections.reads.MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=inspections.reads.MAX_OFFSET)] = 0,
) -> JSON:
    query = inspections.parse_query(
        workplace_id=workplace_id,
        agency=agency,
        start=start,
        end=end,
        include_void=include_void,
        limit=limit,
        offset=offset,
    )
    return JSON(
        inspections.list_inspections(
            session=session, principal=principal, query=query, client=client_address(request)
        )
    )


@router.get("/inspections/{inspection_id:int}", summary="One inspection (void ones too)")
def get_inspection(
    inspection_id: InspectionId, request: Request, session: SessionDep, principal: Reader
) -> JSON:
    return JSON(
        inspections.get_inspection(
            session=session,
            principal=principal,
            inspection_id=inspection_id,
            client=client_address(request),
        )
    )


@router.post(
    "/inspections/{inspection_id:int}/void",
    summary="Void an inspection with a reason (it stays on record; audited)",
)
def void_inspection(
    inspection_id: InspectionId,
    body: VoidIn,
    request: Request,
    session: SessionDep,
    principal: Writer,
) -> JSON:
    client = client_address(request)
    inspections.void(
        session=session,
        principal=principal,
        inspection_id=inspection_id,
        reason=body.reason,
        client=client,
    )
    return JSON(
        inspections.get_inspection(
            session=session, principal=principal, inspection_id=inspection_id, client=client
        )
    )
