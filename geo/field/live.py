"""The teams' last positions, live: a NOTIFY at each committed batch, a LISTEN hub fanning out.

:func:`geo.field.tracks.record_positions` sends the ids of the teams it stored positions for on
``timpora_position`` (delivered at commit, so nothing is announced that a rollback takes back).
One :class:`PositionHub` per process LISTENs in a thread, reads those teams' latest positions
once and hands each subscriber its copy, as the alert stream does (``geo.alerts.stream``).
Framework-free: the API turns a subscription into Server-Sent Events for the roles that manage
patrols (officers' movements are personal data: docs/field.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.alerts.stream import AlertHub

log = logging.getLogger("timpora.field.live")

CHANNEL: Final = "timpora_position"
NOTIFY_SQL = text(f"SELECT pg_notify('{CHANNEL}', :payload)")

TEAM_POSITIONS_SQL = text(
    """
    SELECT DISTINCT ON (tp.team_id) t.name AS team, d.name AS device, tp.recorded_at,
           ST_X(tp.geom) AS lon, ST_Y(tp.geom) AS lat, tp.accuracy_m, tp.battery_pct
    FROM track_position tp
    JOIN patrol_team t ON t.id = tp.team_id
    JOIN field_device d ON d.id = tp.device_id
    WHERE tp.team_id = ANY(CAST(:teams AS integer[]))
      AND tp.recorded_at >= now() - interval '1 day'
    ORDER BY tp.team_id, tp.recorded_at DESC
    """
)


def position_feature(row: Any) -> dict[str, Any]:
    """A team's position as a GeoJSON Feature (the live layer's item; times UTC ISO 8601)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "properties": {
            "team": row.team,
            "device": row.device,
            "recorded_at": row.recorded_at.isoformat(),
            "accuracy_m": row.accuracy_m,
            "battery_pct": row.battery_pct,
        },
    }


def announce(*, session: Session, team_ids: Sequence[int]) -> None:
    """Tell listeners, at commit, which teams have new positions."""
    if team_ids:
        session.execute(NOTIFY_SQL, {"payload": ",".join(str(i) for i in sorted(set(team_ids)))})


def team_positions(engine: Engine, team_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The latest position (of the last day) of each of ``team_ids``."""
    with Session(engine) as session:
        rows = session.execute(TEAM_POSITIONS_SQL, {"teams": sorted(set(team_ids))}).all()
    return [position_feature(row) for row in rows]


class PositionHub(AlertHub):
    """LISTEN on ``timpora_position``; each notification becomes those teams' latest positions."""

    channel = CHANNEL

    def _dispatch(self, ids: list[int]) -> None:
        if not self.subscribers:
            return
        try:
            features = team_positions(self.engine, ids)
        except Exception:
            log.exception("could not load the positions of teams %s for the stream", ids[:10])
            return
        self.publish(features)
