"""``GET /healthz``: liveness and database reachability, without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.deps import DatabaseDep
from api.responses import JSON

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Service and database health",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "database": "ok"}}}},
        503: {
            "content": {
                "application/json": {
                    "example": {
                        "status": "unavailable",
                        "database": "unreachable",
                        "detail": "the database does not answer; retry shortly",
                    }
                }
            }
        },
    },
)
def healthz(database: DatabaseDep) -> JSON:
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError:
        return JSON(
            {
                "status": "unavailable",
                "database": "unreachable",
                "detail": "the database does not answer; retry shortly",
            },
            status_code=503,
            headers={"Retry-After": "2"},
        )
    return JSON({"status": "ok", "database": "ok"})
