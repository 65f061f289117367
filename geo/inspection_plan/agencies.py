"""Which agencies to involve at a stop, from its risk factors (docs/risk.md, "Agencies").

Each factor that is present at a workplace calls for agencies of certain *kinds*; the stop's
agencies are the union, immigration first (it chairs the Timpora and leads every joint
inspection). The names come from the active agencies of the ``agency`` table
(``geo.agencies``); a kind with no active agency is listed alone.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.models import AGENCY_KINDS

# A factor present at a workplace → the kinds of agency its inspection needs.
FACTOR_AGENCIES: Final[dict[str, tuple[str, ...]]] = {
    # More workers than the RPTKA allows: a labour-law matter and a permit matter.
    "over_quota": ("manpower", "immigration"),
    # Workers seen working where they are not sponsored (hidden workers): the same two.
    "sighted_elsewhere": ("manpower", "immigration"),
    # Violators found elsewhere among the workers it sponsors: as for hidden workers.
    "sponsor_violations": ("manpower", "immigration"),
    # Permits expired or about to: the immigration office's own business.
    "expired_permits": ("immigration",),
    "expiring_permits": ("immigration",),
    # Open alert episodes and incidents around the site: the police keep order at the visit.
    "open_alerts": ("police",),
    "incidents": ("police",),
    # Near the border (within NEAR_BORDER_M): the border guard (TNI) and the police.
    "border_proximity": ("military", "police"),
}
NEAR_BORDER_M: Final = 5_000.0

AGENCY_SQL = text(
    "SELECT id, name, short_name, kind FROM agency"
    " WHERE active AND kind = ANY (CAST(:kinds AS text[])) ORDER BY id"
)


def agency_kinds(values: dict[str, float], distance_to_border_m: float | None) -> list[str]:
    """The kinds of agency for a workplace with these exact factor values, in AGENCY_KINDS
    order; immigration always."""
    kinds = {"immigration"}
    for factor, value in values.items():
        if factor == "border_proximity":
            near = distance_to_border_m is not None and distance_to_border_m <= NEAR_BORDER_M
            if near:
                kinds.update(FACTOR_AGENCIES[factor])
        elif value > 0:
            kinds.update(FACTOR_AGENCIES.get(factor, ()))
    return [k for k in AGENCY_KINDS if k in kinds]


def agencies_by_kind(*, session: Session, kinds: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The active agencies of ``kinds`` (id, name, short name), by kind."""
    if not kinds:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for row in session.execute(AGENCY_SQL, {"kinds": sorted(kinds)}):
        out.setdefault(row.kind, []).append(
            {"id": row.id, "name": row.name, "short_name": row.short_name}
        )
    return out


def stop_agencies(
    kinds: list[str], registered: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One entry per kind: the kind and the registered agencies of that kind (maybe none)."""
    return [{"kind": k, "agencies": registered.get(k, [])} for k in kinds]
