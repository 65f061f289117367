"""Request dependencies: settings, the database session and the database role it runs under."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from geo.db import Database
from geo.roles import role_for, use_role_and_agency
from geo.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; committed when the handler returns, rolled back on error."""
    database = get_database(request)
    with database.session() as session:
        yield session


async def enter_database_role(session: Session, app_role: str, agency_id: int | None) -> None:
    """Run the rest of the request under the database role of the caller's role
    (``timpora_personal`` or ``timpora_aggregate``) and for the caller's agency (the row-level
    policies of shared records, docs/privacy.md): PostgreSQL itself then refuses what the caller
    may not read, whatever the code above it asks."""
    role = role_for(app_role)
    if session.in_transaction():  # the token was looked up: SET LOCAL is a round trip
        await run_in_threadpool(use_role_and_agency, session, role, agency_id)
    else:  # a cached token: both are set when the transaction begins
        use_role_and_agency(session, role, agency_id)


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit runs when the handler returns and BEFORE the response is sent,
# so a client never receives 201 for a write whose commit then failed (FastAPI's default,
# "request", commits after sending; the load/fault test lost an acknowledged sighting that way).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
