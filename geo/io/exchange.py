"""Bulk loads of whole months of sightings by partition exchange.

Inserting a million rows into ``sighting`` one by one maintains two GiST indexes (``geom``,
``geom_utm``) and five btrees row by row: most of an import's time. For a month whose partition
is empty (or not made yet) there is nothing to conflict with, so its rows are instead COPYed into
a fresh table shaped like a partition, indexed after the load (sorted GiST build), and swapped in
with ``ATTACH PARTITION``. All of it runs in the import's transaction: DDL is transactional in
PostgreSQL, so a failure leaves the old, empty partition in place.

What keeps the result identical to inserting through ``sighting``:

- the loading table is itself partitioned by month (one COPY, rows routed; ids a block of
  ``sighting``'s own sequence, in file order: :func:`reserve_ids`), with ``sighting``'s
  defaults, generated ``geom_utm``, NOT NULL and CHECK constraints;
- ``sighting``'s statement-level INSERT triggers (e.g. the tile count grids of migration 0010) are
  created on the loading table with the same function and transition table, so they see exactly
  the rows inserted; its row-level triggers are the location trigger, whose output (the derived
  columns) comes with the rows, and foreign-key checks, which ATTACH validates; any other
  row-level INSERT trigger makes the planner decline the exchange (the rows take the upsert);
- the indexes and key constraints are ``sighting``'s own definitions, so ATTACH adopts them
  instead of building others; a CHECK of the month's bounds lets ATTACH skip its validation scan.

Locking: :func:`plan` takes ``SHARE ROW EXCLUSIVE`` on ``sighting`` (other writers wait, readers
do not) so the months found empty stay empty; :func:`swap_in` takes ``ACCESS EXCLUSIVE`` to
detach the empty partitions it replaces, so readers wait from then until the import commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection, Engine, Row, text
from sqlalchemy.orm import Session

from geo.io.copybin import Field, encode
from geo.models import SHARING_LEVELS
from geo.roles import GROUP_ROLES, SET_AGENCY_SQL
from geo.sharing import WHOLE_TIMPORA, Sharing

PARENT: Final = "sighting"
LOCATE_TRIGGER_FUNCTION: Final = "timpora_locate_trg"
COPY_READ_BYTES: Final = 1 << 20
ANALYZE_TARGET: Final = 30
# The columns of sighting the alert pass reads (geo.alerts: scope, joins, facts): analyzed in
# the import's transaction; autovacuum analyzes all of them after the commit.
ALERT_PASS_COLUMNS: Final = (
    "id",
    "observed_at",
    "foreigner_id",
    "geom_utm",
    "border_side",
    "distance_to_border_m",
)
AUTOVACUUM_SQL = text("SELECT current_setting('autovacuum') = 'on'")
# Fewer exchanged rows load faster in the import's own session than two sessions start.
PARALLEL_MIN_ROWS: Final = 100_000

LOCK_SQL = text("LOCK TABLE sighting IN SHARE ROW EXCLUSIVE MODE")
AGENCY_SQL = text("SELECT current_setting('timpora.agency_id', true)")
# Whether this transaction holds a lock on ``sighting`` that another session's read of its
# definition would wait for (only ACCESS EXCLUSIVE conflicts with ACCESS SHARE).
HOLDS_EXCLUSIVE_SQL = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND granted "
    "AND locktype = 'relation' AND relation = 'sighting'::regclass "
    "AND mode = 'AccessExclusiveLock')"
)
# An exchange is DDL on ``sighting``: only its owner may (the maintenance commands); the service's
# database roles load every month by upsert instead (docs/privacy.md).
IS_PARTITIONED_SQL = text(
    "SELECT relkind = 'p' AND pg_has_role(current_user, relowner, 'USAGE') "
    "FROM pg_class WHERE oid = 'sighting'::regclass"
)
# Whether the login owns ``sighting`` while the transaction runs under another role (the command
# line's owner login acting for a registered user: geo.roles.use_role_and_agency).
ROLE_OF_OWNER_SQL = text(
    "SELECT current_user, session_user <> current_user "
    "AND pg_has_role(session_user, relowner, 'USAGE') "
    "FROM pg_class WHERE oid = 'sighting'::regclass"
)
# ``sighting``'s defaults of the columns the loading table sets to the import's constants.
STAMP_DEFAULTS_SQL = text(
    "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
    "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
    "WHERE d.adrelid = 'sighting'::regclass "
    "AND a.attname IN ('agency_id', 'sharing', 'shared_with') ORDER BY 1"
)
# A block of ``:n`` ids of ``sighting``'s sequence for the exchanged rows, numbered in file order
# by the client (the first is returned), instead of a nextval per row in each loading session:
# ~0.17 s of CPU a session for 500,000 rows, the two sessions taking turns at the sequence's
# page. Under :func:`plan`'s lock no other writer of ``sighting`` draws from the sequence between
# the nextval and the setval. No row (NULL) when the sequence does not step by 1: the loading
# tables' default then draws the ids row by row.
RESERVE_IDS_SQL = text(
    """
    SELECT setval(q.seq, nextval(q.seq) + CAST(:n AS bigint) - 1) - CAST(:n AS bigint) + 1
    FROM (SELECT CAST(pg_get_serial_sequence('sighting', 'id') AS regclass) AS seq) q
    JOIN pg_sequence p ON p.seqrelid = q.seq AND p.seqincrement = 1
    """
)
DEFAULT_PARTITION_SQL = text(
    "SELECT partdefid::regclass::text FROM pg_partitioned_table "
    "WHERE partrelid = 'sighting'::regclass AND partdefid <> 0"
)
# The conventional partition of each month (timpora_ensure_sighting_partitions names them
# sighting_yYYYYmMM) and whether its bounds are exactly that UTC month.
MONTH_PARTITIONS_SQL = text(
    """
    SELECT m.month, c.oid::regclass::text AS name,
           pg_get_expr(c.relpartbound, c.oid) = format(
               'FOR VALUES FROM (%L) TO (%L)',
               CAST(m.month AS timestamp) AT TIME ZONE 'UTC',
               CAST(m.month + interval '1 month' AS timestamp) AT TIME ZONE 'UTC') AS exact
    FROM unnest(CAST(:months AS date[])) AS m(month)
    LEFT JOIN pg_class c ON c.relname = 'sighting_y' || to_char(m.month, 'YYYY"m"MM')
    LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'sighting'::regclass
    ORDER BY m.month
    """
)
TRIGGERS_SQL = text(
    """
    SELECT t.tgname, t.tgtype, t.tgfoid::regproc::text AS function, t.tgnargs,
           t.tgnewtable, p.proname
    FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
    WHERE t.tgrelid = 'sighting'::regclass AND NOT t.tgisinternal
    ORDER BY t.tgname
    """
)
INDEXES_SQL = text(
    """
    SELECT x.indexrelid::regclass::text AS name, pg_get_indexdef(x.indexrelid) AS indexdef,
           k.conname, k.contype, pg_get_constraintdef(k.oid) AS condef
    FROM pg_index x
    LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                              AND k.contype IN ('p', 'u')
    WHERE x.indrelid = 'sighting'::regclass
    ORDER BY x.indexrelid
    """
)
LEFTOVERS_SQL = text(
    r"""
    SELECT c.relname FROM pg_class c
    WHERE c.relname LIKE 'sighting\_load\_%' AND c.relkind = 'p' AND NOT c.relispartition
      AND pg_table_is_visible(c.oid)
    ORDER BY 1
    """
)
CHILD_INDEXES_SQL = text(
    "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = CAST(:t AS regclass) "
    "ORDER BY indexrelid"
)

# Trigger type bits (pg_trigger.tgtype).
TRIGGER_ROW: Final = 1
TRIGGER_BEFORE: Final = 2
TRIGGER_INSERT: Final = 4
_ON_PARENT = re.compile(r" ON (?:ONLY )?(?:public\.)?sighting USING ")


@dataclass(frozen=True)
class MonthPlan:
    month: dt.date  # first day (UTC)
    rows: int
    replaces: str | None  # the empty partition to detach, or None when the month has none

    @property
    def partition_name(self) -> str:
        return f"sighting_y{self.month:%Y}m{self.month:%m}"


class OwnerScope:
    """Run a block as the login itself when the login owns ``sighting`` but the transaction
    runs under a request's group role: the command line's ``--author`` (docs/privacy.md).

    The exchange's DDL needs the owner. What it writes is what the role could insert itself:
    new rows only (into months without a row), each recording the request's agency (the
    loading table's default is the setting's value) and the sharing checked for the import, so
    the row policies' insert check holds by construction; the caller checked the role's right
    to import. Elsewhere (the service's login, which owns nothing; the owner without a role)
    the block runs as it is. Re-entrant: the role is read at each entry.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._role: list[str | None] = []

    def __enter__(self) -> OwnerScope:
        current, owner_under_role = self.session.execute(ROLE_OF_OWNER_SQL).one()
        role = str(current) if owner_under_role and current in GROUP_ROLES else None
        if role is not None:
            self.session.execute(text("SET LOCAL ROLE NONE"))
        self._role.append(role)
        return self

    def __exit__(self, *exc: object) -> None:
        role = self._role.pop()
        if role is not None and role in GROUP_ROLES:
            self.session.execute(text(f"SET LOCAL ROLE {role}"))


def months_of(observed_utc: np.ndarray) -> np.ndarray:
    """Month start (datetime64[M]) of each UTC instant."""
    return observed_utc.astype("datetime64[M]")


def plan(
    *, session: Session, months: np.ndarray, min_rows: int, lock: bool = True
) -> list[MonthPlan]:
    """The months (of rows as ``datetime64[M]``) to load by exchange; locks ``sighting``.

    A month qualifies when it has at least ``min_rows`` rows, no partition or an attached empty
    one with exactly its bounds, no row waiting in the default partition, and ``sighting``
    carries no row-level INSERT trigger the exchange would bypass.
    """
    if len(months) == 0 or not session.execute(IS_PARTITIONED_SQL).scalar_one():
        return []
    values, counts = np.unique(months, return_counts=True)
    wanted = [
        (dt.date.fromisoformat(str(m)[:7] + "-01"), int(c))
        for m, c in zip(values, counts, strict=True)
        if c >= min_rows
    ]
    if not wanted or not _triggers_allow_exchange(session):
        return []
    if lock:
        session.execute(LOCK_SQL)
        # Loading tables committed by the workers of an import whose transaction was then
        # rolled back (see load_parallel): no other import runs while we hold the lock, so any
        # is a leftover. Dropped for good (a connection of its own), whatever becomes of ours.
        drop_loaders(session, list(session.execute(LEFTOVERS_SQL).scalars()))
    default = session.execute(DEFAULT_PARTITION_SQL).scalar_one_or_none()
    found = {
        r.month: r
        for r in session.execute(MONTH_PARTITIONS_SQL, {"months": [m for m, _ in wanted]})
    }
    plans: list[MonthPlan] = []
    for month, count in wanted:
        part = found[month]
        if part.name is None:
            replaces = None  # not made yet: its rows would wait in the default partition
        elif not part.exact:
            continue  # a table of that name that is not this month's partition
        else:
            replaces = str(part.name)
            if session.execute(text(f"SELECT EXISTS (SELECT 1 FROM {replaces})")).scalar_one():
                continue
        if default is not None and _default_holds(session, default, month):
            continue
        plans.append(MonthPlan(month, count, replaces))
    return plans


def reserve_ids(session: Session, n: int) -> int | None:
    """The first of ``n`` consecutive ids reserved from ``sighting``'s sequence (under the lock
    :func:`plan` took), or None when they must be drawn row by row (``RESERVE_IDS_SQL``)."""
    if n <= 0:
        return None
    first = session.execute(RESERVE_IDS_SQL, {"n": n}).scalar_one_or_none()
    return None if first is None else int(first)


def _default_holds(session: Session, default: str, month: dt.date) -> bool:
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    stmt = text(
        f"SELECT EXISTS (SELECT 1 FROM {default} WHERE observed_at >= :a AND observed_at < :b)"
    )
    return bool(session.execute(stmt, {"a": start, "b": _next_month(start)}).scalar_one())


def _triggers_allow_exchange(session: Session) -> bool:
    for trig in session.execute(TRIGGERS_SQL):
        row_level = bool(trig.tgtype & TRIGGER_ROW)
        on_insert = bool(trig.tgtype & TRIGGER_INSERT)
        if not on_insert:
            continue
        if row_level and trig.proname != LOCATE_TRIGGER_FUNCTION:
            return False
        if not row_level and trig.tgnargs:
            return False
    return True


def _next_month(start: dt.datetime) -> dt.datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def load(
    *,
    session: Session,
    plans: list[MonthPlan],
    columns: list[str],
    chunks: Iterable[list[Field]],
    maintenance_work_mem: str = "512MB",
    work_mem: str = "256MB",
    analyze: bool = True,
    skip_functions: frozenset[str] = frozenset(),
    sharing: Sharing = WHOLE_TIMPORA,
) -> str:
    """COPY the rows into a partitioned loading table (one partition per planned month), build
    ``sighting``'s indexes on it, and return its name. Nothing is attached yet.

    ``skip_functions``: statement triggers of ``sighting`` calling these functions are not copied
    to the loading table (the caller does their work itself, e.g. ``geo.io.gridload``)."""
    txid = int(session.execute(text("SELECT txid_current()")).scalar_one())
    loader = f"sighting_load_{txid}"
    seq = session.execute(text("SELECT pg_get_serial_sequence('sighting', 'id')")).scalar_one()
    session.execute(
        text(
            f"CREATE TABLE {loader} (LIKE sighting INCLUDING DEFAULTS INCLUDING GENERATED "
            "INCLUDING CONSTRAINTS INCLUDING STORAGE) PARTITION BY RANGE (observed_at)"
        )
    )
    session.execute(text(f"ALTER TABLE {loader} ALTER COLUMN id SET DEFAULT nextval('{seq}')"))
    # The importing user's agency, as a constant: the column's own default would read the
    # setting once per row (migration 0027).
    agency = session.execute(text("SELECT timpora_request_agency()")).scalar()
    constant = "NULL" if agency is None else str(int(agency))
    session.execute(text(f"ALTER TABLE {loader} ALTER COLUMN agency_id SET DEFAULT {constant}"))
    # The import's sharing, as constants too (a checked level and integer ids: no user text).
    if sharing.level not in SHARING_LEVELS:
        raise ValueError(f"unknown sharing level {sharing.level!r}")
    session.execute(
        text(
            f"ALTER TABLE {loader} ALTER COLUMN sharing SET DEFAULT '{sharing.level}', "
            f"ALTER COLUMN shared_with SET DEFAULT '{sharing.array_literal()}'"
        )
    )
    for p in plans:
        start = dt.datetime(p.month.year, p.month.month, 1, tzinfo=dt.UTC)
        child = f"{loader}_{p.month:%Y%m}"
        session.execute(
            text(
                f"CREATE TABLE {child} PARTITION OF {loader} "
                f"(CONSTRAINT {child}_bound CHECK (observed_at >= '{start.isoformat()}' "
                f"AND observed_at < '{_next_month(start).isoformat()}')) "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{_next_month(start).isoformat()}')"
            )
        )
    for trig in _carried_triggers(session, skip_functions):
        when = "BEFORE" if trig.tgtype & TRIGGER_BEFORE else "AFTER"
        transition = f" REFERENCING NEW TABLE AS {trig.tgnewtable}" if trig.tgnewtable else ""
        session.execute(
            text(
                f'CREATE TRIGGER "{trig.tgname}" {when} INSERT ON {loader}{transition} '
                f"FOR EACH STATEMENT EXECUTE FUNCTION {trig.function}()"
            )
        )
    # The statement triggers aggregate the whole transition table at once: room to hash it.
    session.execute(text(f"SET LOCAL work_mem = '{work_mem}'"))
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    sql = f"COPY {loader} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"

    # One COPY (the statement triggers fire once, for all rows), fed by this thread: while the
    # server loads one chunk (psycopg2 releases the GIL while it talks to the server), this thread
    # derives and encodes the next one.
    stream = _ChunkStream()

    def copy() -> None:
        cur = dbapi.cursor()
        try:
            cur.copy_expert(sql, stream, size=COPY_READ_BYTES)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(copy)
        try:
            first = True
            for fields in chunks:
                stream.put(encode(fields, header=first, trailer=False), done)
                first = False
            if first:
                stream.put(encode([], header=True, trailer=False), done)
            stream.put(b"\xff\xff", done)
            stream.put(None, done)
        except BaseException as exc:
            stream.put(RuntimeError(f"import aborted: {exc}"), done)
            with contextlib.suppress(Exception):
                done.result()
            raise
        done.result()
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'"))
    for k, ix in enumerate(session.execute(INDEXES_SQL).all()):
        if ix.contype is not None:
            session.execute(text(f"ALTER TABLE {loader} ADD CONSTRAINT {loader}_k{k} {ix.condef}"))
        else:
            ddl = _ON_PARENT.sub(f" ON {loader} USING ", ix.indexdef, count=1)
            ddl = ddl.replace(f"INDEX {ix.name} ", f"INDEX {loader}_i{k} ", 1)
            session.execute(text(ddl))
    if analyze:
        # The alerts evaluated next in this transaction need the new months' statistics. A
        # sample of 300 x 30 rows (instead of 300 x 100) a month: ~60 % less time, and
        # histograms of 30 buckets a month still resolve a day of observed_at. With autovacuum
        # on, only the columns the alert pass reads: autovacuum analyzes every loaded month
        # again within a minute of the commit whatever we do (their inserts count as changes
        # since this ANALYZE), and the geometry and text columns were 60 % of its cost.
        before = session.execute(text("SHOW default_statistics_target")).scalar_one()
        session.execute(text(f"SET LOCAL default_statistics_target = {ANALYZE_TARGET}"))
        auto = session.execute(AUTOVACUUM_SQL).scalar_one()
        analyzed = f" ({', '.join(ALERT_PASS_COLUMNS)})" if auto else ""
        for p in plans:
            session.execute(text(f"ANALYZE {loader}_{p.month:%Y%m}{analyzed}"))
        session.execute(
            text("SELECT set_config('default_statistics_target', :v, true)"), {"v": before}
        )
    return loader


def _carried_triggers(session: Session, skip_functions: frozenset[str]) -> list[Row[Any]]:
    """``sighting``'s statement-level INSERT triggers that :func:`load` puts on its table: all
    but those calling ``skip_functions``."""
    return [
        trig
        for trig in session.execute(TRIGGERS_SQL)
        if not trig.tgtype & TRIGGER_ROW
        and trig.tgtype & TRIGGER_INSERT
        and trig.function not in skip_functions
        and trig.proname not in skip_functions
    ]


def _engine(session: Session) -> Engine:
    """The engine behind the session (bound to it, or to one of its connections)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    assert isinstance(engine, Engine)
    return engine


def can_load_in_parallel(
    session: Session, plans: list[MonthPlan], skip_functions: frozenset[str], workers: int
) -> bool:
    """Whether :func:`load_parallel` may load these months: more than one month and worker,
    ``PARALLEL_MIN_ROWS`` rows, no statement trigger to carry over (it would write, and
    commit, in a worker's transaction), and no lock of the import's own transaction that a
    worker would wait for: a partition made earlier in it (``geo.partitions.ensure_range``)
    holds ``sighting`` ACCESS EXCLUSIVE until commit, and a worker's ``CREATE TABLE (LIKE
    sighting)`` would wait for that commit while the import waits for the worker."""
    return (
        workers > 1
        and len(plans) > 1
        and sum(p.rows for p in plans) >= PARALLEL_MIN_ROWS
        and not _carried_triggers(session, skip_functions)
        and not session.execute(HOLDS_EXCLUSIVE_SQL).scalar_one()
    )


def split(plans: list[MonthPlan], workers: int) -> list[list[MonthPlan]]:
    """The months in ``workers`` groups of about equal rows (largest first, to the lightest)."""
    groups: list[list[MonthPlan]] = [[] for _ in range(min(workers, len(plans)))]
    weight = [0] * len(groups)
    for p in sorted(plans, key=lambda p: (-p.rows, p.month)):
        k = weight.index(min(weight))
        groups[k].append(p)
        weight[k] += p.rows
    return [sorted(g, key=lambda p: p.month) for g in groups if g]


def load_parallel(
    *,
    session: Session,
    plans: list[MonthPlan],
    columns: list[str],
    chunks_for: Callable[[list[MonthPlan]], Iterable[list[Field]]],
    skip_functions: frozenset[str],
    workers: int,
    meanwhile: Callable[[], object] | None = None,
    sharing: Sharing = WHOLE_TIMPORA,
) -> list[tuple[str, list[MonthPlan]]]:
    """:func:`load` the months in ``workers`` groups at once, each by a session of its own that
    commits its loading table unattached; returns (table, its months) for :func:`swap_in`.

    The tables are invisible to every reader until the import's transaction attaches them (they
    are not partitions of anything, and hold the rows of months ``sighting`` has none of). If
    the import then fails, :func:`drop_loaders` removes them; if its transaction is rolled back
    later, the next import's :func:`plan` does. ``meanwhile`` runs in the calling thread (and
    the import's session) while the workers load."""
    engine = _engine(session)
    groups = split(plans, workers)
    made: list[str | None] = [None] * len(groups)
    # The rows record the importing user's agency (the column's default reads the setting):
    # each worker's transaction gets the import's.
    agency = session.execute(AGENCY_SQL).scalar() or ""

    def work(k: int) -> None:
        with engine.connect() as conn, Session(bind=conn) as own:
            own.execute(SET_AGENCY_SQL, {"agency": agency})
            made[k] = load(
                session=own,
                plans=groups[k],
                columns=columns,
                chunks=chunks_for(groups[k]),
                skip_functions=skip_functions,
                sharing=sharing,
            )
            own.commit()

    errors: list[BaseException | None] = []
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        futures = [pool.submit(work, k) for k in range(len(groups))]
        try:
            if meanwhile is not None:
                meanwhile()
        except BaseException as exc:
            errors.append(exc)
        errors += [f.exception() for f in futures]
    failed = next((e for e in errors if e is not None), None)
    if failed is not None:
        drop_loaders(session, [m for m in made if m is not None])
        raise failed
    return [(str(m), g) for m, g in zip(made, groups, strict=True)]


