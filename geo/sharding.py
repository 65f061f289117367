"""Per-office shards reached through PostgreSQL's own ``postgres_fdw``.

The layout (docs/scaling.md explains the why):

- Every office shard is a complete Timpora database (same migrations, same reference
  geography) that holds its own office's workplaces, foreigners, incidents and sightings, and
  evaluates its alerts on write, where the write lands.
- The coordinator (a Timpora database too, possibly holding one office's data of its own) reaches
  each shard through a foreign server ``timpora_shard_<name>`` (``extensions 'postgis'`` so that
  PostGIS operators and functions are shippable: ``ST_DWithin`` runs on the shard against its GiST
  index) and one schema ``shard_<name>`` of foreign tables imported from the shard's ``public``.
- Schema ``national`` federates them: one view per registry table, ``SELECT <columns>, office``
  over the coordinator's own rows ``UNION ALL`` each shard's foreign table. With
  ``search_path = national, public`` (:func:`national_scope`) the unchanged SQL of the hotspots
  and of the alert rules reads the whole country.
- ``national.alert`` (a table, not a view) receives the cross-office alerts of the rules whose
  subjects can lie in two offices (an incident near another office's workplace, an incident
  cluster across an office boundary): :func:`run_national_pass`. ``national.all_alerts`` is the
  national alert panel: every office's alerts plus those.

Why views and not a partitioned ``sighting_national`` with foreign partitions: ``sighting`` has
unique keys (PK ``(id, observed_at)``) and PostgreSQL refuses a foreign table as a partition of a
table with unique indexes; a key-less partitioned twin would need an ``office`` partition column
that no Timpora table has, and gives nothing a ``UNION ALL`` view does not: the planner pushes the
``WHERE`` of a query on the view into every branch, so each shard receives its own remote SQL.

Identifiers come from validated names and the catalogue, quoted by :func:`quote_ident`; every
value (host, password, ...) is a bound parameter. The password goes into the user mapping and
nowhere else: not into logs, errors or :func:`list_shards`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.alerts import run_batch
from geo.errors import ConflictError, NotFoundError, TimporaError, ValidationError

log = logging.getLogger(__name__)

SERVER_PREFIX: Final = "timpora_shard_"
SCHEMA_PREFIX: Final = "shard_"
NATIONAL_SCHEMA: Final = "national"
LOCAL_OFFICE: Final = "local"  # the ``office`` of the coordinator's own rows
NATIONAL_OFFICE: Final = "national"  # the ``office`` of alerts raised by the national pass

# Registry tables federated by the national views (the coordinator's own rows + every shard's).
FEDERATED_TABLES: Final = ("workplace", "foreigner", "incident", "incident_foreigner", "sighting")
# Imported from each shard besides those: its alerts, its schema revision, its reference data.
IMPORTED_TABLES: Final = (*FEDERATED_TABLES, "alert", "alembic_version", "admin_area", "zone")
# Rules whose subjects may lie in two offices; the national pass evaluates them across shards.
CROSS_OFFICE_RULES: Final = ("incident_near_workplace", "incident_cluster")

NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ShardError(TimporaError):
    """A shard cannot be attached or reached (the message never holds its password)."""


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


# ---------------------------------------------------------------------------------------------
# SQL. Identifiers are formatted in from validated names only; values are bound.

CREATE_SERVER_SQL: Final = """
CREATE SERVER {server} FOREIGN DATA WRAPPER postgres_fdw
OPTIONS (host :host, port :port, dbname :dbname, fetch_size :fetch_size,
         use_remote_estimate :use_remote_estimate, application_name 'timpora-coordinator'
         {extensions})
"""

CREATE_MAPPING_SQL: Final = """
CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (user :user, password :password)
"""

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

FOREIGN_TABLES_SQL: Final = text(
    """
    SELECT c.relname FROM pg_foreign_table ft
    JOIN pg_class c ON c.oid = ft.ftrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema ORDER BY c.relname
    """
)

COLUMNS_SQL: Final = text(
    """
    SELECT a.attname FROM pg_attribute a
    WHERE a.attrelid = to_regclass(:relation) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
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

NATIONAL_ALERT_SQL: Final = """
CREATE TABLE IF NOT EXISTS national.alert (
    LIKE public.alert INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
    INCLUDING INDEXES INCLUDING GENERATED
)
"""

# A national-pass alert whose subjects all lie in one office duplicates that office's own alert.
DROP_SAME_OFFICE_SQL: Final = text(
    """
    DELETE FROM national.alert a
    WHERE (a.rule_kind = 'incident_near_workplace' AND EXISTS (
              SELECT 1 FROM national.incident i JOIN national.workplace w ON w.id = a.workplace_id
              WHERE i.id = a.incident_id AND i.office = w.office))
       OR (a.rule_kind = 'incident_cluster' AND (
              SELECT count(DISTINCT i.office) FROM national.incident i
              WHERE i.id IN (SELECT CAST(jsonb_array_elements_text(a.subjects -> 'incident_ids')
                                         AS int))) = 1)
    """
)

NATIONAL_ALERT_COUNTS_SQL: Final = text(
    "SELECT rule_kind, count(*) FROM national.alert GROUP BY rule_kind ORDER BY rule_kind"
)

