"""``timpora db``: the embedded cluster (or the configured server) and migrations."""

from __future__ import annotations

import typer

from cli.common import console, handle_errors, load_settings, open_database, provision_service
from geo.db import Database, check_connection, describe, embedded_cluster, owner_url
from geo.field.tracks import ensure_track_partitions
from geo.migrate import current_revision, downgrade, head_revision, upgrade
from geo.partitions import MONTHS_AHEAD, ensure_partitions, list_partitions

app = typer.Typer(help="Run the database: start, inspect, stop, migrate.", no_args_is_help=True)


@app.command("up")
@handle_errors
def db_up() -> None:
    """Create (once) and start the embedded PostGIS cluster, then migrate to the latest schema.

    With TIMPORA_DATABASE_URL set, only checks that server and migrates it.
    """
    settings = load_settings()
    if settings.database.embedded:
        cluster = embedded_cluster(settings.database)
        created = cluster.init()
        cluster.start()
        verb = "created and started" if created else "running"
        console.print(f"embedded database {verb}: {cluster.pgdata} (127.0.0.1:{cluster.port})")
    db = open_database(settings, migrate=False)
    before = current_revision(db.engine)
    upgrade(db.engine)
    provision_service(settings, db)
    after = current_revision(db.engine)
    console.print(f"schema at revision {after}" + (f" (was {before})" if before != after else ""))


@app.command("status")
@handle_errors
def db_status() -> None:
    """Print the PostgreSQL and PostGIS versions, where the data lives and the schema revision."""
    settings = load_settings()
    if settings.database.embedded:
        cluster = embedded_cluster(settings.database)
        cluster.check_data_dir()
        st = cluster.status()
        console.print(f"database: embedded cluster in {st.data_dir}")
        if not st.initialised:
            console.print("state: not created (run: timpora db up)")
            raise typer.Exit(1)
        console.print(f"state: {'running' if st.running else 'stopped'} on 127.0.0.1:{st.port}")
        if not st.running:
            console.print(f"postgresql: {st.server_version} (server stopped)")
            raise typer.Exit(1)
    url = owner_url(settings.database)
    if not settings.database.embedded:
        console.print(f"database: external server {describe(url)}")
    db = Database.from_settings(settings.database, url, maintenance=True)
    try:
        versions = check_connection(db.engine)
        console.print(f"postgresql: {versions['postgresql']}")
        console.print(f"postgis: {versions['postgis']}")
        rev = current_revision(db.engine)
        head = head_revision()
        state = "up to date" if rev == head else f"behind (latest {head}; run: timpora db upgrade)"
        console.print(f"schema: {rev or 'empty'} {state}")
    finally:
        db.dispose()


@app.command("partitions")
@handle_errors
def db_partitions(
    months_ahead: int = typer.Option(MONTHS_AHEAD, help="Months to make ahead of today."),
) -> None:
    """Make the monthly sighting and track partitions ahead (and drain the default ones); list
    the sighting partitions."""
    db = open_database(load_settings())
    with db.session() as session:
        made = ensure_partitions(session=session, months_ahead=months_ahead)
        made += ensure_track_partitions(session=session, months_ahead=months_ahead)
        parts = list_partitions(session=session)
    for part in parts:
        console.print(f"{part.name:20} {part.bound:70} ~{part.estimated_rows} rows")
    console.print(f"{made} partition(s) made")


@app.command("stop")
@handle_errors
def db_stop() -> None:
    """Stop the embedded cluster (does nothing for an external server)."""
    settings = load_settings()
    if not settings.database.embedded:
        console.print("TIMPORA_DATABASE_URL is set: the server is not ours to stop")
        return
    cluster = embedded_cluster(settings.database)
    stopped = cluster.stop()
    console.print("embedded database stopped" if stopped else "embedded database was not running")


@app.command("upgrade")
@handle_errors
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision."),
) -> None:
    """Apply the migrations up to REVISION (default: the latest)."""
    settings = load_settings()
    db = open_database(settings, migrate=False)
    upgrade(db.engine, revision)
    if current_revision(db.engine) == head_revision():
        provision_service(settings, db)
    console.print(f"schema at revision {current_revision(db.engine)}")


@app.command("downgrade")
@handle_errors
def db_downgrade(
    revision: str = typer.Argument(..., help="Target revision ('base' removes every table)."),
) -> None:
    """Undo migrations down to REVISION."""
    settings = load_settings()
    db = open_database(settings, migrate=False)
    downgrade(db.engine, revision)
    console.print(f"schema at revision {current_revision(db.engine) or 'base'}")
