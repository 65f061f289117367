"""The attached shards as postgres_fdw foreign servers: attach (server, user mapping, foreign
tables), detach, and list them with their schema revision and reference fingerprint.

The password goes into the user mapping and nowhere else: not into logs, errors or
:func:`list_shards`. Identifiers are formatted in from validated names only; values are bound.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.sharding.names import (
    IMPORTED_TABLES,
    NAME_RE,
    SCHEMA_PREFIX,
    SERVER_PREFIX,
    ShardError,
    quote_ident,
    schema_name,
    server_name,
)
from geo.sharding.views import SERVERS_SQL, drop_views, rebuild_views

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """One attached office shard as the coordinator's catalogue describes it."""

    name: str
    server: str
    schema: str
    host: str
    port: int
    dbname: str
    user: str | None
    fetch_size: int | None
    extensions: tuple[str, ...]
    use_remote_estimate: bool
    tables: tuple[str, ...]
    reachable: bool | None = None
    revision: str | None = None
    revision_matches: bool | None = None
    reference_matches: bool | None = None
    error: str | None = None


CREATE_SERVER_SQL: Final = """
CREATE SERVER {server} FOREIGN DATA WRAPPER postgres_fdw
OPTIONS (host :host, port :port, dbname :dbname, fetch_size :fetch_size,
         use_remote_estimate :use_remote_estimate, application_name 'timpora-coordinator'
         {extensions})
"""

CREATE_MAPPING_SQL: Final = """
CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (user :user, password :password)
"""


FOREIGN_TABLES_SQL: Final = text(
    """
    SELECT c.relname FROM pg_foreign_table ft
    JOIN pg_class c ON c.oid = ft.ftrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema ORDER BY c.relname
    """
)


REVISION_SQL: Final = "SELECT version_num FROM {schema}.alembic_version"

# Reference geography must be the same on every node for rule answers to agree (zones, border
# distance, admin codes); a fingerprint per table, computed where the rows are.
REFERENCE_FINGERPRINT_SQL: Final = """
SELECT (SELECT md5(coalesce(string_agg(code || ':' || md5(ST_AsBinary(geom)), ','
                                       ORDER BY code), ''))
        FROM {schema}.admin_area),
       (SELECT md5(coalesce(string_agg(name || ':' || kind || ':' || active::text || ':'
                                       || md5(ST_AsBinary(geom)), ',' ORDER BY name), ''))
        FROM {schema}.zone)
"""


