"""What the tracks say about patrolling: a day's replay, planned stops visited or missed, and
each team's coverage of the hot cells over a period.

All three read the same track parts as :func:`geo.field.tracks.team_tracks` (gaps where the
phone was silent, inaccurate positions left out) and measure in EPSG:32649.

- :func:`replay_day`: one WIB day of each team's positions with their times, thinned to one per
  ``step_s`` seconds, for the dashboard's time slider;
- :func:`stop_visits`: for planned stops (a point and a radius each), whether a track passed
  within the radius, how close it came, which teams and when;
- :func:`team_coverage`: per team, km walked, hours tracked and which of the given cells (their
  centres) a track passed within the radius of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.field.tracks import TRACK_PARTS_SQL
from geo.times import WIB

REPLAY_STEP_S: Final = (10, 900)  # allowed thinning step, seconds
DEFAULT_REPLAY_STEP_S: Final = 30
MAX_REPLAY_POSITIONS: Final = 100_000  # per request, over every team
MAX_STOPS: Final = 500

REPLAY_SQL = (
    TRACK_PARTS_SQL.format(team_filter="{team_filter}", prefix="")
    + """,
    thinned AS (
        SELECT DISTINCT ON (device_id, part, floor(extract(epoch FROM recorded_at) / :step_s))
               team_id, device_id, part, recorded_at, geom
        FROM parted
        ORDER BY device_id, part, floor(extract(epoch FROM recorded_at) / :step_s), recorded_at
    )
    SELECT t.name AS team, d.name AS device, th.part,
           extract(epoch FROM th.recorded_at)::bigint AS at,
           round(ST_X(th.geom)::numeric, 6)::float8 AS lon,
           round(ST_Y(th.geom)::numeric, 6)::float8 AS lat
    FROM thinned th
    JOIN patrol_team t ON t.id = th.team_id
    JOIN field_device d ON d.id = th.device_id
    ORDER BY t.name, d.name, th.part, th.recorded_at
    LIMIT :limit
"""
)


def day_window(day: str | dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[00:00, 24:00)`` WIB of ``day`` (a date or ``YYYY-MM-DD``), in UTC."""
    if isinstance(day, str):
        try:
            day = dt.date.fromisoformat(day)
        except ValueError:
            raise ValidationError(
                f"day must be a date YYYY-MM-DD; got {day!r}", field="day", value=day
            ) from None
    start = dt.datetime.combine(day, dt.time(), tzinfo=WIB)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def replay_day(
    *,
    session: Session,
    day: str | dt.date,
    team: str | None = None,
    step_s: int = DEFAULT_REPLAY_STEP_S,
    gap_s: float,
    max_accuracy_m: float,
) -> dict[str, Any]:
    """One WIB day of each team's track with a time per vertex (epoch seconds), as a
    FeatureCollection: a MultiLineString per team (one part per device and stretch without a
    gap) and ``times`` parallel to its coordinates. At most one position per ``step_s``
    seconds per device, at most ``MAX_REPLAY_POSITIONS`` in all (``truncated`` says so)."""
    low, high = REPLAY_STEP_S
    if not low <= step_s <= high:
        raise ValidationError(
            f"step_s must be between {low} and {high} seconds; got {step_s!r}",
            field="step_s",
            value=step_s,
        )
    start, end = day_window(day)
    team_filter = "AND tp.team_id = (SELECT id FROM patrol_team WHERE name = :team)" if team else ""
    rows = session.execute(
        text(REPLAY_SQL.format(team_filter=team_filter)),
        {
            "start": start,
            "end": end,
            "team": team,
            "step_s": step_s,
            "gap_s": gap_s,
            "max_accuracy_m": max_accuracy_m,
            "limit": MAX_REPLAY_POSITIONS + 1,
        },
    ).all()
    truncated = len(rows) > MAX_REPLAY_POSITIONS
    teams: dict[str, dict[tuple[str, int], tuple[list[list[float]], list[int]]]] = {}
    for row in rows[:MAX_REPLAY_POSITIONS]:
        coords, times = teams.setdefault(row.team, {}).setdefault(
            (row.device, int(row.part)), ([], [])
        )
        coords.append([row.lon, row.lat])
        times.append(int(row.at))
    features = []
    for name, parts in teams.items():
        lines = [coords if len(coords) > 1 else coords * 2 for coords, _ in parts.values()]
        part_times = [ts if len(ts) > 1 else ts * 2 for _, ts in parts.values()]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "MultiLineString", "coordinates": lines},
                "properties": {
                    "team": name,
                    "devices": sorted({device for device, _ in parts}),
                    "times": part_times,
                    "started_at": min(ts[0] for ts in part_times),
                    "ended_at": max(ts[-1] for ts in part_times),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "day": start.astimezone(WIB).date().isoformat(),
        "start": int(start.timestamp()),
        "end": int(end.timestamp()),
        "step_s": step_s,
        "truncated": truncated,
    }


# --- planned stops: visited or missed -----------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """A planned stop: where, within which radius a pass counts, and what it is called."""

    lon: float
    lat: float
    radius_m: float
    label: str


