"""Joint inspections of workplaces and their findings (docs/inspections.md).

An inspection records the day, the workplace, the leading agency and the agencies present, and
per foreigner checked the finding and the action taken. Recording one updates the registry
through its own validated paths (a permit's expiry or a status, a sighting at the workplace with
its alerts) in the same transaction, and feeds the workplace risk ranking (docs/risk.md).
"""

from geo.inspections.model import ACTIONS, FINDINGS, VIOLATIONS, FindingIn, InspectionIn
from geo.inspections.reads import (
    AgencyTally,
    InspectionQuery,
    InspectionTally,
    get_inspection,
    list_inspections,
    parse_query,
    tally,
)
from geo.inspections.record import record, resolve_agencies, void

__all__ = [
    "ACTIONS",
    "FINDINGS",
    "VIOLATIONS",
    "AgencyTally",
    "FindingIn",
    "InspectionIn",
    "InspectionQuery",
    "InspectionTally",
    "get_inspection",
    "list_inspections",
    "parse_query",
    "record",
    "resolve_agencies",
    "tally",
    "void",
]
