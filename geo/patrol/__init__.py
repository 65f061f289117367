"""Patrol planning on hotspots: where to send ``k`` patrols, in which order, and a patrol log.

- **Where** — greedy maximum coverage: choose up to ``k`` patrol points among the hex-cell centres
  so that the hotspot weight of the cells whose centres lie within ``radius_m`` is as large as
  possible (at least 1 − 1/e of the optimum).
- **Order** — a route from the start point (the immigration office from settings, else Sambas
  town) by nearest neighbour then 2-opt, straight lines in EPSG:32649 (no road network yet).
- **Recently patrolled** — cells within the radius of a patrol logged in the last
  ``avoid_recent_days`` days count ``recent_factor`` times their weight, so plans rotate. A stop
  and a logged patrol reach :data:`DEFAULT_RADIUS_M` unless told otherwise: one meaning of
  "patrolled" for planning and logging.

The parts (docs/hotspots.md explains the method):

- :mod:`geo.patrol.coordinates` — lon/lat ↔ EPSG:32649, the start-point check and default;
- :mod:`geo.patrol.coverage` — greedy weighted maximum coverage (pure);
- :mod:`geo.patrol.route` — the visiting order, nearest neighbour + 2-opt (pure);
- :mod:`geo.patrol.plan` — cell weights, the recency discount, the plan and its GeoJSON (pure);
- :mod:`geo.patrol.logbook` — the patrol log (SQL, audited writes);
- :mod:`geo.patrol.service` — :func:`plan_patrol` and :func:`plan_on_hotspots`, plans from the
  database.
"""

from geo.patrol.coordinates import (
    SAMBAS_TOWN,
    FloatArray,
    check_lon_lat,
    default_start,
    to_lonlat,
    to_utm,
    to_utm_arrays,
)
from geo.patrol.coverage import GUARANTEE, Coverage, coverage_matrix, greedy_max_coverage
from geo.patrol.logbook import (
    get_patrol,
    list_patrols,
    log_patrol,
    patrol_feature,
    recent_patrols_utm,
)
from geo.patrol.plan import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    DEFAULT_RECENT_FACTOR,
    MAX_PATROL_POINTS,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    WEIGHT_MODES,
    PatrolPlan,
    PatrolPoint,
    WeightMode,
    check_plan_parameters,
    hotspot_weights,
    plan_from_hotspots,
    plan_to_feature_collection,
    recency_multiplier,
)
from geo.patrol.route import order_route, route_length
from geo.patrol.service import plan_on_hotspots, plan_patrol

__all__ = [
    "DEFAULT_AVOID_RECENT_DAYS",
    "DEFAULT_K",
    "DEFAULT_RADIUS_M",
    "DEFAULT_RECENT_FACTOR",
    "GUARANTEE",
    "MAX_PATROL_POINTS",
    "MAX_RADIUS_M",
    "MIN_RADIUS_M",
    "SAMBAS_TOWN",
    "WEIGHT_MODES",
    "Coverage",
    "FloatArray",
    "PatrolPlan",
    "PatrolPoint",
    "WeightMode",
    "check_lon_lat",
    "check_plan_parameters",
    "coverage_matrix",
    "default_start",
    "get_patrol",
    "greedy_max_coverage",
    "hotspot_weights",
    "list_patrols",
    "log_patrol",
    "order_route",
    "patrol_feature",
    "plan_from_hotspots",
    "plan_on_hotspots",
    "plan_patrol",
    "plan_to_feature_collection",
    "recency_multiplier",
    "recent_patrols_utm",
    "route_length",
    "to_lonlat",
    "to_utm",
    "to_utm_arrays",
]
