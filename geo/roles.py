"""The PostgreSQL roles the service runs under, so the privacy boundary holds in the database too.

Four roles (docs/privacy.md, "Enforced by PostgreSQL"):

- the **owner**: the role migrations and the maintenance commands connect as (the embedded
  cluster's ``timpora``, compose's ``POSTGRES_USER``, or ``TIMPORA_DATABASE_OWNER_URL``). It owns
  every table.
- ``timpora_personal`` (no login): what administrators, analysts and coordinators work under:
  reads and writes every table, but only appends to and reads ``audit_log``.
- ``timpora_aggregate`` (no login): what planners and viewers work under: no personal column
  (names, documents, home points, sponsors, person links, free text), no alert about a person,
  ``audit_log`` append-only; counts come from the non-personal columns and from views that
  suppress small counts.
- the **service login** (``timpora_app`` by default; the user of ``TIMPORA_DATABASE_URL``):
  ``NOINHERIT`` member of both, holding no privilege of its own, so every statement it runs is
  under one of the two. Its sessions start under ``timpora_personal`` (``ALTER ROLE ... SET
  role``: the service's own work, alert delivery and the stream hub); each request switches,
  for its transactions only, to the role of its caller (:func:`use_role`).

The two group roles are made by a migration (they carry the table privileges); the login is made
or updated after each migration from the service URL (:func:`provision_service_login`), its
password sent only as a SCRAM verifier, so no server log can hold it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from psycopg2.extensions import TRANSACTION_STATUS_INERROR
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from geo import access
from geo.errors import ConfigurationError

log = logging.getLogger(__name__)

PERSONAL_ROLE: Final = "timpora_personal"
AGGREGATE_ROLE: Final = "timpora_aggregate"
GROUP_ROLES: Final = (PERSONAL_ROLE, AGGREGATE_ROLE)
SERVICE_LOGIN: Final = "timpora_app"

_SESSION_KEY: Final = "timpora_db_role"
_AGENCY_KEY: Final = "timpora_agency"
# ``timpora.agency_id`` (docs/privacy.md, "Sharing between agencies"): the request's agency id,
# '' for a request without one (sees whole-Timpora records only), or SERVICE_SCOPE for the
# service's own alert evaluation, which must see every record.
AGENCY_SETTING: Final = "timpora.agency_id"
SERVICE_SCOPE: Final = "service"
SET_AGENCY_SQL: Final = text("SELECT set_config('timpora.agency_id', :agency, true)")
ENTER_SERVICE_SQL: Final = text(
    "SELECT current_setting('timpora.agency_id', true), "
    "set_config('timpora.agency_id', 'service', true)"
)
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
SCRAM_ITERATIONS: Final = 4096  # PostgreSQL's own default (scram_iterations)


def role_for(app_role: str) -> str:
    """The database role a request of ``app_role`` (admin, ..., viewer) runs under."""
    return PERSONAL_ROLE if access.sees_personal_data(app_role) else AGGREGATE_ROLE


def use_role(session: Session, role: str) -> None:
    """Run this transaction of ``session``, and each later one, under ``role``.

    ``SET LOCAL`` ends with the transaction, so a pooled connection never carries a request's
    role into the next request; the ``after_begin`` hook below sets it again for each new
    transaction of the same session (a handler that commits and goes on).
    """
    if role not in GROUP_ROLES:
        raise ValueError(f"unknown database role {role!r}")
    in_transaction = session.in_transaction()
    session.info[_SESSION_KEY] = role
    if in_transaction:
        session.execute(text(f"SET LOCAL ROLE {role}"))


def use_agency(session: Session, agency_id: int | None) -> None:
    """Run this transaction of ``session``, and each later one, for ``agency_id``: what the
    row-level policies of the shared tables let it see, and the agency its new rows record.

    None is a caller without an agency: it sees only records shared with the whole Timpora and
    its new rows record none. Like the role, the setting is local to each transaction.
    """
    value = "" if agency_id is None else str(int(agency_id))
    session.info[_AGENCY_KEY] = value
    if session.in_transaction():
        session.execute(SET_AGENCY_SQL, {"agency": value})


def enter_service_scope(session: Session) -> str:
    """Let the rest of the work see every record whatever its sharing (the alert evaluation, so
    that alerts on write equal the batch); returns the setting to restore afterwards."""
    previous = session.execute(ENTER_SERVICE_SQL).one()[0]
    return str(previous or "")


def leave_service_scope(session: Session, previous: str) -> None:
    """Back to the caller's agency, unless the transaction has failed: nothing more runs in it,
    its setting ends with it, and a restoring statement would only replace the error that failed
    it with "current transaction is aborted"."""
    if transaction_failed(session):
        return
    session.execute(SET_AGENCY_SQL, {"agency": previous})


def transaction_failed(session: Session) -> bool:
    """Whether ``session``'s transaction can run no more statements (a statement failed in it)."""
    try:
        raw = session.connection().connection.dbapi_connection
    except SQLAlchemyError:  # the session itself refuses until it is rolled back
        return True
    info = getattr(raw, "info", None)
    return getattr(info, "transaction_status", None) == TRANSACTION_STATUS_INERROR


