"""The plan from the database: the window's hotspots, the recent patrol log and tracks (SQL), then
:func:`geo.patrol.plan.plan_from_hotspots`. Every face plans through here (CLI, API, maps,
snapshots), so all of them discount the same recent patrols the same way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from geo.field.tracks import DEFAULT_GAP_S, DEFAULT_MAX_ACCURACY_M, track_points_utm
from geo.hotspots.analysis import HotspotResult, hotspots
from geo.hotspots.data import as_utc
from geo.patrol.coordinates import FloatArray, check_lon_lat, default_start
from geo.patrol.logbook import recent_patrols_utm
from geo.patrol.plan import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    DEFAULT_RECENT_FACTOR,
    PatrolPlan,
    check_plan_parameters,
    plan_from_hotspots,
)
from geo.registry.caps import AVOID_RECENT_DAYS
from geo.settings import AreaSettings


def _check_request(
    *,
    k: int,
    radius_m: float,
    recent_factor: float,
    start_point: tuple[float, float],
    avoid_recent_days: int | None,
) -> None:
    check_plan_parameters(k=k, radius_m=radius_m, recent_factor=recent_factor)
    check_lon_lat(*start_point, field="start_point")
    if avoid_recent_days is not None:
        AVOID_RECENT_DAYS.integer(avoid_recent_days)


def plan_on_hotspots(
    *,
    session: Session,
    result: HotspotResult,
    k: int = DEFAULT_K,
    radius_m: float = DEFAULT_RADIUS_M,
    start_point: tuple[float, float] | None = None,
    area: AreaSettings | None = None,
    weight_mode: str = "hot",
    min_confidence: int = 2,
    return_to_start: bool = True,
    avoid_recent_days: int | None = DEFAULT_AVOID_RECENT_DAYS,
    recent_factor: float = DEFAULT_RECENT_FACTOR,
    now: dt.datetime | None = None,
) -> PatrolPlan:
    """A plan on an already computed hotspot result, discounting the cells within the radius of
    a patrol logged, or of a team's track, in the ``avoid_recent_days`` days before ``now``
    (none when 0 or None)."""
    point = start_point or default_start(area)
    _check_request(
        k=k,
        radius_m=radius_m,
        recent_factor=recent_factor,
        start_point=point,
        avoid_recent_days=avoid_recent_days,
    )
    visits_xy: FloatArray | None = None
    visits_r: FloatArray | None = None
    if avoid_recent_days:
        moment = as_utc(now, "now") or dt.datetime.now(dt.UTC)
        since = moment - dt.timedelta(days=avoid_recent_days)
        visits_xy, visits_r = recent_patrols_utm(session=session, since=since, until=moment)
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


def plan_patrol(
    *,
    session: Session,
    k: int = DEFAULT_K,
    radius_m: float = DEFAULT_RADIUS_M,
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
    avoid_recent_days: int | None = DEFAULT_AVOID_RECENT_DAYS,
    recent_factor: float = DEFAULT_RECENT_FACTOR,
    now: dt.datetime | None = None,
    reference_data_dir: Path | None = None,
) -> PatrolPlan:
    """Hotspots of the window (SQL), then :func:`plan_on_hotspots`."""
    # The cheap checks first: a bad request should not wait for a Gi* run.
    _check_request(
        k=k,
        radius_m=radius_m,
        recent_factor=recent_factor,
        start_point=start_point or default_start(area),
        avoid_recent_days=avoid_recent_days,
    )
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
    return plan_on_hotspots(
        session=session,
        result=result,
        k=k,
        radius_m=radius_m,
        start_point=start_point,
        area=area,
        weight_mode=weight_mode,
        min_confidence=min_confidence,
        return_to_start=return_to_start,
        avoid_recent_days=avoid_recent_days,
        recent_factor=recent_factor,
        now=now,
    )
