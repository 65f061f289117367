"""``GET /api/v1/audit``: the audit log, newest first (admins only)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import text

from api.auth import require
from api.deps import SessionDep
from api.responses import JSON
from api.routers.resources import ERRORS
from api.schemas import AuditPage
from geo.access import READ_AUDIT
from geo.registry import parse_time
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["audit"])

AUDIT_SQL = text(
    """
    SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
           user_name, role, action, resource, record_count, client, details
    FROM audit_log
    WHERE (CAST(:user_name AS text) IS NULL OR user_name = :user_name)
      AND (CAST(:action AS text) IS NULL OR action = :action)
      AND (CAST(:resource AS text) IS NULL OR resource LIKE :resource || '%')
      AND (CAST(:start AS timestamptz) IS NULL OR at >= :start)
      AND (CAST(:end AS timestamptz) IS NULL OR at < :end)
      AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id)
    ORDER BY id DESC
    LIMIT :limit
    """
)


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
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> JSON:
    rows = session.execute(
        AUDIT_SQL,
        {
            "user_name": user,
            "action": action,
            "resource": resource.replace("%", r"\%").replace("_", r"\_") if resource else None,
            "start": parse_time(start, field="start"),
            "end": parse_time(end, field="end"),
            "before_id": before_id,
            "limit": limit,
        },
    ).mappings()
    entries = [dict(r) for r in rows]
    links = []
    if len(entries) == limit:
        params = {k: v for k, v in request.query_params.items() if k != "before_id"}
        params["before_id"] = str(entries[-1]["id"])
        links.append(
            {"href": f"{request.url.replace(query='')}?{urlencode(params)}", "rel": "next"}
        )
    return JSON({"entries": entries, "numberReturned": len(entries), "links": links})