def drop_loaders(session: Session, names: list[str]) -> None:
    """Drop committed loading tables, in a connection of their own (autocommit)."""
    if not names:
        return
    with _engine(session).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in names:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


class _ChunkStream:
    """A file-like object for ``copy_expert`` fed chunk by chunk from another thread.

    ``put(None)`` ends the stream; ``put(exception)`` makes the reader raise it, so psycopg2
    aborts the COPY (the server discards it) instead of ending it early.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)
        self._chunk = memoryview(b"")
        self._at = 0
        self._closed = False

    def put(self, item: bytes | BaseException | None, consumer: Future[None]) -> None:
        while not consumer.done():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:
        while self._at >= len(self._chunk):
            if self._closed:
                return b""
            item = self._queue.get()
            if item is None:
                self._closed = True
                return b""
            if isinstance(item, BaseException):
                self._closed = True
                raise item
            self._chunk, self._at = memoryview(item), 0
        end = len(self._chunk) if size < 0 else min(len(self._chunk), self._at + size)
        out = bytes(self._chunk[self._at : end])
        self._at = end
        return out


def swap_in(*, session: Session, loader: str, plans: list[MonthPlan]) -> None:
    """Replace each planned month's (empty or missing) partition with the loaded one."""
    for p in plans:
        start = dt.datetime(p.month.year, p.month.month, 1, tzinfo=dt.UTC)
        child = f"{loader}_{p.month:%Y%m}"
        if p.replaces is not None:
            session.execute(text(f"ALTER TABLE sighting DETACH PARTITION {p.replaces}"))
            session.execute(text(f"DROP TABLE {p.replaces}"))
        session.execute(text(f"ALTER TABLE {loader} DETACH PARTITION {child}"))
        session.execute(text(f"ALTER TABLE {child} ALTER COLUMN id DROP DEFAULT"))
        # The import's constants (agency, sharing) go back to ``sighting``'s own defaults, as a
        # partition made by PARTITION OF has them.
        for column, default in session.execute(STAMP_DEFAULTS_SQL):
            session.execute(
                text(f"ALTER TABLE {child} ALTER COLUMN {column} SET DEFAULT {default}")
            )
        session.execute(text(f"ALTER TABLE {child} RENAME TO {p.partition_name}"))
        session.execute(
            text(
                f"ALTER TABLE sighting ATTACH PARTITION {p.partition_name} FOR VALUES FROM "
                f"('{start.isoformat()}') TO ('{_next_month(start).isoformat()}')"
            )
        )
        # Like every partition: not readable by name by the service's roles (docs/privacy.md).
        session.execute(text(f"ALTER TABLE {p.partition_name} ENABLE ROW LEVEL SECURITY"))
        session.execute(text(f"ALTER TABLE {p.partition_name} DROP CONSTRAINT {child}_bound"))
        for name in session.execute(CHILD_INDEXES_SQL, {"t": p.partition_name}).scalars():
            if name.startswith(child):
                new = p.partition_name + name[len(child) :]
                session.execute(text(f"ALTER INDEX {name} RENAME TO {new}"))
    session.execute(text(f"DROP TABLE {loader}"))
