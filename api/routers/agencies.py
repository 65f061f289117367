"""The Timpora's member agencies: every signed-in role lists them; administrators add and edit
them (``users:manage``), each change audited. Nothing deletes an agency: ``"active": false``
retires one (docs/privacy.md, "Member agencies")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require, token_cache
from api.deps import SessionDep
from api.responses import JSON
from api.routing import ERRORS, client_address
from geo import access, audit
from geo.agencies import (
    AgencyChange,
    agency_view,
    create_agency,
    list_agencies,
    update_agency,
)
from geo.models import AGENCY_KINDS
from geo.users import Principal

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])

Reader = Annotated[Principal, Depends(require(access.READ))]
Admin = Annotated[Principal, Depends(require(access.MANAGE_USERS))]
ShortName = Annotated[
    str, Path(min_length=1, max_length=24, description="the agency's short name, e.g. POLRES")
]


class NewAgency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="full name, unique")
    short_name: str = Field(
        min_length=1, max_length=24, description="unique; letters, digits, '-', '_' (upper case)"
    )
    kind: str = Field(description=f"one of {', '.join(AGENCY_KINDS)}")
    personal_data: bool = Field(
        False, description="whether the agency's function needs the foreigners' personal data"
    )


class AgencyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=120)
    short_name: str | None = Field(None, min_length=1, max_length=24)
    kind: str | None = Field(None, description=f"one of {', '.join(AGENCY_KINDS)}")
    personal_data: bool | None = None
    active: bool | None = Field(None, description="false retires the agency (never deleted)")


@router.get("", summary="The member agencies (name, short name, kind, personal data, active)")
def get_agencies(session: SessionDep, principal: Reader) -> JSON:
    agencies = list_agencies(session=session)
    return JSON({"agencies": [agency_view(a) for a in agencies], "kinds": list(AGENCY_KINDS)})


@router.post("", status_code=201, summary="Add a member agency (audited)", responses=ERRORS)
def add_agency(request: Request, session: SessionDep, principal: Admin, body: NewAgency) -> JSON:
    agency = create_agency(
        session=session,
        name=body.name,
        short_name=body.short_name,
        kind=body.kind,
        personal_data=body.personal_data,
    )
    view = agency_view(agency)
    audit.record(
        session=session,
        principal=principal,
        action="create",
        resource=f"agencies/{agency.short_name}",
        record_count=1,
        client=client_address(request),
        details={k: v for k, v in view.items() if k != "id"},
    )
    return JSON(view, status_code=201)


@router.patch(
    "/{short_name}",
    summary="Edit an agency: name, short name, kind, personal data, active (audited)",
    responses=ERRORS,
)
def edit_agency(
    request: Request,
    session: SessionDep,
    principal: Admin,
    short_name: ShortName,
    body: AgencyPatch,
) -> JSON:
    agency, changed = update_agency(
        session=session, short_name=short_name, change=AgencyChange(**body.model_dump())
    )
    if "personal_data" in changed or "active" in changed:
        # What its users may see changes: no process keeps a principal of the old standing here.
        token_cache(request.app).clear()
    if changed:
        audit.record(
            session=session,
            principal=principal,
            action="update",
            resource=f"agencies/{agency.short_name}",
            record_count=1,
            client=client_address(request),
            details={"changed": changed},
        )
    return JSON(agency_view(agency))
