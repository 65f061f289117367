"""What every command shares: settings, the database handle, and one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from rich.console import Console
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.db import (
    Database,
    database_url,
    embedded_cluster,
    owner_url,
    unavailable,
    wait_for_database,
)
from geo.errors import TimporaError
from geo.settings import Settings

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Turn domain errors into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TimporaError as exc:
            fail(str(exc))
        except OperationalError as exc:
            fail(str(unavailable(exc, "the configured database")))
        except DBAPIError as exc:
            # The driver's first line says what broke; the SQL and its values stay out.
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()
            fail(f"database error: {reason[0] if reason else type(exc).__name__}")
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    return Settings()


def open_database(
    settings: Settings, *, start: bool = True, migrate: bool = True, maintenance: bool = True
) -> Database:
    """Connect as the schema's owner, the role of migrations and maintenance commands (starting
    the embedded cluster if that is the configured database); migrating also makes or updates
    the service's login role (docs/privacy.md).

    Commands are maintenance sessions (``TIMPORA_MAINTENANCE_STATEMENT_TIMEOUT_MS``, none by
    default): the request timeout would cancel a large import or demo seed.
    """
    if settings.database.embedded and start:
        cluster = embedded_cluster(settings.database)
        cluster.init()
        cluster.start()
    db = Database.from_settings(
        settings.database, owner_url(settings.database), maintenance=maintenance
    )
    wait_for_database(db.engine, settings.database.startup_wait_s)
    if migrate:
        from geo.migrate import current_revision, head_revision, upgrade

        if current_revision(db.engine) != head_revision():
            upgrade(db.engine)
        provision_service(settings, db)
    return db


def provision_service(settings: Settings, owner: Database) -> None:
    from geo.roles import provision_service_login

    provision_service_login(owner.engine, database_url(settings.database))


def open_service_database(settings: Settings) -> Database:
    """The service's own connection (``timpora serve``): migrated first where we may.

    With an owner to migrate as (the embedded cluster, or TIMPORA_DATABASE_OWNER_URL), that runs
    first; with the service's URL alone, the schema is the migration job's to bring up.
    """
    database = settings.database
    if database.embedded or database.database_owner_url is not None:
        open_database(settings).dispose()
    # Requests keep TIMPORA_STATEMENT_TIMEOUT_MS (not the maintenance sessions' timeout).
    db = Database.from_settings(database, database_url(database), maintenance=False)
    wait_for_database(db.engine, database.startup_wait_s)
    if not database.embedded and database.database_owner_url is None:
        from geo.migrate import current_revision, head_revision, upgrade

        if current_revision(db.engine) != head_revision():
            upgrade(db.engine)  # a single URL: the schema's owner (see geo.roles.login_problem)
    return db