@dataclass(frozen=True)
class StopVisit:
    stop: Stop
    visited: bool
    closest_m: float | None  # None: no track at all in the window
    teams: tuple[str, ...] = ()  # teams whose track passed within the radius
    first_at: dt.datetime | None = None  # first position within the radius


STOP_VISITS_SQL = (
    TRACK_PARTS_SQL.format(team_filter="", prefix="")
    + """,
    stops AS (
        SELECT s.ord, ST_Transform(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), 32649) AS g,
               s.radius_m
        FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]),
                    CAST(:radii AS float8[])) WITH ORDINALITY AS s(lon, lat, radius_m, ord)
    ),
    lines AS (
        SELECT parts.team_id, ST_Transform(parts.geom, 32649) AS g FROM parts
    )
    SELECT stops.ord,
           (SELECT min(ST_Distance(lines.g, stops.g)) FROM lines) AS closest_m,
           ARRAY(SELECT DISTINCT t.name FROM lines JOIN patrol_team t ON t.id = lines.team_id
                 WHERE ST_DWithin(lines.g, stops.g, stops.radius_m) ORDER BY t.name) AS teams,
           (SELECT min(p.recorded_at) FROM parted p
             WHERE ST_DWithin(ST_Transform(p.geom, 32649), stops.g, stops.radius_m)) AS first_at
    FROM stops ORDER BY stops.ord
"""
)


def stop_visits(
    *,
    session: Session,
    stops: Sequence[Stop],
    start: dt.datetime,
    end: dt.datetime,
    gap_s: float,
    max_accuracy_m: float,
) -> list[StopVisit]:
    """Which ``stops`` a team's track in ``[start, end)`` passed within the stop's radius of
    (a track's line between two positions counts: a team walking past is a visit)."""
    if len(stops) > MAX_STOPS:
        raise ValidationError(
            f"at most {MAX_STOPS} stops; got {len(stops)}", field="stops", value=len(stops)
        )
    if not stops:
        return []
    rows = session.execute(
        text(STOP_VISITS_SQL),
        {
            "start": start,
            "end": end,
            "gap_s": gap_s,
            "max_accuracy_m": max_accuracy_m,
            "lons": [s.lon for s in stops],
            "lats": [s.lat for s in stops],
            "radii": [s.radius_m for s in stops],
        },
    ).all()
    return [
        StopVisit(
            stop=stop,
            visited=bool(row.teams),
            closest_m=None if row.closest_m is None else float(row.closest_m),
            teams=tuple(row.teams),
            first_at=row.first_at,
        )
        for stop, row in zip(stops, rows, strict=True)
    ]


# --- coverage of cells per team -----------------------------------------------------------------


@dataclass(frozen=True)
class TeamCoverage:
    """What one team's track did in a period."""

    team: str
    length_m: float
    tracked_s: float  # time spanned by the track's parts (silences excluded)
    positions: int
    cells: frozenset[int] = field(default_factory=frozenset)  # indexes of the cells it covered

    @property
    def km(self) -> float:
        return self.length_m / 1000

    @property
    def hours(self) -> float:
        return self.tracked_s / 3600


TEAM_COVERAGE_SQL = (
    TRACK_PARTS_SQL.format(team_filter="", prefix="")
    + """,
    cells AS (
        SELECT c.ord, ST_SetSRID(ST_MakePoint(c.x, c.y), 32649) AS g
        FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS c(x, y, ord)
    ),
    team_parts AS (
        SELECT team_id, ST_Transform(geom, 32649) AS g, n_positions,
               extract(epoch FROM ended_at - started_at) AS seconds
        FROM parts
    )
    SELECT t.name AS team,
           sum(ST_Length(tp.g)) AS length_m,
           sum(tp.seconds) AS tracked_s,
           sum(tp.n_positions) AS positions,
           ARRAY(SELECT DISTINCT c.ord - 1 FROM cells c, team_parts q
                 WHERE q.team_id = tp.team_id AND ST_DWithin(q.g, c.g, :radius_m)
                 ORDER BY 1) AS cells
    FROM team_parts tp JOIN patrol_team t ON t.id = tp.team_id
    GROUP BY t.name, tp.team_id ORDER BY t.name
"""
)


def team_coverage(
    *,
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    cells_xy: Sequence[tuple[float, float]],
    radius_m: float,
    gap_s: float,
    max_accuracy_m: float,
) -> list[TeamCoverage]:
    """Per team with a track in ``[start, end)``: length, time tracked, positions, and the
    indexes of ``cells_xy`` (cell centres, EPSG:32649) within ``radius_m`` of its track — the
    planner's meaning of "patrolled" (docs/field.md)."""
    rows = session.execute(
        text(TEAM_COVERAGE_SQL),
        {
            "start": start,
            "end": end,
            "gap_s": gap_s,
            "max_accuracy_m": max_accuracy_m,
            "xs": [float(x) for x, _ in cells_xy],
            "ys": [float(y) for _, y in cells_xy],
            "radius_m": radius_m,
        },
    ).all()
    return [
        TeamCoverage(
            team=row.team,
            length_m=float(row.length_m or 0.0),
            tracked_s=float(row.tracked_s or 0.0),
            positions=int(row.positions),
            cells=frozenset(int(i) for i in row.cells),
        )
        for row in rows
    ]