def _first_line(exc: DBAPIError) -> str:
    lines = str(getattr(exc, "orig", exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _reason(exc: DBAPIError, secret: str) -> str:
    """The error and its DETAIL (where postgres_fdw says why it could not connect), with the
    secret masked should a server ever echo it."""
    lines = [ln.strip() for ln in str(getattr(exc, "orig", exc)).strip().splitlines()]
    reason = " ".join(ln for ln in lines[:3] if ln) or type(exc).__name__
    return reason.replace(secret, "***") if secret else reason


def _is_superuser(session: Session) -> bool:
    return bool(session.execute(text("SELECT current_setting('is_superuser') = 'on'")).scalar())


def attach_shard(
    *,
    session: Session,
    name: str,
    host: str,
    port: int,
    dbname: str,
    user: str,
    password: str,
    fetch_size: int = 10_000,
    use_remote_estimate: bool = True,
    extensions: Sequence[str] = ("postgis",),
    require_same_revision: bool = True,
) -> Shard:
    """Attach an office shard: foreign server, user mapping, its tables as foreign tables in
    ``shard_<name>``, and the ``national`` views rebuilt over every attached shard.

    Runs in the caller's transaction (DDL is transactional: a failure leaves nothing behind).
    Refuses a shard whose schema revision differs from the coordinator's, since the views take the
    coordinator's column lists.
    """
    server = server_name(name)
    schema = schema_name(name)
    if not host or not isinstance(port, int) or not 0 < port < 65536:
        raise ValidationError(f"port must be 1-65535; got {port!r}", field="port", value=port)
    if fetch_size < 1:
        raise ValidationError(
            f"fetch_size must be positive; got {fetch_size}", field="fetch_size", value=fetch_size
        )
    for ext in extensions:
        if not NAME_RE.fullmatch(ext):
            raise ValidationError(f"bad extension name {ext!r}", field="extensions", value=ext)
    session.execute(text("CREATE EXTENSION IF NOT EXISTS postgres_fdw"))
    exists = session.execute(
        text("SELECT 1 FROM pg_foreign_server WHERE srvname = :s"), {"s": server}
    ).scalar()
    if exists:
        raise ConflictError(f"shard {name!r} is already attached (server {server})")
    ext_option = ", extensions :extensions" if extensions else ""
    session.execute(
        text(CREATE_SERVER_SQL.format(server=quote_ident(server), extensions=ext_option)),
        {
            "host": host,
            "port": str(port),
            "dbname": dbname,
            "fetch_size": str(fetch_size),
            "use_remote_estimate": "true" if use_remote_estimate else "false",
            "extensions": ",".join(extensions),
        },
    )
    _create_user_mapping(session=session, server=server, user=user, password=password)
    session.execute(text(f"CREATE SCHEMA {quote_ident(schema)}"))
    limit_to = ", ".join(quote_ident(t) for t in IMPORTED_TABLES)
    try:
        with session.begin_nested():
            session.execute(
                text(
                    f"IMPORT FOREIGN SCHEMA public LIMIT TO ({limit_to}) "
                    f"FROM SERVER {quote_ident(server)} INTO {quote_ident(schema)} "
                    "OPTIONS (import_generated 'false', import_default 'false')"
                )
            )
    except DBAPIError as exc:
        raise ShardError(
            f"cannot import the tables of shard {name!r} ({host}:{port}/{dbname}): "
            f"{_reason(exc, password)}"
        ) from None
    missing = sorted(set(IMPORTED_TABLES) - set(_foreign_tables(session, schema)))
    if missing:
        raise ShardError(
            f"shard {name!r} ({dbname}) lacks {', '.join(missing)}: run the Timpora migrations "
            "there first (timpora db upgrade)"
        )
    if require_same_revision:
        local, remote = _revisions(session, schema)
        if local != remote:
            raise ShardError(
                f"shard {name!r} is at schema revision {remote}, the coordinator at {local}; "
                "upgrade both to the same revision before attaching"
            )
    rebuild_views(session=session)
    log.info("attached shard %s (%s:%s/%s)", name, host, port, dbname)
    return _describe(session, server, check=False)


def _create_user_mapping(*, session: Session, server: str, user: str, password: str) -> None:
    """The mapping holds the shard's password; keep it out of the server log and our errors."""
    quiet = _is_superuser(session)
    saved: dict[str, str] = {}
    if quiet:
        # Were the statement to fail, PostgreSQL would log its text, password included.
        for setting, value in (("log_min_error_statement", "panic"), ("log_statement", "none")):
            saved[setting] = session.execute(
                text("SELECT current_setting(:s)"), {"s": setting}
            ).scalar_one()
            session.execute(text("SELECT set_config(:s, :v, true)"), {"s": setting, "v": value})
    try:
        with session.begin_nested():
            session.execute(
                text(CREATE_MAPPING_SQL.format(server=quote_ident(server))),
                {"user": user, "password": password},
            )
    except DBAPIError as exc:
        raise ShardError(
            f"cannot create the user mapping for {server}: {_reason(exc, password)}"
        ) from None
    finally:
        for setting, value in saved.items():
            session.execute(text("SELECT set_config(:s, :v, true)"), {"s": setting, "v": value})


def detach_shard(*, session: Session, name: str) -> None:
    """Drop a shard's foreign tables, user mapping and server, and rebuild the national views.

    The shard's data stays on the shard; alerts the national pass raised stay in
    ``national.alert``.
    """
    server = server_name(name)
    schema = schema_name(name)
    exists = session.execute(
        text("SELECT 1 FROM pg_foreign_server WHERE srvname = :s"), {"s": server}
    ).scalar()
    if not exists:
        raise NotFoundError(f"no shard {name!r} is attached")
    drop_views(session)
    session.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"))
    session.execute(
        text(f"DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER {quote_ident(server)}")
    )
    session.execute(text(f"DROP SERVER {quote_ident(server)} CASCADE"))
    rebuild_views(session=session)
    log.info("detached shard %s", name)


def list_shards(*, session: Session, check: bool = True) -> list[Shard]:
    """The attached shards; with ``check``, each is asked for its schema revision and reference
    fingerprint (a shard that cannot be reached is listed with ``reachable=False``)."""
    return [_describe(session, row.srvname, check=check) for row in session.execute(SERVERS_SQL)]


def _options(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _describe(session: Session, server: str, *, check: bool) -> Shard:
    row = session.execute(
        text(
            "SELECT s.srvoptions, um.umoptions FROM pg_foreign_server s "
            "LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user "
            "WHERE s.srvname = :s"
        ),
        {"s": server},
    ).one()
    opts = _options(row.srvoptions)
    user = _options(row.umoptions).get("user")  # the password option is never read out
    name = server.removeprefix(SERVER_PREFIX)
    schema = SCHEMA_PREFIX + name
    shard = Shard(
        name=name,
        server=server,
        schema=schema,
        host=opts.get("host", ""),
        port=int(opts.get("port", "5432")),
        dbname=opts.get("dbname", ""),
        user=user,
        fetch_size=int(opts["fetch_size"]) if "fetch_size" in opts else None,
        extensions=tuple(e for e in opts.get("extensions", "").split(",") if e),
        use_remote_estimate=opts.get("use_remote_estimate", "false") == "true",
        tables=tuple(_foreign_tables(session, schema)),
    )
    if not check:
        return shard
    try:
        with session.begin_nested():
            local, remote = _revisions(session, schema)
            fingerprints = session.execute(
                text(
                    REFERENCE_FINGERPRINT_SQL.format(schema="public")
                    + " UNION ALL "
                    + REFERENCE_FINGERPRINT_SQL.format(schema=quote_ident(schema))
                )
            ).all()
    except DBAPIError as exc:
        return _replace(shard, reachable=False, error=_first_line(exc))
    return _replace(
        shard,
        reachable=True,
        revision=remote,
        revision_matches=local == remote,
        reference_matches=tuple(fingerprints[0]) == tuple(fingerprints[1]),
    )


def _replace(shard: Shard, **changes: Any) -> Shard:
    from dataclasses import replace

    return replace(shard, **changes)


def _foreign_tables(session: Session, schema: str) -> list[str]:
    return [str(r) for r in session.execute(FOREIGN_TABLES_SQL, {"schema": schema}).scalars()]


def _revisions(session: Session, schema: str) -> tuple[str | None, str | None]:
    local = session.execute(text(REVISION_SQL.format(schema="public"))).scalar()
    remote = session.execute(text(REVISION_SQL.format(schema=quote_ident(schema)))).scalar()
    return local, remote
