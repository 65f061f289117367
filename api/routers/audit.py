"""``GET /api/v1/audit``: the audit log, newest first (admins only); the SQL is ``geo.audit``'s."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from api.auth import require
from api.deps import SessionDep
from api.responses import JSON
from api.routing import ERRORS
from api.schemas import AuditPage
from geo import audit
from geo.access import READ_AUDIT
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Audit log: who read personal data or wrote what, newest first",
    responses=ERRORS,
)
def get_audit(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(READ_AUDIT))],
    user: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    resource: Annotated[str | None, Query(max_length=200, description="prefix")] = None,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_ENTRIES)] = 100,
) -> JSON:
    entries = audit.entries(
        session=session,
        user_name=user,
        action=action,
        resource_prefix=resource,
        start=start,
        end=end,
        before_id=before_id,
        limit=limit,
    )
    links = []
    if len(entries) == limit:
        params = {k: v for k, v in request.query_params.items() if k != "before_id"}
        params["before_id"] = str(entries[-1]["id"])
        links.append(
            {"href": f"{request.url.replace(query='')}?{urlencode(params)}", "rel": "next"}
        )
    return JSON({"entries": entries, "numberReturned": len(entries), "links": links})
