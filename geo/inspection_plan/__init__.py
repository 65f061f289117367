"""Inspection plans: the top-risk workplaces a team can reach on a day or in a week, in
visiting order, with the reasons and the agencies to involve at each stop (docs/risk.md,
"Inspection plan").

- :mod:`geo.inspection_plan.route` — the orienteering heuristic (pure);
- :mod:`geo.inspection_plan.agencies` — factors → kinds of agency → the registered agencies;
- :mod:`geo.inspection_plan.service` — the request checked, the plan made, saved and read.
"""

from geo.inspection_plan.agencies import FACTOR_AGENCIES, agency_kinds
from geo.inspection_plan.route import Tour, plan_tours
from geo.inspection_plan.service import (
    MAX_ROUTE_KM,
    MAX_STOPS,
    PERIODS,
    WEEK_DAYS,
    PlanRequest,
    get_plan,
    list_plans,
    make_plan,
    parse_request,
    resolve_place,
)

__all__ = [
    "FACTOR_AGENCIES",
    "MAX_ROUTE_KM",
    "MAX_STOPS",
    "PERIODS",
    "WEEK_DAYS",
    "PlanRequest",
    "Tour",
    "agency_kinds",
    "get_plan",
    "list_plans",
    "make_plan",
    "parse_request",
    "plan_tours",
    "resolve_place",
]
