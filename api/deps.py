"""Request dependencies: settings, the database session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from geo.db import Database
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


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit runs when the handler returns and BEFORE the response is sent,
# so a client never receives 201 for a write whose commit then failed (FastAPI's default,
# "request", commits after sending; the load/fault test lost an acknowledged sighting that way).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
