"""The application factory: ``create_app(settings)`` builds a FastAPI app from explicit settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from api.docs import add_docs
from api.errors import add_exception_handlers
from api.metrics import install_metrics
from api.middleware import add_middleware
from api.openapi import install_openapi
from api.responses import JSON
from api.routers import actions as actions_router
from api.routers import agencies as agencies_router
from api.routers import alerts as alerts_router
from api.routers import alerts_triage, dashboard, health, patrol_live
from api.routers import audit as audit_router
from api.routers import basemap as basemap_router
from api.routers import briefing as briefing_router
from api.routers import field as field_router
from api.routers import hotspots as hotspots_router
from api.routers import inspection_plans as inspection_plans_router
from api.routers import inspections as inspections_router
from api.routers import io as io_router
from api.routers import maps as maps_router
from api.routers import notifications as notifications_router
from api.routers import ogc as ogc_router
from api.routers import ogc_tiles as ogc_tiles_router
from api.routers import proximity as proximity_router
from api.routers import resources as resources_router
from api.routers import risk as risk_router
from api.routers import tiles as tiles_router
from api.routers import users as users_router
from geo.db import Database
from geo.errors import TimporaError
from geo.field.tracks import ensure_track_partitions
from geo.io.jobs import ImportJobs
from geo.partitions import ensure_partitions
from geo.settings import Settings

log = logging.getLogger("timpora.api")

API_DESCRIPTION = """
Timpora Map — the geospatial monitoring service of Timpora Kabupaten Sambas.

Geometries are GeoJSON in EPSG:4326 (lon, lat); distances are metres measured in
EPSG:32649. Times are ISO 8601; a time without an offset is read as WIB (UTC+7).
Authenticate with `Authorization: Bearer <token>` (`timpora users add NAME --role ROLE`).
"""


def _maintain_partitions(database: Database) -> None:
    """Make next months' sighting and track partitions at start-up; a down database must not
    stop it."""
    try:
        with database.session() as session:
            # Making a partition locks the table: never wait long behind open transactions.
            session.execute(text("SET LOCAL lock_timeout = '2s'"))
            ensure_partitions(session=session)
            ensure_track_partitions(session=session)
    except (DBAPIError, TimporaError) as exc:
        log.warning("monthly partitions not checked at start-up: %s", type(exc).__name__)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app. ``database`` may be shared (tests, the CLI); otherwise one is made."""
    settings = settings or Settings()
    owns_database = database is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_maintain_partitions, app.state.database)
        alerts_router.start_alert_services(app)
        notifications_router.start_notify_worker(app)
        patrol_live.start_position_services(app)
        yield
        patrol_live.stop_position_services(app)
        notifications_router.stop_notify_worker(app)
        alerts_router.stop_alert_services(app)
        await run_in_threadpool(app.state.imports.close)
        if owns_database:
            app.state.database.dispose()

    app = FastAPI(
        title="Timpora Map",
        version="0.1.0",
        description=API_DESCRIPTION,
        default_response_class=JSON,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database or Database.from_settings(settings.database)
    # Imports run as jobs in worker processes, started on the first import (geo.io.jobs).
    app.state.imports = ImportJobs(
        database=settings.database, area=settings.area, settings=settings.imports
    )
    add_exception_handlers(app)
    install_metrics(app, app.state.database)
    install_openapi(app)
    app.include_router(health.router)
    app.include_router(alerts_triage.router)  # before alerts: /alerts/queue vs /alerts/{id}
    app.include_router(alerts_router.router)
    app.include_router(notifications_router.router)
    app.include_router(hotspots_router.router)
    app.include_router(io_router.router)  # before resources: /{layer}/export vs /{id}
    app.include_router(risk_router.router)  # before resources: /workplaces/risk vs /{id}
    app.include_router(actions_router.router)  # before agencies: /agencies/contributions
    app.include_router(inspection_plans_router.router)
    app.include_router(inspections_router.router)
    app.include_router(resources_router.router)
    app.include_router(proximity_router.router)
    app.include_router(audit_router.router)
    app.include_router(users_router.router)
    app.include_router(agencies_router.router)
    app.include_router(ogc_router.router)
    app.include_router(ogc_tiles_router.router)
    app.include_router(tiles_router.router)
    app.include_router(basemap_router.router)
    app.include_router(field_router.router)
    app.include_router(patrol_live.router)
    add_docs(app)
    add_middleware(app, settings)
    app.include_router(briefing_router.router)  # before /maps/{view}: fixed paths win
    app.include_router(maps_router.router)
    app.include_router(dashboard.router)
    return app