@contextmanager
def service_step(session: Session) -> Iterator[None]:
    """Run the enclosed step of a request under the service's own role, ``timpora_personal``,
    then back under ``timpora_aggregate``, in the same transaction. Sessions not switched to the
    aggregate role (the personal role, the service's own, the owner's) keep theirs, at no cost.

    For what a write must do that reads past its writer (docs/privacy.md, "Member agencies"):
    the alert evaluation on write reads the foreigners (it enters the service scope itself,
    :func:`enter_service_scope`, to see every agency's records); a writer's own stored answer
    (``geo.registry.idempotency``). Nothing read in the step goes back to the caller beyond what
    it may see.
    """
    if session_role(session) != AGGREGATE_ROLE:
        yield
        return
    session.execute(text(f"SET LOCAL ROLE {PERSONAL_ROLE}"))
    try:
        yield
    finally:
        # After a failed statement nothing more runs in the transaction, and rolling it (or its
        # savepoint) back restores the role of before the step anyway.
        if not transaction_failed(session):
            session.execute(text(f"SET LOCAL ROLE {AGGREGATE_ROLE}"))


def clear_role(session: Session) -> None:
    """Back to the connection's own role (tests that share one session with the app)."""
    session.info.pop(_SESSION_KEY, None)
    session.info.pop(_AGENCY_KEY, None)
    session.execute(text("RESET ROLE"))
    session.execute(SET_AGENCY_SQL, {"agency": ""})


def session_role(session: Session) -> str | None:
    role = session.info.get(_SESSION_KEY)
    return role if isinstance(role, str) else None


def _setup_sql(role: object, agency: object) -> str:
    """The statements that put a transaction under ``role`` and ``agency`` (one round trip)."""
    parts = []
    if role in GROUP_ROLES:
        parts.append(f"SET LOCAL ROLE {role}")
    if isinstance(agency, str) and (agency == "" or agency.isdigit()):
        parts.append(f"SELECT set_config('{AGENCY_SETTING}', '{agency}', true)")
    return "; ".join(parts)


def use_role_and_agency(session: Session, role: str, agency_id: int | None) -> None:
    """:func:`use_role` and :func:`use_agency` at once (one round trip in a transaction)."""
    if role not in GROUP_ROLES:
        raise ValueError(f"unknown database role {role!r}")
    session.info[_SESSION_KEY] = role
    session.info[_AGENCY_KEY] = "" if agency_id is None else str(int(agency_id))
    if session.in_transaction():
        session.connection().exec_driver_sql(_setup_sql(role, session.info[_AGENCY_KEY]))


