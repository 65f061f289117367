"""The rule SQL (``geo.alerts.sql``) assembled into statements for each evaluation mode.

Mode ``ids`` (on write) restricts each statement to the written ids; mode ``since`` (batch) to
records since a time, and reads the per-sighting facts table. On write, the enabled rules of a
layer are combined into one prepared statement (``combined``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from typing import Any, Final

from sqlalchemy import TextClause, text

from geo.alerts.catalogue import Rule
from geo.alerts.prepared import BIND, Prepared, prepared
from geo.alerts.sql import ALERT_COLUMNS, PER_DAY_KEY
from geo.alerts.sql.foreigners import PERMIT_EXPIRING_SQL
from geo.alerts.sql.incidents import (
    INCIDENT_CLUSTER_SQL,
    INCIDENT_NEAR_WORKPLACE_SQL,
    INW_DRIVER_BY_INCIDENT,
    INW_DRIVER_BY_WORKPLACE,
)
from geo.alerts.sql.sightings import (
    BORDER_TARGET_BY_SCOPE,
    EXPIRED_PERMIT_SIGHTING_SQL,
    FAR_FROM_SPONSOR_SQL,
    PLB_OUTSIDE_AREA_SQL,
    SIGHTING_IN_ZONE_SQL,
    SIGHTING_NEAR_BORDER_SQL,
    ZONE_ENTRY_BY_PREVIOUS,
    ZONE_ENTRY_IN_BATCH,
)
from geo.alerts.sql.sightings_batch import (
    BATCH_FACT_COLUMNS,
    BATCH_FACTS,
    BATCH_FACTS_SQL,
    BATCH_PER_DAY,
    BORDER_TARGET_IN_BATCH,
    EXPIRED_PERMIT_SIGHTING_BATCH_SQL,
    FAR_FROM_SPONSOR_BATCH_SQL,
    PLB_OUTSIDE_AREA_BATCH_SQL,
)

# What restricts each statement: on write, the written ids; in batch, records since a time.
SCOPES: Final[dict[str, dict[str, str]]] = {
    "ids": {
        # The time bounds of the written rows prune the monthly partitions of sighting.
        "sighting": "s.id = ANY(:ids) AND s.observed_at BETWEEN :at_min AND :at_max",
        "incident": "i.id = ANY(:ids)",
        "workplace": "w.id = ANY(:ids)",
        "foreigner": "f.id = ANY(:ids)",
    },
    "since": {
        "sighting": "s.observed_at >= :since",
        "incident": "i.occurred_at >= :since",
        "workplace": "true",
        "foreigner": "true",
    },
}


def _sql(template: str, **parts: str) -> TextClause:
    return text(template.format(columns=ALERT_COLUMNS, **parts))


def _statements(mode: str) -> dict[str, list[TextClause]]:
    sc = SCOPES[mode]
    inw_by_incident = _sql(
        INCIDENT_NEAR_WORKPLACE_SQL,
        driver=INW_DRIVER_BY_INCIDENT.format(scope=sc["incident"]),
    )
    inw_by_workplace = _sql(
        INCIDENT_NEAR_WORKPLACE_SQL,
        driver=INW_DRIVER_BY_WORKPLACE.format(
            scope=sc["incident"] if mode == "since" else "true", wscope=sc["workplace"]
        ),
    )

    def day(rule: str) -> str:
        return PER_DAY_KEY.format(rule=rule)

    def per_day(rule: str) -> str:
        return BATCH_PER_DAY.format(fact=BATCH_FACT_COLUMNS[rule])

    if mode == "since":  # the four per-sighting rules read the batch facts table
        border_target = BORDER_TARGET_IN_BATCH
        expired = _sql(
            EXPIRED_PERMIT_SIGHTING_BATCH_SQL,
            per_day=per_day("expired_permit_sighting"),
            day_key=day("expired_permit_sighting"),
        )
        plb = _sql(
            PLB_OUTSIDE_AREA_BATCH_SQL,
            per_day=per_day("plb_outside_area"),
            day_key=day("plb_outside_area"),
        )
        far = _sql(
            FAR_FROM_SPONSOR_BATCH_SQL,
            per_day=per_day("far_from_sponsor"),
            day_key=day("far_from_sponsor"),
        )
    else:
        border_target = BORDER_TARGET_BY_SCOPE.format(scope=sc["sighting"])
        expired = _sql(
            EXPIRED_PERMIT_SIGHTING_SQL,
            scope=sc["sighting"],
            day_key=day("expired_permit_sighting"),
        )
        plb = _sql(PLB_OUTSIDE_AREA_SQL, scope=sc["sighting"], day_key=day("plb_outside_area"))
        far = _sql(FAR_FROM_SPONSOR_SQL, scope=sc["sighting"], day_key=day("far_from_sponsor"))

    return {
        "incident_near_workplace": [inw_by_workplace if mode == "since" else inw_by_incident],
        "incident_near_workplace@workplaces": [inw_by_workplace],
        "sighting_near_border": [_sql(SIGHTING_NEAR_BORDER_SQL, target=border_target)],
        "sighting_in_zone": [
            _sql(
                SIGHTING_IN_ZONE_SQL,
                scope=sc["sighting"],
                entry=ZONE_ENTRY_IN_BATCH if mode == "since" else ZONE_ENTRY_BY_PREVIOUS,
            )
        ],
        "expired_permit_sighting": [expired],
        "plb_outside_area": [plb],
        "far_from_sponsor": [far],
        "incident_cluster": [_sql(INCIDENT_CLUSTER_SQL, scope=sc["incident"])],
        "permit_expiring": [_sql(PERMIT_EXPIRING_SQL, scope=sc["foreigner"])],
    }


def batch_facts(
    rules: dict[str, Rule], names: tuple[str, ...]
) -> tuple[TextClause, dict[str, Any]] | None:
    """The facts-table statement for the enabled per-sighting rules among ``names``, or None."""
    wanted = [n for n in BATCH_FACTS if n in names and n in rules and rules[n].enabled]
    if not wanted:
        return None
    facts = {
        BATCH_FACT_COLUMNS[n]: (BATCH_FACTS[n] if n in wanted else "false") for n in BATCH_FACTS
    }
    params: dict[str, Any] = {}
    if "sighting_near_border" in wanted:
        params["near_distance_m"] = float(rules["sighting_near_border"].parameters["distance_m"])
    if "far_from_sponsor" in wanted:
        params["far_distance_m"] = float(rules["far_from_sponsor"].parameters["distance_m"])
    stmt = text(BATCH_FACTS_SQL.format(scope=SCOPES["since"]["sighting"], **facts))
    return stmt, params


STATEMENTS: Final = {mode: _statements(mode) for mode in SCOPES}


def bind_values(rule: Rule, today: dt.date) -> dict[str, Any]:
    """The rule's parameters as the bind values of its statements."""
    p = rule.parameters
    values: dict[str, Any] = {"rule_id": rule.id, "severity": rule.severity, "today": today}
    if rule.kind == "incident_near_workplace":
        values["radius_m"] = float(p["radius_m"])
    elif rule.kind == "sighting_near_border":
        cooldown_s = max(float(p["cooldown_h"]) * 3600.0, 1.0)
        values.update(
            distance_m=float(p["distance_m"]),
            hysteresis_m=float(p["hysteresis_m"]),
            rearm_m=float(p["distance_m"]) + float(p["hysteresis_m"]),
            cooldown_h=float(p["cooldown_h"]),
            cooldown_s=cooldown_s,
            cooldown=dt.timedelta(seconds=float(p["cooldown_h"]) * 3600.0),
        )
    elif rule.kind == "sighting_in_zone":
        values["zone_kinds"] = list(p["zone_kinds"])
    elif rule.kind == "far_from_sponsor":
        values["distance_m"] = float(p["distance_m"])
    elif rule.kind == "incident_cluster":
        values.update(
            min_incidents=int(p["min_incidents"]),
            radius_m=float(p["radius_m"]),
            window_days=float(p["window_days"]),
            window=dt.timedelta(days=float(p["window_days"])),
        )
    elif rule.kind == "permit_expiring":
        values["windows_days"] = sorted(int(w) for w in p["windows_days"])
    return values


