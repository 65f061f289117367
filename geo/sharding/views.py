"""The ``national`` schema: one ``UNION ALL`` view per registry table over the coordinator's
own rows and every attached shard's, the national alert table and panel, and
:func:`national_scope`, under which unchanged SQL reads the whole country."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.sharding.names import (
    FEDERATED_TABLES,
    LOCAL_OFFICE,
    NATIONAL_OFFICE,
    NATIONAL_SCHEMA,
    SCHEMA_PREFIX,
    SERVER_PREFIX,
    ShardError,
    quote_ident,
)

SERVERS_SQL: Final = text(
    """
    SELECT s.srvname, s.srvoptions, um.umoptions
    FROM pg_foreign_server s
    JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'postgres_fdw'
    LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
    WHERE s.srvname LIKE 'timpora\\_shard\\_%'
    ORDER BY s.srvname
    """
)


COLUMNS_SQL: Final = text(
    """
    SELECT a.attname FROM pg_attribute a
    WHERE a.attrelid = to_regclass(:relation) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)


NATIONAL_ALERT_SQL: Final = """
CREATE TABLE IF NOT EXISTS national.alert (
    LIKE public.alert INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
    INCLUDING INDEXES INCLUDING GENERATED
)
"""


def _columns(session: Session, relation: str) -> list[str]:
    return [str(c) for c in session.execute(COLUMNS_SQL, {"relation": relation}).scalars()]


def drop_views(session: Session) -> None:
    ns = quote_ident(NATIONAL_SCHEMA)
    session.execute(text(f"DROP VIEW IF EXISTS {ns}.all_alerts"))
    for table in FEDERATED_TABLES:
        session.execute(text(f"DROP VIEW IF EXISTS {ns}.{quote_ident(table)}"))


def rebuild_views(*, session: Session) -> list[str]:
    """(Re)create ``national.<table>`` over the coordinator's rows and every attached shard's,
    and ``national.all_alerts``. Returns the offices the views cover."""
    ns = quote_ident(NATIONAL_SCHEMA)
    session.execute(text(f"CREATE SCHEMA IF NOT EXISTS {ns}"))
    session.execute(text(NATIONAL_ALERT_SQL))
    drop_views(session)
    shards = [str(r.srvname).removeprefix(SERVER_PREFIX) for r in session.execute(SERVERS_SQL)]
    for table in FEDERATED_TABLES:
        session.execute(text(_union_view(session, table, table, shards, extra=())))
    # The national alert panel: each office's own alerts and the national pass's.
    session.execute(
        text(_union_view(session, "all_alerts", "alert", shards, extra=((NATIONAL_OFFICE, ns),)))
    )
    return [LOCAL_OFFICE, *shards]


def _union_view(
    session: Session,
    view: str,
    table: str,
    shards: list[str],
    *,
    extra: tuple[tuple[str, str], ...],
) -> str:
    columns = _columns(session, f"public.{table}")
    if not columns:
        raise ShardError(f"the coordinator has no table public.{table}: run its migrations")
    select_list = ", ".join(quote_ident(c) for c in columns)
    sources = [(LOCAL_OFFICE, "public")]
    sources += [(name, quote_ident(SCHEMA_PREFIX + name)) for name in shards]
    sources += list(extra)
    branches = []
    for office, schema in sources:
        remote = _columns(session, f"{schema}.{quote_ident(table)}")
        if remote != columns:
            raise ShardError(
                f"{schema}.{table} has other columns than public.{table}: the shard and the "
                "coordinator must run the same schema revision"
            )
        # office is a fixed word or a validated shard name: safe as a literal.
        branches.append(
            f"SELECT {select_list}, '{office}'::text AS office FROM {schema}.{quote_ident(table)}"
        )
    return (
        f"CREATE VIEW {quote_ident(NATIONAL_SCHEMA)}.{quote_ident(view)} AS\n"
        + "\nUNION ALL\n".join(branches)
    )


@contextmanager
def national_scope(session: Session) -> Iterator[Session]:
    """Inside, unqualified ``sighting``, ``incident``, ... name the national views (and ``alert``
    the national-pass table): the hotspot and rule SQL run unchanged across all offices."""
    previous = session.execute(text("SELECT current_setting('search_path')")).scalar_one()
    session.execute(
        text("SELECT set_config('search_path', :p, true)"),
        {"p": f"{quote_ident(NATIONAL_SCHEMA)}, public"},
    )
    try:
        yield session
    finally:
        session.execute(text("SELECT set_config('search_path', :p, true)"), {"p": previous})
