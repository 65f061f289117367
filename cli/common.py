"""What every command shares: settings, the database handle, one-line errors, and output that
fits its terminal or, piped, is complete (tables, JSON or CSV; times in WIB)."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import functools
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from geo.db import (
    Database,
    database_url,
    embedded_cluster,
    owner_url,
    unavailable,
    wait_for_database,
)
from geo.errors import TimporaError
from geo.roles import role_for, use_agency, use_role_and_agency
from geo.settings import Settings
from geo.times import format_wib, to_wib
from geo.users import Principal, command_line_principal

# Output to a pipe or a file is laid out this wide: in practice, whole lines.
PIPED_WIDTH: Final = 10_000


class CliConsole(Console):
    """Rich's console, except that a pipe or a file gets whole lines: rich would lay them out
    for 80 columns (or for the terminal the command was started from) and cut table cells."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is not None or self._writes_to_terminal():
            return size
        return ConsoleDimensions(PIPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def _writes_to_terminal(self) -> bool:
        # The file itself, not is_terminal: FORCE_COLOR asks for colour, not for a width.
        isatty = getattr(self.file, "isatty", None)
        try:
            return bool(isatty is not None and isatty())
        except ValueError:  # a closed file
            return False


console = CliConsole()
err_console = CliConsole(stderr=True)

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
    from geo.roles import ensure_leakproof_overlaps, provision_service_login

    provision_service_login(owner.engine, database_url(settings.database))
    ensure_leakproof_overlaps(owner.engine)  # again after an upgrade of PostGIS (geo/roles.py)


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


# --- who a command acts as ---------------------------------------------------------------------


def acting_user(session: Session, author: str | None, *, writes: bool = True) -> Principal:
    """The principal a command acts as (``--author`` / ``--as``, else the operator), with the
    session set up for it (docs/privacy.md, "Maintenance commands run as the owner").

    A registered user's writes run like their API request: under their role's database role
    and for their agency (``geo.roles.use_role_and_agency``), so what is written records their
    agency and the row-level policies of shared records apply. A read (``writes=False``) keeps
    the owner's view and only records the agency in the audit log. The operator acts as the
    owner without an agency: the service's own work.
    """
    principal = command_line_principal(session=session, author=author)
    if principal.agency_id is not None:
        if writes:
            use_role_and_agency(session, role_for(principal.role), principal.agency_id)
        else:
            use_agency(session, principal.agency_id)
    return principal


# --- records as a table, JSON or CSV ------------------------------------------------------------


class OutputFormat(enum.StrEnum):
    """How a command prints its records."""

    table = "table"  # for a person: fits the terminal
    json = "json"  # an array of objects, every field
    csv = "csv"  # a header row of field names, then one row per record


FORMAT_OPTION: Any = typer.Option(
    OutputFormat.table,
    "--format",
    case_sensitive=False,
    help="table (for reading; whole lines when piped), json or csv (every field; times in WIB).",
)


def cell_text(value: Any) -> str:
    """How a table shows a value: times in WIB to the minute, nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_wib(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Column:
    """One field of the records: its JSON/CSV name, its table header, how the table shows it."""

    key: str
    label: str
    text: Callable[[Any], str] = cell_text


def plain(value: Any) -> Any:
    """A value as JSON/CSV carry it: times as ISO 8601 in WIB, numbers as numbers."""
    if isinstance(value, dt.datetime):
        return to_wib(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


def print_records(
    records: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: OutputFormat,
    *,
    title: str | None = None,
) -> None:
    """Print records as a table (to the console), a JSON array or CSV (to stdout, complete)."""
    rows = list(records)
    if fmt is OutputFormat.json:
        data = [{c.key: plain(row.get(c.key)) for c in columns} for row in rows]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.key for c in columns])
        for row in rows:
            writer.writerow(["" if (v := plain(row.get(c.key))) is None else v for c in columns])
    else:
        table = Table(*(c.label for c in columns), title=title)
        for row in rows:
            # Text, not markup: a team called "[red]" prints as written.
            table.add_row(*(Text(c.text(row.get(c.key))) for c in columns))
        console.print(table)
    sys.stdout.flush()


def say(message: str, fmt: OutputFormat = OutputFormat.table) -> None:
    """A line for the reader: beside a table on stdout; beside JSON or CSV on stderr, so the
    data on stdout stay machine-readable."""
    (console if fmt is OutputFormat.table else err_console).print(message, highlight=False)
