"""Users and their bearer tokens, for administrators (``users:manage``): list, add, move to
another agency, rotate, revoke. The same ``geo.users`` functions as ``timpora users``; a new
token is in the answer of the request that made it and nowhere else (stored hashed), and every
change leaves an audit row.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require, token_cache
from api.deps import SessionDep
from api.responses import JSON
from api.routing import ERRORS, client_address
from geo import access, audit
from geo.models import ROLES, Agency, AppUser
from geo.times import to_wib
from geo.users import (
    Principal,
    create_user,
    get_user,
    list_users,
    move_user,
    revoke_user,
    rotate_token,
    user_agencies,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"])

Admin = Annotated[Principal, Depends(require(access.MANAGE_USERS))]
UserName = Annotated[str, Path(min_length=1, max_length=100, description="the user's name")]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="unique; shown on exports")
    role: str = Field(description=f"one of {', '.join(ROLES)}")
    agency: str | None = Field(
        None,
        max_length=24,
        description="the short name of the user's agency (GET /api/v1/agencies); "
        "default: the immigration office",
    )


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: str = Field(min_length=1, max_length=24, description="the agency's short name")


def _wib(value: dt.datetime | None) -> str | None:
    return to_wib(value).isoformat() if value else None


def _view(user: AppUser, agencies: dict[int, Agency]) -> dict[str, Any]:
    agency = agencies.get(user.agency_id)
    return {
        "name": user.name,
        "role": user.role,
        "agency": agency.short_name if agency else None,
        "agency_name": agency.name if agency else None,
        "created_at": _wib(user.created_at),
        "revoked_at": _wib(user.revoked_at),
        "active": user.revoked_at is None,
    }


@router.get("", summary="Users, their roles and whether (when) revoked; times in WIB")
def get_users(session: SessionDep, principal: Admin) -> JSON:
    users = list_users(session=session)
    agencies = user_agencies(session=session)
    return JSON({"users": [_view(u, agencies) for u in users], "roles": list(ROLES)})


@router.post(
    "",
    status_code=201,
    summary="Add a user; the answer holds the bearer token, shown this once",
    responses=ERRORS,
)
def add_user(request: Request, session: SessionDep, principal: Admin, body: NewUser) -> JSON:
    user, token = create_user(session=session, name=body.name, role=body.role, agency=body.agency)
    agencies = user_agencies(session=session)
    view = _view(user, agencies)
    audit.record(
        session=session,
        principal=principal,
        action="create",
        resource=f"users/{user.name}",
        record_count=1,
        client=client_address(request),
        details={"role": user.role, "agency": view["agency"]},
    )
    return JSON({**view, "token": token}, status_code=201)


@router.patch(
    "/{name}",
    summary="Move a user to another agency (from the next request on; audited)",
    responses=ERRORS,
)
def edit_user(
    request: Request, session: SessionDep, principal: Admin, name: UserName, body: UserPatch
) -> JSON:
    user, old, new = move_user(session=session, name=name, agency=body.agency)
    # What the user may see follows the agency: no cached principal keeps the old one here.
    token_cache(request.app).forget_user(name)
    if old != new:
        audit.record(
            session=session,
            principal=principal,
            action="update",
            resource=f"users/{name}",
            record_count=1,
            client=client_address(request),
            details={"agency": [old, new]},
        )
    return JSON(_view(user, user_agencies(session=session)))


@router.post(
    "/{name}/rotate",
    summary="A new token for a user (the old one stops working; a revoked user is active again)",
    responses=ERRORS,
)
def rotate_user(request: Request, session: SessionDep, principal: Admin, name: UserName) -> JSON:
    token = rotate_token(session=session, name=name)
    token_cache(request.app).forget_user(name)
    audit.record(
        session=session,
        principal=principal,
        action="rotate",
        resource=f"users/{name}",
        record_count=1,
        client=client_address(request),
    )
    user = get_user(session=session, name=name)
    return JSON({**_view(user, user_agencies(session=session)), "token": token})


@router.post(
    "/{name}/revoke",
    summary="Revoke a user's token: its requests get 401 from now on",
    responses=ERRORS,
)
def revoke(request: Request, session: SessionDep, principal: Admin, name: UserName) -> JSON:
    user = revoke_user(session=session, name=name)
    token_cache(request.app).forget_user(name)
    audit.record(
        session=session,
        principal=principal,
        action="revoke",
        resource=f"users/{name}",
        record_count=1,
        client=client_address(request),
    )
    return JSON(_view(user, user_agencies(session=session)))
