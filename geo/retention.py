"""Retention (docs/privacy.md): old sightings are the only history that is ever deleted, with
the field's personal traces: the patrol teams' track positions and the field form's photos, each
after its own retention setting (docs/operations.md).

A purge also removes what would keep a purged sighting's position or a deleted record's personal
data alive elsewhere: the position of alerts about purged sightings (the alert stays, without a
point) and the stored responses of ``Idempotency-Key`` retries, once past their replay window or
when the record they show is gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.audit import record
from geo.errors import ValidationError
from geo.partitions import drop_partitions_before
from geo.registry import idempotency
from geo.tiles import rebuild_grid
from geo.users import Principal

COUNT_OLD_SQL = text(
    "SELECT count(*), min(observed_at), max(observed_at) FROM sighting WHERE observed_at < :cutoff"
)
DELETE_OLD_SQL = text("DELETE FROM sighting WHERE observed_at < :cutoff")
# An alert about a sighting keeps its rule, time and area; its point goes with the sighting.
FORGET_ALERT_POSITIONS_SQL = text(
    """
    UPDATE alert a SET geom = NULL
     WHERE a.sighting_id IS NOT NULL AND a.geom IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM sighting s WHERE s.id = a.sighting_id)
    """
)
# Stored responses of idempotent POSTs showing a person's record that is now gone. The body is
# the created Feature (its ``id`` first-level); the path names the layer.
PURGE_ORPHAN_RESPONSES_SQL = text(
    """
    DELETE FROM idempotency_key k
     WHERE k.response IS NOT NULL AND k.path = ANY(CAST(:paths AS text[])) AND NOT EXISTS (
              SELECT 1 FROM sighting s
               WHERE k.path = '/api/v1/sightings'
                 AND s.id = (convert_from(k.response, 'UTF8')::jsonb ->> 'id')::bigint
              UNION ALL
              SELECT 1 FROM foreigner f
               WHERE k.path = '/api/v1/foreigners'
                 AND f.id = (convert_from(k.response, 'UTF8')::jsonb ->> 'id')::bigint)
    """
)
PERSONAL_POST_PATHS = ("/api/v1/sightings", "/api/v1/foreigners")

COUNT_OLD_POSITIONS_SQL = text("SELECT count(*) FROM track_position WHERE recorded_at < :cutoff")
DELETE_OLD_POSITIONS_SQL = text("DELETE FROM track_position WHERE recorded_at < :cutoff")
# A photo goes after its retention, or with the record it was sent with (a purged sighting).
OLD_PHOTOS_WHERE = """
    created_at < :cutoff
    OR (layer = 'sightings' AND NOT EXISTS (SELECT 1 FROM sighting s WHERE s.id = record_id))
    OR (layer = 'incidents' AND NOT EXISTS (SELECT 1 FROM incident i WHERE i.id = record_id))
"""
COUNT_OLD_PHOTOS_SQL = text(f"SELECT count(*) FROM field_photo WHERE {OLD_PHOTOS_WHERE}")
DELETE_OLD_PHOTOS_SQL = text(f"DELETE FROM field_photo WHERE {OLD_PHOTOS_WHERE}")

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
    alert_positions_removed: int = 0
    idempotent_responses_removed: int = 0


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
    positions = responses = 0
    if not dry_run and count:
        # Whole months go by DETACH + DROP (no dead rows, no vacuum); the rest by DELETE.
        dropped, _ = drop_partitions_before(session=session, cutoff=cutoff)
        session.execute(DELETE_OLD_SQL, {"cutoff": cutoff})
        if dropped:
            # Dropped partitions leave without DELETE triggers: recount the tile grid.
            rebuild_grid(session=session, layer="sightings")
    if not dry_run:
        positions = _rowcount(session.execute(FORGET_ALERT_POSITIONS_SQL))
        responses = idempotency.purge(session=session) + _rowcount(
            session.execute(PURGE_ORPHAN_RESPONSES_SQL, {"paths": list(PERSONAL_POST_PATHS)})
        )
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
            "alert_positions_removed": positions,
            "idempotent_responses_removed": responses,
        },
    )
    return PurgeReport(
        cutoff=cutoff,
        sightings=int(count),
        oldest=oldest,
        newest=newest,
        dry_run=dry_run,
        partitions_dropped=tuple(dropped),
        alert_positions_removed=positions,
        idempotent_responses_removed=responses,
    )


@dataclass(frozen=True)
class FieldPurgeReport:
    positions_cutoff: dt.datetime
    photos_cutoff: dt.datetime
    positions: int
    photos: int
    dry_run: bool


def purge_field(
    *,
    session: Session,
    track_retention_days: int,
    photo_retention_days: int,
    dry_run: bool = False,
    principal: Principal | None = None,
    now: dt.datetime | None = None,
) -> FieldPurgeReport:
    """Delete track positions and field photos older than their retention (and photos whose
    record is gone); audited, dry run counts only. Run after :func:`purge_sightings`, so the
    photos of purged sightings go with them."""
    for name, days in (
        ("track_retention_days", track_retention_days),
        ("photo_retention_days", photo_retention_days),
    ):
        if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
            raise ValidationError(
                f"{name} must be between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS}; got {days}",
                field=name,
                value=days,
            )
    moment = now or dt.datetime.now(dt.UTC)
    positions_cutoff = moment - dt.timedelta(days=track_retention_days)
    photos_cutoff = moment - dt.timedelta(days=photo_retention_days)
    if dry_run:
        positions = int(
            session.execute(COUNT_OLD_POSITIONS_SQL, {"cutoff": positions_cutoff}).scalar_one()
        )
        photos = int(session.execute(COUNT_OLD_PHOTOS_SQL, {"cutoff": photos_cutoff}).scalar_one())
    else:
        positions = _rowcount(
            session.execute(DELETE_OLD_POSITIONS_SQL, {"cutoff": positions_cutoff})
        )
        photos = _rowcount(session.execute(DELETE_OLD_PHOTOS_SQL, {"cutoff": photos_cutoff}))
    record(
        session=session,
        principal=principal,
        action="purge_dry_run" if dry_run else "purge",
        resource="field",
        record_count=positions + photos,
        details={
            "track_positions": positions,
            "track_cutoff": positions_cutoff.isoformat(),
            "photos": photos,
            "photo_cutoff": photos_cutoff.isoformat(),
        },
    )
    return FieldPurgeReport(
        positions_cutoff=positions_cutoff,
        photos_cutoff=photos_cutoff,
        positions=positions,
        photos=photos,
        dry_run=dry_run,
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