@event.listens_for(Session, "after_begin")
def _apply_role(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    sql = _setup_sql(session.info.get(_SESSION_KEY), session.info.get(_AGENCY_KEY))
    if sql:
        connection.exec_driver_sql(sql)


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677).

    Sending this instead of the password keeps the password out of the statement, hence out of
    any server log (``log_statement``, or the statement logged with an error).
    """
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _checked_name(name: str) -> str:
    if not _ROLE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"the service's database user must be a plain lower-case name "
            f"([a-z_][a-z0-9_]*); got {name!r}"
        )
    return name


def provision_service_login(owner: Engine, service_url: URL) -> bool:
    """Make (or update) the service's login role from its URL; False when there is none to make.

    Runs as the owner after the migrations. Nothing is made when the service URL names the owner
    itself (a single-URL set-up: requests still run under the group roles, see
    :func:`login_problem`).
    """
    name = service_url.username
    password = service_url.password
    with owner.begin() as conn:
        me = conn.execute(text("SELECT current_user")).scalar_one()
        if not name or name == me:
            return False
        name = _checked_name(name)
        if name in GROUP_ROLES:
            raise ConfigurationError(
                f"{name!r} is a group role; the service needs a login of its own"
            )
        missing = conn.execute(
            text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:roles)"),
            {"roles": list(GROUP_ROLES)},
        ).scalar_one()
        if missing != len(GROUP_ROLES):
            raise ConfigurationError(
                "the database roles timpora_personal and timpora_aggregate are missing: "
                "run the migrations first (timpora db upgrade)"
            )
        if not password:
            raise ConfigurationError(
                f"the service's database URL has no password for {name!r}; set one in "
                "TIMPORA_DATABASE_URL"
            )
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}
        ).first()
        verb = "ALTER" if exists else "CREATE"
        # The verifier is base64 and '$:' only: safe inside a literal, and no password in the
        # text (sent as is: ':' would read as a bind parameter to text()).
        conn.exec_driver_sql(
            f'{verb} ROLE "{name}" LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE '
            f"NOREPLICATION NOBYPASSRLS PASSWORD '{scram_verifier(password)}'"
        )
        conn.execute(text(f'GRANT {", ".join(GROUP_ROLES)} TO "{name}"'))
        conn.execute(text(f'ALTER ROLE "{name}" SET role = {PERSONAL_ROLE}'))
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{name}"'))
    return True


# The bounding-box operator of geometries, ``&&`` (``geometry_overlaps``), marked LEAKPROOF. Under
# row-level security (``incident``, ``sighting``, ``patrol_log``: docs/privacy.md) PostgreSQL
# evaluates a policy before any condition of the query whose function is not leakproof, and so
# may not use such a condition to search an index: PostGIS ships ``&&`` without the mark, and
# every spatial filter of the service's roles fell back to reading whole partitions (a bbox page
# 151 ms instead of 2 ms; docs/performance/api.md). ``&&`` compares two bounding boxes and
# returns true or false; it raises no error that could reveal a row (an empty geometry is simply
# false; the columns' SRID is fixed by their type). Only a superuser may set the mark, and an
# upgrade of the PostGIS extension recreates the function without it: so it is set after every
# migration run and at every start that may migrate (``geo.migrate.upgrade``,
# ``cli.common.provision_service``: ``timpora serve``, ``setup``, ``db up``), not once.
LEAKPROOF_FUNCTION: Final = "geometry_overlaps(geometry, geometry)"
LEAKPROOF_STATE_SQL: Final = text(
    """
SELECT p.proleakproof, r.rolsuper
  FROM pg_proc p, pg_roles r
 WHERE p.oid = CAST(:fn AS regprocedure) AND r.rolname = current_user
"""
)


def ensure_leakproof_overlaps(engine: Engine) -> bool:
    """Mark ``&&`` on geometries LEAKPROOF if it is not yet (see LEAKPROOF_FUNCTION). False, with
    a warning, when it is not and this login may not mark it (not a superuser)."""
    with engine.begin() as conn:
        row: Any = conn.execute(LEAKPROOF_STATE_SQL, {"fn": LEAKPROOF_FUNCTION}).one()
        if row.proleakproof:
            return True
        if row.rolsuper:
            conn.execute(text(f"ALTER FUNCTION {LEAKPROOF_FUNCTION} LEAKPROOF"))
            return True
    log.warning(
        "%s is not LEAKPROOF and this login may not mark it: spatial filters under row-level "
        "security cannot search the GiST indexes (a superuser can run ALTER FUNCTION %s "
        "LEAKPROOF; docs/privacy.md)",
        LEAKPROOF_FUNCTION,
        LEAKPROOF_FUNCTION,
    )
    return False


LOGIN_SQL: Final = text(
    """
SELECT r.rolsuper,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                  AND pg_has_role(session_user, c.relowner, 'USAGE')) AS owns_tables
  FROM pg_roles r WHERE r.rolname = session_user
"""
)


def login_problem(engine: Engine) -> str | None:
    """Why the service's login is not the restricted one it should be, or None when it is."""
    with engine.connect() as conn:
        row: Any = conn.execute(LOGIN_SQL).one()
        user = conn.execute(text("SELECT session_user")).scalar_one()
    if row.rolsuper:
        return f"the service connects to PostgreSQL as {user!r}, a superuser"
    if row.owns_tables:
        return f"the service connects to PostgreSQL as {user!r}, which owns the schema"
    return None
