"""``timpora shards add | list | remove``: office shards reached through postgres_fdw."""

from __future__ import annotations

import os

import typer

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    console,
    fail,
    handle_errors,
    load_settings,
    open_database,
    print_records,
    say,
)
from geo.sharding import attach_shard, detach_shard, list_shards

app = typer.Typer(
    help="Office shards on other PostGIS servers, federated by postgres_fdw (docs/scaling.md).",
    no_args_is_help=True,
)


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "NO")


@app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="Office name (lower case, e.g. entikong)."),
    host: str = typer.Option(..., "--host", help="The shard's PostgreSQL host."),
    port: int = typer.Option(5432, "--port"),
    dbname: str = typer.Option("timpora", "--dbname"),
    user: str = typer.Option(..., "--user", help="Role on the shard (read access suffices)."),
    password_env: str = typer.Option(
        "TIMPORA_SHARD_PASSWORD",
        "--password-env",
        help="Environment variable holding the password (else it is asked for, hidden).",
    ),
    fetch_size: int = typer.Option(10_000, "--fetch-size", help="Rows per remote fetch."),
) -> None:
    """Attach a shard: foreign server, user mapping, foreign tables, national views.

    The password is never taken as an argument (it would sit in the shell history and ps).
    """
    password = os.environ.get(password_env) or typer.prompt(
        "shard password", hide_input=True, default="", show_default=False
    )
    if not password:
        fail(f"no password: set {password_env} or type it when asked")
    db = open_database(load_settings())
    with db.session() as session:
        shard = attach_shard(
            session=session,
            name=name,
            host=host,
            port=port,
            dbname=dbname,
            user=user,
            password=password,
            fetch_size=fetch_size,
        )
    console.print(
        f"attached shard {shard.name} ({shard.host}:{shard.port}/{shard.dbname}): "
        f"{len(shard.tables)} foreign tables in {shard.schema}; views in schema national"
    )


SHARD_COLUMNS = (
    Column("name", "name"),
    Column("server", "server"),
    Column("dbname", "database"),
    Column("user", "user", lambda v: v or "-"),
    Column("fetch_size", "fetch", lambda v: str(v or "-")),
    Column("extensions", "pushdown", lambda v: ",".join(v) or "none"),
    Column("reachable", "reachable", _yes_no),
    Column("error", "error"),
    Column("revision", "schema", lambda v: v or "?"),
    Column("revision_matches", "same schema", _yes_no),
    Column("reference_matches", "same reference", _yes_no),
)


@app.command("list")
@handle_errors
def list_(
    check: bool = typer.Option(True, "--check/--no-check", help="Ask each shard (revision)."),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """The attached shards, whether they answer, and whether schema and reference data match."""
    db = open_database(load_settings())
    with db.session() as session:
        shards = list_shards(session=session, check=check)
    records = [
        {
            "name": s.name,
            "server": f"{s.host}:{s.port}",
            "dbname": s.dbname,
            "user": s.user,
            "fetch_size": s.fetch_size,
            "extensions": list(s.extensions),
            "reachable": s.reachable,
            "error": s.error,
            "revision": s.revision,
            "revision_matches": s.revision_matches,
            "reference_matches": s.reference_matches,
        }
        for s in shards
    ]
    if records or fmt is not OutputFormat.table:
        print_records(records, SHARD_COLUMNS, fmt)
    if not records:
        say("no shards attached", fmt)


@app.command("remove")
@handle_errors
def remove(name: str = typer.Argument(..., help="The shard to detach.")) -> None:
    """Detach a shard (its data stays where it is)."""
    db = open_database(load_settings())
    with db.session() as session:
        detach_shard(session=session, name=name)
    console.print(f"detached shard {name}")
