"""Monthly partitions of ``sighting`` (migration 0007): made ahead, drained from the default
partition, and detached whole for retention."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

MONTHS_AHEAD = 12

ENSURE_SQL = text("SELECT timpora_ensure_sighting_partitions(:from_month, :to_month)")
# Row-level security on partitions made since (migration 0027, docs/privacy.md): none of them
# is readable by name by the service's roles.
SECURE_SQL = text("SELECT timpora_secure_sighting_partitions()")

DEFAULT_RANGE_SQL = text("SELECT min(observed_at), max(observed_at) FROM sighting_default")

PARTITIONS_BEFORE_SQL = text(
    "SELECT partition_name, range_end FROM timpora_sighting_partitions_before(:cutoff)"
)

LIST_SQL = text(
    """
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'sighting'::regclass
    ORDER BY c.relname
    """
)


@dataclass(frozen=True)
class Partition:
    name: str
    bound: str
    estimated_rows: int


def is_partitioned(session: Session) -> bool:
    kind = session.execute(
        text("SELECT relkind FROM pg_class WHERE oid = 'sighting'::regclass")
    ).scalar_one()
    return bool(kind == "p")


def ensure_partitions(
    *, session: Session, months_ahead: int = MONTHS_AHEAD, today: dt.date | None = None
) -> int:
    """Make the partitions from the oldest row waiting in the default partition (or this month)
    to ``months_ahead`` months from now, moving waiting rows into them. Returns how many were made.
    """
    if not is_partitioned(session):
        return 0
    today = today or dt.datetime.now(dt.UTC).date()
    oldest, newest = session.execute(DEFAULT_RANGE_SQL).one()
    start = min(oldest.date(), today) if oldest else today
    end_ahead = _add_months(today, months_ahead)
    end = max(newest.date(), end_ahead) if newest else end_ahead
    made = int(session.execute(ENSURE_SQL, {"from_month": start, "to_month": end}).scalar_one())
    if made:
        session.execute(SECURE_SQL)
    return made


def ensure_range(*, session: Session, start: dt.datetime, end: dt.datetime) -> int:
    """Partitions for every month between two instants (bulk paths call it before COPY)."""
    if not is_partitioned(session):
        return 0
    made = int(
        session.execute(
            ENSURE_SQL, {"from_month": start.date(), "to_month": end.date()}
        ).scalar_one()
    )
    if made:
        session.execute(SECURE_SQL)
    return made


def list_partitions(*, session: Session) -> list[Partition]:
    return [Partition(n, b, max(int(r), 0)) for n, b, r in session.execute(LIST_SQL)]


def drop_partitions_before(*, session: Session, cutoff: dt.datetime) -> tuple[list[str], int]:
    """Detach and drop the monthly partitions that end at or before ``cutoff``.

    Returns (names, rows dropped). Rows of the month the cutoff falls in stay for a DELETE.
    """
    if not is_partitioned(session):
        return [], 0
    names = [name for name, _ in session.execute(PARTITIONS_BEFORE_SQL, {"cutoff": cutoff})]
    rows = 0
    for name in names:
        # Names come from the catalogue and match ^sighting_y\d{4}m\d{2}$ (see the SQL function).
        rows += int(session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
        session.execute(text(f'ALTER TABLE sighting DETACH PARTITION "{name}"'))
        session.execute(text(f'DROP TABLE "{name}"'))
    return names, rows


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)
