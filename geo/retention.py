"""Retention (docs/privacy.md): old sightings are the only history that is ever deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.audit import record
from geo.errors import ValidationError
from geo.partitions import drop_partitions_before
from geo.tiles import rebuild_grid
from geo.users import Principal

COUNT_OLD_SQL = text(
    "SELECT count(*), min(observed_at), max(observed_at) FROM sighting WHERE observed_at < :cutoff"
)
DELETE_OLD_SQL = text("DELETE FROM sighting WHERE observed_at < :cutoff")

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 36_500


@dataclass(frozen=True)
class PurgeReport:
    cutoff: dt.datetime
    sightings: int
    oldest: dt.datetime | None
    newest: dt.datetime | None
    dry_run: bool
    partitions_dropped: tuple[str, ...] = ()


def purge_sightings(
    *,
    session: Session,
    older_than_days: int,
    dry_run: bool = False,
    principal: Principal | None = None,
    now: dt.datetime | None = None,
) -> PurgeReport:
    """Delete sightings observed more than ``older_than_days`` ago; audited, dry run counts only."""
    if not MIN_RETENTION_DAYS <= older_than_days <= MAX_RETENTION_DAYS:
        raise ValidationError(
            f"older_than_days must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}; "
            f"got {older_than_days}",
            field="older_than_days",
            value=older_than_days,
        )
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=older_than_days)
    count, oldest, newest = session.execute(COUNT_OLD_SQL, {"cutoff": cutoff}).one()
    dropped: list[str] = []
    if not dry_run and count:
        # Whole months go by DETACH + DROP (no dead rows, no vacuum); the rest by DELETE.
        dropped, _ = drop_partitions_before(session=session, cutoff=cutoff)
        session.execute(DELETE_OLD_SQL, {"cutoff": cutoff})
        if dropped:
            # Dropped partitions leave without DELETE triggers: recount the tile grid.
            rebuild_grid(session=session, layer="sightings")
    record(
        session=session,
        principal=principal,
        action="purge_dry_run" if dry_run else "purge",
        resource="sightings",
        record_count=int(count),
        details={
            "older_than_days": older_than_days,
            "cutoff": cutoff.isoformat(),
            "partitions_dropped": dropped,
        },
    )
    return PurgeReport(
        cutoff=cutoff,
        sightings=int(count),
        oldest=oldest,
        newest=newest,
        dry_run=dry_run,
        partitions_dropped=tuple(dropped),
    )
