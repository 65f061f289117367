"""``timpora``: one command line for every job. It calls ``geo`` and ``maps``."""

from __future__ import annotations

import typer

from cli import agencies, alerts, boundaries, db, field, inspections, notify, ops, shards, users
from cli.actions import actions_app, meetings_app
from cli.briefing import briefing_command, snapshot_command
from cli.common import (
    console,
    err_console,
    fail,
    handle_errors,
    load_settings,
    open_service_database,
)
from cli.hotspots import hotspots_command, patrol_app
from cli.inspection_records import list_command, record_command
from cli.io import demo_app, export_command, import_command
from cli.maps import map_command
from cli.risk import risk_command
from cli.setup import setup
from geo.logs import configure_logging

app = typer.Typer(
    name="timpora",
    help="Timpora Map: geospatial monitoring of foreigners in Kabupaten Sambas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(agencies.app, name="agencies")
app.add_typer(alerts.app, name="alerts")
app.add_typer(actions_app, name="actions")
app.add_typer(meetings_app, name="meetings")
app.add_typer(notify.app, name="notify")
app.add_typer(boundaries.app, name="boundaries")
app.add_typer(shards.app, name="shards")
app.add_typer(field.app, name="devices")
app.command("tracks")(field.tracks_command)
app.command("setup")(setup)
app.command("import")(import_command)
app.command("export")(export_command)
app.add_typer(demo_app, name="demo")
app.command("hotspots")(hotspots_command)
app.command("risk")(risk_command)
inspections.app.command("record")(record_command)
inspections.app.command("list")(list_command)
app.add_typer(inspections.app, name="inspections")
app.add_typer(patrol_app, name="patrol")
app.command("purge")(ops.purge)
app.command("backup")(ops.backup)
app.command("restore")(ops.restore)
app.command("map")(map_command)
app.command("snapshot")(snapshot_command)
app.command("briefing")(briefing_command)


@app.command("serve")
@handle_errors
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default TIMPORA_HOST)."),
    port: int | None = typer.Option(None, help="Port (default TIMPORA_PORT, 8000)."),
) -> None:
    """Serve the API, the maps and the dashboard (starts the embedded database if needed)."""
    import uvicorn

    from api.app import create_app
    from geo.roles import login_problem

    settings = load_settings()
    configure_logging(json=settings.service.log_json, level=settings.service.log_level)
    database = open_service_database(settings)
    problem = login_problem(database.engine)
    if problem is not None:
        advice = (
            "; connect the service as its own login (TIMPORA_DATABASE_URL) and migrate as the "
            "owner (TIMPORA_DATABASE_OWNER_URL), see docs/privacy.md"
        )
        if settings.service.environment == "production":
            fail(problem + advice)
        err_console.print(f"[yellow]warning:[/] {problem}{advice}", highlight=False)
    application = create_app(settings, database)
    bind_host = host or settings.service.host
    bind_port = port or settings.service.port
    console.print(f"Timpora Map on http://{bind_host}:{bind_port}/")
    uvicorn.run(
        application,
        host=bind_host,
        port=bind_port,
        log_level=settings.service.log_level.lower(),
        log_config=None,  # keep configure_logging's handler (JSON on request)
        access_log=False,  # MetricsMiddleware writes one line per request, with its id
        timeout_graceful_shutdown=20,
    )


def main() -> None:  # pragma: no cover
    app()