# On write, the enabled rules of a layer run as ONE statement, each rule's INSERT a
# data-modifying CTE (they share the statement's snapshot, taken after the foreigner locks, and
# none reads another's alerts): one round trip instead of five. Parameters other than the scope
# are renamed per rule (``distance_m`` means 2 km for the border and 25 km for the sponsor).
SHARED_PARAMS: Final = frozenset({"ids", "at_min", "at_max"})
_COMBINED: dict[tuple[str, ...], Prepared] = {}


def _per_rule(kind: str, m: re.Match[str]) -> str:
    return m.group(0) if m.group(1) in SHARED_PARAMS else f":{kind}__{m.group(1)}"


def combined(names: tuple[str, ...]) -> Prepared:
    """The enabled rules ``names`` (of one layer) as one prepared statement."""
    found = _COMBINED.get(names)
    if found is not None:
        return found
    parts, selects = [], []
    for k, name in enumerate(names):
        kind = name.split("@", 1)[0]
        (stmt,) = STATEMENTS["ids"][name]
        body = BIND.sub(functools.partial(_per_rule, kind), stmt.text)
        parts.append(f"r{k} AS (\n{body.strip()}\n)")
        selects.append(f"SELECT {k} AS r, id FROM r{k}")
    sql = "WITH " + ",\n".join(parts) + "\nSELECT id FROM (" + "\nUNION ALL ".join(selects)
    sql += ") q ORDER BY r, id"
    digest = hashlib.sha256("|".join(names).encode()).hexdigest()[:16]
    found = prepared(f"timpora_alert_write_{digest}", text(sql))
    _COMBINED[names] = found
    return found
