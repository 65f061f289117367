"""Patrol tracks: positions from the teams' phones, stored once, read back as tracks.

Writing (:func:`record_positions`) is set-based: one statement looks the devices up, one
inserts every position of the batch (``ON CONFLICT DO NOTHING``: a phone that resends its
buffer after a gap writes nothing twice), one counts refusals. Positions from unknown or revoked
devices are refused and counted per identifier in ``field_refusal``, never stored; positions
outside the regency plus its margin are answered (so the phone's queue moves on) and counted.

Reading: a team's track for a period is a MultiLineString, one part per stretch without a
silence longer than ``gap_s`` seconds, built from positions no less accurate than
``max_accuracy_m``; the cells a track covered are its buffer by the patrol's watch radius
(:func:`coverage_sql`), which the patrol planner reads as "recently patrolled".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.field import live
from geo.field.osmand import Position
from geo.locate import FALLBACK_AOI_BBOX
from geo.registry.filters import parse_window

# Refusal reasons, as counted in ``field_refusal`` and reported to the caller.
UNKNOWN_DEVICE: Final = "unknown_device"
REVOKED_DEVICE: Final = "revoked_device"
OUT_OF_AREA: Final = "out_of_area"
MAX_BATCH: Final = 10_000
MAX_TRACK_DAYS: Final = 31
DEFAULT_GAP_S: Final = 600.0  # a longer silence breaks a track
DEFAULT_MAX_ACCURACY_M: Final = 100.0  # less accurate positions stay out of tracks
BATCH_COLUMNS: Final = (
    *("device_ids", "team_ids", "recorded_at", "lons", "lats", "accuracy", "speed"),
    *("heading", "altitude", "battery", "moving", "idx"),
)

DEVICES_SQL = text(
    """
    SELECT identifier, id, team_id, revoked_at IS NOT NULL
    FROM field_device WHERE kind = 'traccar' AND identifier = ANY(:identifiers)
    """
)

# The regency plus its margin, in the metric CRS; with no boundaries loaded, a fixed box.
INSERT_SQL = text(
    """
    WITH p AS (
        SELECT * FROM unnest(
            CAST(:device_ids AS integer[]), CAST(:team_ids AS integer[]),
            CAST(:recorded_at AS timestamptz[]), CAST(:lons AS float8[]),
            CAST(:lats AS float8[]), CAST(:accuracy AS float8[]), CAST(:speed AS float8[]),
            CAST(:heading AS float8[]), CAST(:altitude AS float8[]),
            CAST(:battery AS float8[]), CAST(:moving AS boolean[]), CAST(:idx AS integer[])
        ) AS p(device_id, team_id, recorded_at, lon, lat, accuracy_m, speed_mps, heading_deg,
               altitude_m, battery_pct, is_moving, idx)
    ),
    pg AS (
        SELECT p.*, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) AS geom FROM p
    ),
    judged AS (
        SELECT pg.*,
               CASE WHEN EXISTS (SELECT 1 FROM locate_piece WHERE kind = 'kabupaten')
                    THEN EXISTS (
                        SELECT 1 FROM locate_piece lp
                        WHERE lp.kind = 'kabupaten'
                          AND ST_DWithin(lp.geom_utm, ST_Transform(pg.geom, 32649), :margin_m))
                    ELSE pg.lon BETWEEN :minx AND :maxx AND pg.lat BETWEEN :miny AND :maxy
               END AS inside
        FROM pg
    ),
    written AS (
        INSERT INTO track_position (device_id, team_id, recorded_at, geom, accuracy_m,
                                    speed_mps, heading_deg, altitude_m, battery_pct, is_moving)
        SELECT device_id, team_id, recorded_at, geom, accuracy_m, speed_mps, heading_deg,
               altitude_m, battery_pct, is_moving
        FROM judged WHERE inside
        ON CONFLICT (device_id, recorded_at) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM written),
           coalesce((SELECT array_agg(idx) FROM judged WHERE NOT inside), '{}')
    """
)

REFUSAL_SQL = text(
    """
    INSERT INTO field_refusal AS r (identifier, reason, attempts)
    SELECT * FROM unnest(CAST(:identifiers AS text[]), CAST(:reasons AS text[]),
                         CAST(:counts AS bigint[]))
    ON CONFLICT (identifier) DO UPDATE
    SET attempts = r.attempts + excluded.attempts, reason = excluded.reason, last_at = now()
    """
)

SEEN_SQL = text(
    "UPDATE field_device SET last_seen_at = greatest(last_seen_at, :at) "
    "WHERE id = ANY(CAST(:ids AS integer[]))"
)


@dataclass
class IngestResult:
    """What became of a batch: how many stored, duplicates, refused by reason, and per item."""

    stored: int = 0
    duplicates: int = 0
    without_fix: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    outcomes: list[str] = field(default_factory=list)  # per position: stored|refused reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "without_fix": self.without_fix,
            "refused": dict(self.refused),
        }


def record_positions(
    *,
    session: Session,
    positions: Sequence[Position],
    margin_m: float,
    received_at: dt.datetime | None = None,
) -> IngestResult:
    """Store a batch of positions in the caller's transaction; see the module docstring."""
    if len(positions) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} positions per batch, got {len(positions)}")
    result = IngestResult(outcomes=[""] * len(positions))
    identifiers = sorted({p.identifier for p in positions})
    known = {
        row[0]: (int(row[1]), int(row[2]), bool(row[3]))
        for row in session.execute(DEVICES_SQL, {"identifiers": identifiers})
    }
    refusals: Counter[tuple[str, str]] = Counter()
    batch: dict[str, list[Any]] = {k: [] for k in BATCH_COLUMNS}
    seen: set[int] = set()
    for i, p in enumerate(positions):
        device = known.get(p.identifier)
        if device is None or device[2]:
            reason = UNKNOWN_DEVICE if device is None else REVOKED_DEVICE
            result.refused[reason] += 1
            result.outcomes[i] = reason
            refusals[(p.identifier, reason)] += 1
            continue
        seen.add(device[0])
        if p.lon is None or p.lat is None:
            result.without_fix += 1
            result.outcomes[i] = "without_fix"
            continue
        for key, value in (
            ("device_ids", device[0]),
            ("team_ids", device[1]),
            ("recorded_at", p.recorded_at),
            ("lons", p.lon),
            ("lats", p.lat),
            ("accuracy", p.accuracy_m),
            ("speed", p.speed_mps),
            ("heading", p.heading_deg),
            ("altitude", p.altitude_m),
            ("battery", p.battery_pct),
            ("moving", p.is_moving),
            ("idx", i),
        ):
            batch[key].append(value)
        result.outcomes[i] = "stored"
    if batch["idx"]:
        minx, miny, maxx, maxy = FALLBACK_AOI_BBOX
        written, outside = session.execute(
            INSERT_SQL,
            {**batch, "margin_m": margin_m, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy},
        ).one()
        for i in outside:
            result.outcomes[i] = OUT_OF_AREA
            result.refused[OUT_OF_AREA] += 1
            refusals[(positions[i].identifier, OUT_OF_AREA)] += 1
        result.stored = int(written)
        result.duplicates = len(batch["idx"]) - len(outside) - result.stored
        if result.stored:
            refused_idx = set(outside)
            live.announce(
                session=session,
                team_ids=[
                    team
                    for team, idx in zip(batch["team_ids"], batch["idx"], strict=True)
                    if idx not in refused_idx
                ],
            )
    if seen:
        session.execute(
            SEEN_SQL, {"ids": sorted(seen), "at": received_at or dt.datetime.now(dt.UTC)}
        )
    if refusals:
        keys = sorted(refusals)
        session.execute(
            REFUSAL_SQL,
            {
                "identifiers": [k[0] for k in keys],
                "reasons": [k[1] for k in keys],
                "counts": [refusals[k] for k in keys],
            },
        )
    return result


