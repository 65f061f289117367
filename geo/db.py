"""Database access: the URL (external or embedded), one engine per process, sessions, health.

Connection failures become :class:`DatabaseUnavailableError` with a message that names host and
port and never the password.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from geo.cluster import EmbeddedCluster
from geo.errors import ConfigurationError, DatabaseUnavailableError
from geo.settings import DatabaseSettings


def embedded_cluster(settings: DatabaseSettings) -> EmbeddedCluster:
    return EmbeddedCluster(settings.data_dir, preferred_port=settings.db_port)


def _parse_url(raw: str, name: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigurationError(
            f"{name} is not a valid database URL "
            "(expected postgresql://user:password@host:port/dbname)"
        ) from None
    if url.get_backend_name() not in {"postgresql", "postgres"}:
        raise ConfigurationError(f"{name} must point at PostgreSQL, not {url.get_backend_name()!r}")
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg2")
    return url


def _set_up_cluster(settings: DatabaseSettings) -> EmbeddedCluster:
    cluster = embedded_cluster(settings)
    if not cluster.password_file.exists():
        raise DatabaseUnavailableError(
            f"the embedded database in {cluster.pgdata} is not set up; run: timpora db up"
        )
    return cluster


def database_url(settings: DatabaseSettings) -> URL:
    """The URL the service connects with; for the embedded cluster, its service login's."""
    if settings.database_url is not None:
        return _parse_url(settings.database_url.get_secret_value(), "TIMPORA_DATABASE_URL")
    cluster = _set_up_cluster(settings)
    if not cluster.app_password_file.exists():
        raise DatabaseUnavailableError(
            f"the embedded database in {cluster.pgdata} has no service login yet; "
            "run: timpora db up"
        )
    return make_url(cluster.service_url())


def owner_url(settings: DatabaseSettings) -> URL:
    """The URL of the schema's owner: migrations and maintenance commands (docs/privacy.md)."""
    if settings.database_owner_url is not None:
        return _parse_url(
            settings.database_owner_url.get_secret_value(), "TIMPORA_DATABASE_OWNER_URL"
        )
    if settings.database_url is not None:
        return database_url(settings)
    return make_url(_set_up_cluster(settings).url())


def describe(url: URL) -> str:
    """Host, port and database of a URL, never the password."""
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def make_engine(
    settings: DatabaseSettings, url: URL | None = None, *, maintenance: bool = False, **kwargs: Any
) -> Engine:
    """The engine; ``maintenance``: the sessions of CLI and maintenance jobs, whose statements
    (loading a million rows, building partitions, a batch alert pass) may rightly run for
    minutes, get ``maintenance_statement_timeout_ms`` instead of the API requests' timeout."""
    url = url or database_url(settings)
    timeout_ms = (
        settings.maintenance_statement_timeout_ms if maintenance else settings.statement_timeout_ms
    )
    connect_args = {
        "connect_timeout": settings.connect_timeout_s,
        "application_name": "timpora",
        "options": f"-c statement_timeout={timeout_ms} -c timezone=UTC",
    }
    engine = create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_recycle=1800,
        connect_args=connect_args,
        hide_parameters=True,
        **kwargs,
    )
    _ping_after_idle(engine)
    return engine


# A pooled connection is tested (``SELECT 1``) when it is checked out after this long unused,
# not at every checkout: a ping is a round trip of its own, ~3-5 % of a bbox page's CPU under
# load (pgbouncer's ``server_check_delay`` is the same idea, 30 s by default). A connection that
# dies while in steady use fails its statement instead, which SQLAlchemy reports as a
# disconnect: it invalidates the pool, and the error reaches the client as a 503 to retry.
PING_AFTER_IDLE_S = 10.0
_IDLE_SINCE = "timpora_idle_since"


def _ping_after_idle(engine: Engine) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # just made, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out (or makes) another.
            raise DisconnectionError(str(exc)) from exc


def unavailable(exc: BaseException, where: str) -> DatabaseUnavailableError:
    """One clear line for an unreachable database: where, and the driver's reason, no secrets."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    # libpq's message names the host and port itself; drop any password it could echo.
    first = first.replace("password authentication failed", "authentication failed")
    return DatabaseUnavailableError(f"database at {where} is unreachable: {first}")


def check_connection(engine: Engine) -> dict[str, str]:
    """Versions of the server and PostGIS; raises DatabaseUnavailableError."""
    where = describe(engine.url)
    try:
        with engine.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar_one()
            postgis = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
    except (OperationalError, DBAPIError) as exc:
        raise unavailable(exc, where) from None
    return {"postgresql": str(pg), "postgis": str(postgis) if postgis else "not installed"}


def wait_for_database(engine: Engine, timeout_s: float) -> dict[str, str]:
    """Retry for a bounded time (start-up with the database still coming up)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.25
    while True:
        try:
            return check_connection(engine)
        except DatabaseUnavailableError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@dataclass
class Database:
    """The engine and session factory of one process (the app factory and the CLI build one)."""

    engine: Engine
    sessionmaker: sessionmaker[Session]

    @classmethod
    def from_settings(
        cls, settings: DatabaseSettings, url: URL | None = None, *, maintenance: bool = False
    ) -> Database:
        engine = make_engine(settings, url, maintenance=maintenance)
        return cls(engine=engine, sessionmaker=sessionmaker(engine, expire_on_commit=False))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
