"""The plan from the database: the window's hotspots and the recent patrol log (SQL), then
:func:`geo.patrol.plan.plan_from_hotspots`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from geo.field.tracks import DEFAULT_GAP_S, DEFAULT_MAX_ACCURACY_M, track_points_utm
from geo.hotspots.analysis import hotspots
from geo.hotspots.data import as_utc
from geo.patrol.coordinates import FloatArray, check_lon_lat, default_start
from geo.patrol.logbook import recent_patrols_utm
from geo.patrol.plan import PatrolPlan, check_plan_parameters, plan_from_hotspots
from geo.registry.caps import AVOID_RECENT_DAYS
from geo.settings import AreaSettings


def plan_patrol(
    *,
    session: Session,
    k: int = 4,
    radius_m: float = 2000.0,
    start_point: tuple[float, float] | None = None,
    area: AreaSettings | None = None,
    layer: str = "incidents",
    cell_m: float = 1000.0,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
    weighting: str = "count",
    weight_mode: str = "hot",
    min_confidence: int = 2,
    return_to_start: bool = True,
    avoid_recent_days: int | None = 7,
    recent_factor: float = 0.5,
    now: dt.datetime | None = None,
    reference_data_dir: Path | None = None,
) -> PatrolPlan:
    """Hotspots of the window (SQL), recent patrols (SQL), then :func:`plan_from_hotspots`."""
    check_plan_parameters(k=k, radius_m=radius_m, recent_factor=recent_factor)
    point = start_point or default_start(area)
    check_lon_lat(*point, field="start_point")
    if avoid_recent_days is not None:
        AVOID_RECENT_DAYS.integer(avoid_recent_days)
    if reference_data_dir is None and area is not None:
        reference_data_dir = area.reference_data_dir
    result = hotspots(
        session=session,
        layer=layer,
        cell_m=cell_m,
        start=start,
        end=end,
        kinds=kinds,
        weighting=weighting,
        reference_data_dir=reference_data_dir,
    )
    visits_xy: FloatArray | None = None
    visits_r: FloatArray | None = None
    if avoid_recent_days:
        moment = as_utc(now, "now") or dt.datetime.now(dt.UTC)
        since = moment - dt.timedelta(days=avoid_recent_days)
        visits_xy, visits_r = recent_patrols_utm(session=session, since=since)
        # Where teams actually went (their phones' tracks) counts as patrolled too.
        walked = track_points_utm(
            session=session,
            start=since,
            end=moment,
            spacing_m=radius_m / 2,
            gap_s=DEFAULT_GAP_S,
            max_accuracy_m=DEFAULT_MAX_ACCURACY_M,
        )
        visits_xy = np.vstack([visits_xy, walked])
        visits_r = np.concatenate([visits_r, np.full(len(walked), radius_m)])
    return plan_from_hotspots(
        result,
        k=k,
        radius_m=radius_m,
        start=point,
        weight_mode=weight_mode,
        min_confidence=min_confidence,
        return_to_start=return_to_start,
        recent_visits_xy=visits_xy,
        recent_visits_radius_m=visits_r,
        recent_factor=recent_factor,
    )
