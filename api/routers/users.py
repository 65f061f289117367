"""Users and their bearer tokens, for administrators (``users:manage``): list, add, rotate,
revoke. The same ``geo.users`` functions as ``timpora users``; a new token is in the answer of
the request that made it and nowhere else (stored hashed), and every change leaves an audit row.
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
from geo.models import ROLES, AppUser
from geo.times import to_wib
from geo.users import (
    Principal,
    create_user,
    get_user,
    list_users,
    revoke_user,
    rotate_token,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"])

Admin = Annotated[Principal, Depends(require(access.MANAGE_USERS))]
UserName = Annotated[str, Path(min_length=1, max_length=100, description="the user's name")]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="unique; shown on exports")
    role: str = Field(description=f"one of {', '.join(ROLES)}")


def _wib(value: dt.datetime | None) -> str | None:
    return to_wib(value).isoformat() if value else None


def _view(user: AppUser) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "created_at": _wib(user.created_at),
        "revoked_at": _wib(user.revoked_at),
        "active": user.revoked_at is None,
    }


@router.get("", summary="Users, their roles and whether (when) revoked; times in WIB")
def get_users(session: SessionDep, principal: Admin) -> JSON:
    users = list_users(session=session)
    return JSON({"users": [_view(u) for u in users], "roles": list(ROLES)})


@router.post(
    "",
    status_code=201,
    summary="Add a user; the answer holds the bearer token, shown this once",
    responses=ERRORS,
)
def add_user(request: Request, session: SessionDep, principal: Admin, body: NewUser) -> JSON:
    user, token = create_user(session=session, name=body.name, role=body.role)
    audit.record(
        session=session,
        principal=principal,
        action="create",
        resource=f"users/{user.name}",
        record_count=1,
        client=client_address(request),
        details={"role": user.role},
    )
    return JSON({**_view(user), "token": token}, status_code=201)


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
    return JSON({**_view(user), "token": token})


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
    return JSON(_view(user))