# A national proximity query: sightings of every office within a radius of a point in a window.
# The point is transformed to the column's SRID so each shard's GiST index on geom_utm serves it.
SIGHTINGS_NEAR_SQL: Final = text(
    """
    SELECT s.office, s.id, s.observed_at, s.foreigner_id,
           ST_Distance(s.geom_utm, q.g) AS distance_m
    FROM national.sighting s,
         (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649) AS g) q
    WHERE ST_DWithin(s.geom_utm, q.g, :radius_m)
      AND s.observed_at >= :start AND s.observed_at < :end
    ORDER BY distance_m, s.office, s.id
    LIMIT :limit
    """
)


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (names here are validated, this is the second guard)."""
    return '"' + name.replace('"', '""') + '"'


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(
            "shard name must be 1-40 lower-case letters, digits or _ and start with a letter; "
            f"got {name!r}",
            field="name",
            value=name,
        )
    if name in (LOCAL_OFFICE, NATIONAL_OFFICE):
        raise ValidationError(
            f"shard name {name!r} is reserved for the coordinator", field="name", value=name
        )
    return name


def server_name(name: str) -> str:
    return SERVER_PREFIX + _check_name(name)


def schema_name(name: str) -> str:
    return SCHEMA_PREFIX + _check_name(name)


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


# ---------------------------------------------------------------------------------------------
# Attach, detach, list.


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
    _drop_views(session)
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


# ---------------------------------------------------------------------------------------------
# The national views.


def _columns(session: Session, relation: str) -> list[str]:
    return [str(c) for c in session.execute(COLUMNS_SQL, {"relation": relation}).scalars()]


def _drop_views(session: Session) -> None:
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
    _drop_views(session)
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


# ---------------------------------------------------------------------------------------------
# National queries.


def run_national_pass(
    *,
    session: Session,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
) -> dict[str, int]:
    """Evaluate the rules whose subjects can lie in two offices over the federated data and keep
    the alerts that do span offices (the others are each office's own, raised on its shard).

    Returns the number of cross-office alerts ``national.alert`` holds per rule.
    """
    with national_scope(session):
        run_batch(session=session, since=since, today=today, rules=CROSS_OFFICE_RULES)
    session.execute(DROP_SAME_OFFICE_SQL)
    counts = {rule: 0 for rule in CROSS_OFFICE_RULES}
    counts.update({str(k): int(n) for k, n in session.execute(NATIONAL_ALERT_COUNTS_SQL)})
    return counts


@dataclass(frozen=True)
class NearbySighting:
    office: str
    id: int
    observed_at: dt.datetime
    foreigner_id: int | None
    distance_m: float


def sightings_near(
    *,
    session: Session,
    lon: float,
    lat: float,
    radius_m: float,
    start: dt.datetime,
    end: dt.datetime,
    limit: int = 1000,
) -> list[NearbySighting]:
    """Sightings of every office within ``radius_m`` of (lon, lat) in [start, end), nearest first.

    The distance test runs on each shard (``ST_DWithin`` is in the remote SQL).
    """
    if not (0 < radius_m <= 100_000):
        raise ValidationError(
            f"radius_m must be in (0, 100000]; got {radius_m!r}", field="radius_m", value=radius_m
        )
    rows = session.execute(SIGHTINGS_NEAR_SQL, _near_params(lon, lat, radius_m, start, end, limit))
    return [
        NearbySighting(r.office, r.id, r.observed_at, r.foreigner_id, r.distance_m) for r in rows
    ]


def _near_params(
    lon: float, lat: float, radius_m: float, start: dt.datetime, end: dt.datetime, limit: int
) -> dict[str, Any]:
    return {
        "lon": float(lon),
        "lat": float(lat),
        "radius_m": float(radius_m),
        "start": start,
        "end": end,
        "limit": int(limit),
    }


def remote_sql(*, session: Session, statement: TextClause, params: dict[str, Any]) -> list[str]:
    """The ``Remote SQL`` of every foreign scan in the plan of ``statement`` (EXPLAIN VERBOSE)."""
    plan = session.execute(
        text("EXPLAIN (VERBOSE, FORMAT JSON) " + statement.text), params
    ).scalar_one()
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Remote SQL" in node:
            found.append(str(node["Remote SQL"]))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def sightings_near_remote_sql(
    *,
    session: Session,
    lon: float,
    lat: float,
    radius_m: float,
    start: dt.datetime,
    end: dt.datetime,
) -> list[str]:
    """The remote SQL each shard receives for :func:`sightings_near`."""
    return remote_sql(
        session=session,
        statement=SIGHTINGS_NEAR_SQL,
        params=_near_params(lon, lat, radius_m, start, end, 1000),
    )


def assign_id_block(*, session: Session, office_no: int, block: int = 10_000_000) -> int:
    """Make this office database's identities start in its own block (office_no × block), so
    ids stay unique across the federated views. Run once on each shard when it is set up.

    Returns the first id of the block. Refuses when rows already use ids above the block start.
    """
    if not 1 <= office_no <= 200 or office_no * block + block > 2**31 - 1:
        raise ValidationError(
            f"office_no must be 1-200 and fit integer ids with block {block}; got {office_no}",
            field="office_no",
            value=office_no,
        )
    first = office_no * block
    for table in ("workplace", "foreigner", "incident", "sighting", "alert"):
        highest = session.execute(text(f"SELECT max(id) FROM {quote_ident(table)}")).scalar()
        if highest is not None and highest >= first:
            raise ConflictError(f"{table} already holds ids from {first}; choose another office")
        session.execute(
            text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, false)"),
            {"t": table, "v": first},
        )
    return first