def refusals(*, session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Identifiers that were refused, most recent first (to register a phone that tried)."""
    rows = session.execute(
        text(
            "SELECT identifier, reason, attempts, first_at, last_at FROM field_refusal "
            "ORDER BY last_at DESC LIMIT :limit"
        ),
        {"limit": int(limit)},
    )
    return [dict(row._mapping) for row in rows]


# One part per stretch of a device's positions without a silence longer than :gap_s; points
# less accurate than :max_accuracy_m are left out (a phone indoors reports kilometres off).
TRACK_PARTS_SQL = """
    WITH pos AS (
        SELECT tp.team_id, tp.device_id, tp.recorded_at, tp.geom,
               CASE WHEN lag(tp.recorded_at) OVER w IS NULL
                      OR tp.recorded_at - lag(tp.recorded_at) OVER w
                         > make_interval(secs => :gap_s)
                    THEN 1 ELSE 0 END AS starts
        FROM track_position tp
        WHERE tp.recorded_at >= :{prefix}start AND tp.recorded_at < :{prefix}end
          AND (tp.accuracy_m IS NULL OR tp.accuracy_m <= :max_accuracy_m)
          {team_filter}
        WINDOW w AS (PARTITION BY tp.device_id ORDER BY tp.recorded_at)
    ),
    parted AS (
        SELECT pos.*, sum(starts) OVER (PARTITION BY device_id ORDER BY recorded_at) AS part
        FROM pos
    ),
    parts AS (
        SELECT team_id, device_id, part, min(recorded_at) AS started_at,
               max(recorded_at) AS ended_at, count(*) AS n_positions,
               CASE WHEN count(*) > 1 THEN ST_MakeLine(geom ORDER BY recorded_at)
                    ELSE (array_agg(geom))[1] END AS geom
        FROM parted GROUP BY team_id, device_id, part
    )
"""

TRACKS_SQL = (
    TRACK_PARTS_SQL
    + """
    SELECT t.name AS team, count(*) AS n_parts, sum(n_positions) AS n_positions,
           min(started_at) AS started_at, max(ended_at) AS ended_at,
           sum(ST_Length(ST_Transform(parts.geom, 32649))) AS length_m,
           ST_AsGeoJSON(ST_Collect(parts.geom ORDER BY started_at), 6) AS geometry
    FROM parts JOIN patrol_team t ON t.id = parts.team_id
    GROUP BY t.name ORDER BY t.name
    """
)


def track_window(
    start: str | dt.datetime | None, end: str | dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of a track request: the last 24 h by default, at most
    ``MAX_TRACK_DAYS`` days (a track is read whole)."""
    start_at, end_at = parse_window(start, end)
    end_at = end_at or dt.datetime.now(dt.UTC)
    start_at = start_at or end_at - dt.timedelta(days=1)
    if start_at >= end_at:
        raise ValidationError(
            f"end ({end_at.isoformat()}) must be after start ({start_at.isoformat()})",
            field="end",
            value=end_at.isoformat(),
        )
    if end_at - start_at > dt.timedelta(days=MAX_TRACK_DAYS):
        raise ValidationError(
            f"a track window is at most {MAX_TRACK_DAYS} days; got "
            f"{(end_at - start_at).total_seconds() / 86400:.1f}",
            field="end",
            value=end_at.isoformat(),
        )
    return start_at, end_at


def _team_filter(team: str | None) -> str:
    return "AND tp.team_id = (SELECT id FROM patrol_team WHERE name = :team)" if team else ""


def team_tracks(
    *,
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    team: str | None = None,
    gap_s: float,
    max_accuracy_m: float,
) -> dict[str, Any]:
    """Each team's track in ``[start, end)`` as a FeatureCollection (times in UTC ISO 8601)."""
    sql = TRACKS_SQL.format(team_filter=_team_filter(team), prefix="")
    rows = session.execute(
        text(sql),
        {
            "start": start,
            "end": end,
            "team": team,
            "gap_s": gap_s,
            "max_accuracy_m": max_accuracy_m,
        },
    )
    features = []
    for row in rows:
        features.append(
            {
                "type": "Feature",
                "geometry": orjson.loads(row.geometry),
                "properties": {
                    "team": row.team,
                    "parts": int(row.n_parts),
                    "positions": int(row.n_positions),
                    "started_at": row.started_at.isoformat(),
                    "ended_at": row.ended_at.isoformat(),
                    "length_m": round(float(row.length_m), 1),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


LAST_POSITIONS_SQL = text(
    """
    SELECT DISTINCT ON (tp.team_id) t.name AS team, d.name AS device, tp.recorded_at,
           ST_X(tp.geom) AS lon, ST_Y(tp.geom) AS lat, tp.accuracy_m, tp.battery_pct
    FROM track_position tp
    JOIN patrol_team t ON t.id = tp.team_id
    JOIN field_device d ON d.id = tp.device_id
    WHERE tp.recorded_at >= :since
    ORDER BY tp.team_id, tp.recorded_at DESC
    """
)


def last_positions(*, session: Session, since: dt.datetime) -> dict[str, Any]:
    """Each team's latest position since ``since`` (the dashboard's live layer)."""
    features = [
        live.position_feature(row) for row in session.execute(LAST_POSITIONS_SQL, {"since": since})
    ]
    return {"type": "FeatureCollection", "features": features}


def coverage_sql() -> str:
    """A subquery: the area tracks covered in ``[:track_start, :track_end)``, in EPSG:32649.

    The buffer of every track part by ``:watch_radius_m``: what a team could see from where it
    actually went (NULL when no team went out). Binds ``track_start``, ``track_end``, ``gap_s``,
    ``max_accuracy_m`` and ``watch_radius_m``.
    """
    parts = TRACK_PARTS_SQL.format(team_filter="", prefix="track_")
    return (
        f"({parts} SELECT ST_Union(ST_Buffer(ST_Transform(geom, 32649), :watch_radius_m, 8)) "
        "FROM parts)"
    )


TRACK_POINTS_SQL = (
    TRACK_PARTS_SQL.format(team_filter="", prefix="")
    + """
    SELECT ST_X(d.geom), ST_Y(d.geom)
    FROM parts,
         LATERAL ST_DumpPoints(ST_Segmentize(ST_Transform(parts.geom, 32649), :spacing_m)) AS d
    """
)


def track_points_utm(
    *,
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    spacing_m: float,
    gap_s: float,
    max_accuracy_m: float,
) -> npt.NDArray[np.float64]:
    """Points along every team's track in ``[start, end)``, at most ``spacing_m`` apart, in
    EPSG:32649: with discs of radius R around them and ``spacing_m`` <= R / 2, their union is
    the track's buffer by R to within 3 % of R (what the patrol planner reads as "patrolled")."""
    rows = session.execute(
        text(TRACK_POINTS_SQL),
        {
            "start": start,
            "end": end,
            "spacing_m": spacing_m,
            "gap_s": gap_s,
            "max_accuracy_m": max_accuracy_m,
        },
    ).all()
    if not rows:
        return np.zeros((0, 2))
    return np.asarray(rows, dtype=np.float64)


def ensure_track_partitions(
    *, session: Session, months_ahead: int = 12, today: dt.date | None = None
) -> int:
    """Monthly partitions of ``track_position`` from last month to ``months_ahead`` ahead
    (positions of older months wait in the default partition until their month is made)."""
    today = today or dt.datetime.now(dt.UTC).date()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last = today + dt.timedelta(days=31 * months_ahead)
    return int(
        session.execute(
            text("SELECT timpora_ensure_track_partitions(:a, :b)"), {"a": first, "b": last}
        ).scalar_one()
    )
