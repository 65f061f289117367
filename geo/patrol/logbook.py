"""The patrol log (``patrol_log``): record where and when a patrol went, list and read entries,
and the recent patrols a plan discounts. Each write leaves an audit row."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo import audit
from geo.errors import NotFoundError, ValidationError
from geo.hotspots.data import as_utc
from geo.models import SRID, PatrolLog
from geo.patrol.coordinates import FloatArray, check_lon_lat
from geo.patrol.plan import DEFAULT_RADIUS_M, MAX_RADIUS_M
from geo.sharing import parse_sharing
from geo.users import Principal


def recent_patrols_utm(
    *, session: Session, since: dt.datetime, until: dt.datetime | None = None
) -> tuple[FloatArray, FloatArray]:
    """Patrol log points (EPSG:32649) and radii since ``since`` (and before ``until``)."""
    rows = session.execute(
        text(
            "SELECT ST_X(geom_utm), ST_Y(geom_utm), radius_m FROM patrol_log "
            "WHERE patrolled_at >= :since AND (CAST(:until AS timestamptz) IS NULL "
            "OR patrolled_at < :until) ORDER BY id"
        ),
        {"since": since, "until": until},
    ).all()
    if not rows:
        return np.zeros((0, 2)), np.zeros(0)
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, :2].copy(), arr[:, 2].copy()


def log_patrol(
    *,
    session: Session,
    lon: float,
    lat: float,
    patrolled_at: dt.datetime,
    ended_at: dt.datetime | None = None,
    team: str | None = None,
    radius_m: float = DEFAULT_RADIUS_M,
    note: str | None = None,
    principal: Principal | None = None,
    client: str | None = None,
    sharing: str = "timpora",
    shared_with: tuple[str, ...] = (),
) -> PatrolLog:
    """Record where and when a patrol went (and an audit row for the write).

    ``sharing``/``shared_with``: whom the entry is shared with (docs/privacy.md), the whole
    Timpora by default; the entry records the writer's agency."""
    check_lon_lat(lon, lat, field="geometry")
    at = as_utc(patrolled_at, "patrolled_at")
    if at is None:
        raise ValidationError("patrolled_at is required", field="patrolled_at")
    until = as_utc(ended_at, "ended_at")
    if until is not None and until < at:
        raise ValidationError(
            f"ended_at ({until.isoformat()}) is before patrolled_at ({at.isoformat()})",
            field="ended_at",
            value=until.isoformat(),
        )
    if not (math.isfinite(radius_m) and 0 < radius_m <= MAX_RADIUS_M):
        raise ValidationError(
            f"radius_m must be in (0, {MAX_RADIUS_M:g}]; got {radius_m!r}",
            field="radius_m",
            value=radius_m,
        )
    if team is not None and len(team) > 100:
        raise ValidationError("team must be at most 100 characters", field="team", value=team)
    asked = parse_sharing(
        session=session,
        sharing=sharing,
        shared_with=shared_with,
        agency_id=principal.agency_id if principal else None,
    )
    entry = PatrolLog(
        sharing=asked.level,
        shared_with=list(asked.shared_with),
        patrolled_at=at,
        ended_at=until,
        team=team,
        radius_m=radius_m,
        note=note,
        created_by=principal.name if principal else None,
        geom=func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID),
    )
    session.add(entry)
    session.flush()
    audit.record(
        session=session,
        principal=principal,
        action="create",
        resource=f"patrol_log/{entry.id}",
        record_count=1,
        client=client,
        details={"sharing": asked.level, "shared_with": list(asked.shared_with)}
        if asked.restricted
        else None,
    )
    session.refresh(entry)
    return entry


def list_patrols(
    *,
    session: Session,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[PatrolLog, float, float]]:
    """Patrol log entries with their lon, lat, newest first (then by id)."""
    if not 1 <= limit <= 10_000:
        raise ValidationError(f"limit must be 1..10000; got {limit!r}", field="limit", value=limit)
    if offset < 0:
        raise ValidationError(f"offset must be >= 0; got {offset!r}", field="offset", value=offset)
    since, until = as_utc(start, "start"), as_utc(end, "end")
    if since is not None and until is not None and since > until:
        raise ValidationError(
            f"start ({since.isoformat()}) is after end ({until.isoformat()})",
            field="start",
            value=since.isoformat(),
        )
    query = select(PatrolLog, func.ST_X(PatrolLog.geom), func.ST_Y(PatrolLog.geom))
    if since is not None:
        query = query.where(PatrolLog.patrolled_at >= since)
    if until is not None:
        query = query.where(PatrolLog.patrolled_at <= until)
    query = query.order_by(PatrolLog.patrolled_at.desc(), PatrolLog.id.desc())
    rows = session.execute(query.limit(int(limit)).offset(int(offset))).all()
    return [(row[0], float(row[1]), float(row[2])) for row in rows]


def get_patrol(*, session: Session, patrol_id: int) -> tuple[PatrolLog, float, float]:
    row = session.execute(
        select(PatrolLog, func.ST_X(PatrolLog.geom), func.ST_Y(PatrolLog.geom)).where(
            PatrolLog.id == patrol_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no patrol log entry {patrol_id}")
    return row[0], float(row[1]), float(row[2])


def patrol_feature(entry: PatrolLog, lon: float, lat: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": entry.id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "id": entry.id,
            "patrolled_at": entry.patrolled_at.isoformat(),
            "ended_at": entry.ended_at.isoformat() if entry.ended_at else None,
            "team": entry.team,
            "radius_m": entry.radius_m,
            "note": entry.note,
            "created_by": entry.created_by,
            "agency": entry.agency.short_name if entry.agency else None,
            "sharing": entry.sharing,
        },
    }
