"""The rule SQL (``geo.alerts.sql``) assembled into statements for each evaluation mode.

Mode ``ids`` (on write) restricts each rule's triggers to the written ids; mode ``since``
(batch) to records since a time, and the per-sighting rules read the facts table of one pass
over the sightings. Every rule's triggers are merged into episodes by the same CTEs
(``geo.alerts.sql.episode_ctes``). On write, the enabled rules of a layer are combined into one
prepared statement (``combined``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import TextClause, text

from geo.alerts.catalogue import Rule
from geo.alerts.prepared import Prepared, prepared
from geo.alerts.sql import EPISODE_RESULT, episode_ctes, episode_statement
from geo.alerts.sql.foreigners import PERMIT_EXPIRING_TRIGGERS
from geo.alerts.sql.incidents import (
    INCIDENT_CLUSTER_TRIGGERS,
    INCIDENT_NEAR_WORKPLACE_TRIGGERS,
    INW_DRIVER_BY_INCIDENT,
    INW_DRIVER_BY_WORKPLACE,
)
from geo.alerts.sql.sightings import (
    EXPIRED_PERMIT_SIGHTING_TRIGGERS,
    FAR_FROM_SPONSOR_TRIGGERS,
    PLB_OUTSIDE_AREA_BATCH_TRIGGERS,
    PLB_OUTSIDE_AREA_TRIGGERS,
    SIGHTING_IN_ZONE_TRIGGERS,
    SIGHTING_NEAR_BORDER_TRIGGERS,
)
from geo.alerts.sql.sightings_batch import (
    BATCH_FACTS,
    BATCH_FACTS_CREATE,
    BATCH_SOURCE,
    facts_select,
)
from geo.prepared import BIND

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


@dataclass(frozen=True)
class RuleSQL:
    """One rule's trigger query (placeholders filled) and which way its distance is worse."""

    kind: str
    triggers: str
    worst: str = "least"


def _source(mode: str, rule: str) -> str:
    """Where a per-sighting rule reads its sightings with their facts."""
    if mode == "since":
        return BATCH_SOURCE
    return "(" + facts_select(SCOPES["ids"]["sighting"], (rule,), batch=False) + ") s"


def _rules(mode: str) -> dict[str, RuleSQL]:
    sc = SCOPES[mode]
    inw_by_incident = INCIDENT_NEAR_WORKPLACE_TRIGGERS.format(
        driver=INW_DRIVER_BY_INCIDENT.format(scope=sc["incident"])
    )
    inw_by_workplace = INCIDENT_NEAR_WORKPLACE_TRIGGERS.format(
        driver=INW_DRIVER_BY_WORKPLACE.format(
            scope=sc["incident"] if mode == "since" else "true", wscope=sc["workplace"]
        )
    )

    def src(rule: str, template: str) -> str:
        return template.format(source=_source(mode, rule))

    return {
        "incident_near_workplace": RuleSQL(
            "incident_near_workplace", inw_by_workplace if mode == "since" else inw_by_incident
        ),
        "incident_near_workplace@workplaces": RuleSQL("incident_near_workplace", inw_by_workplace),
        "sighting_near_border": RuleSQL(
            "sighting_near_border", src("sighting_near_border", SIGHTING_NEAR_BORDER_TRIGGERS)
        ),
        "sighting_in_zone": RuleSQL(
            "sighting_in_zone", SIGHTING_IN_ZONE_TRIGGERS.format(scope=sc["sighting"])
        ),
        "expired_permit_sighting": RuleSQL(
            "expired_permit_sighting",
            src("expired_permit_sighting", EXPIRED_PERMIT_SIGHTING_TRIGGERS),
        ),
        "plb_outside_area": RuleSQL(
            "plb_outside_area",
            src(
                "plb_outside_area",
                PLB_OUTSIDE_AREA_BATCH_TRIGGERS if mode == "since" else PLB_OUTSIDE_AREA_TRIGGERS,
            ),
            "greatest",
        ),
        "far_from_sponsor": RuleSQL(
            "far_from_sponsor", src("far_from_sponsor", FAR_FROM_SPONSOR_TRIGGERS), "greatest"
        ),
        "incident_cluster": RuleSQL(
            "incident_cluster", INCIDENT_CLUSTER_TRIGGERS.format(scope=sc["incident"]), "greatest"
        ),
        "permit_expiring": RuleSQL(
            "permit_expiring", PERMIT_EXPIRING_TRIGGERS.format(scope=sc["foreigner"])
        ),
    }


RULE_SQL: Final = {mode: _rules(mode) for mode in SCOPES}
# Each rule as a statement of its own (batch), returning (id, change) rows. In batch an episode
# already quiet as of the run's instant is inserted lapsed (``geo.alerts.sql.QUIET_NOW``).
STATEMENTS: Final[dict[str, dict[str, TextClause]]] = {
    mode: {
        name: text(
            episode_statement(
                rule=r.kind, triggers=r.triggers, worst=r.worst, quiet_now=mode == "since"
            )
        )
        for name, r in rules.items()
    }
    for mode, rules in RULE_SQL.items()
}


def batch_facts(
    rules: dict[str, Rule], names: tuple[str, ...]
) -> tuple[TextClause, dict[str, Any]] | None:
    """The facts-table statement for the enabled per-sighting rules among ``names``, or None."""
    wanted = tuple(n for n in BATCH_FACTS if n in names and n in rules and rules[n].enabled)
    if not wanted:
        return None
    params: dict[str, Any] = {}
    if "sighting_near_border" in wanted:
        border = rules["sighting_near_border"].parameters
        params["near_distance_m"] = float(border["distance_m"])
        params["routine_m"] = float(border["routine_m"])
        params["crossing_post_m"] = float(border["crossing_post_m"])
    if "far_from_sponsor" in wanted:
        far = rules["far_from_sponsor"].parameters
        params["far_distance_m"] = float(far["distance_m"])
        params["home_m"] = float(far["home_m"])
    facts = facts_select(SCOPES["since"]["sighting"], wanted, batch=True)
    stmt = text(BATCH_FACTS_CREATE + facts)
    return stmt, params


def bind_values(rule: Rule, today: dt.date) -> dict[str, Any]:
    """The rule's parameters as the bind values of its statements."""
    p = rule.parameters
    values: dict[str, Any] = {
        "rule_id": rule.id,
        "severity": rule.severity,
        "today": today,
        "quiet": dt.timedelta(days=float(p["quiet_days"])),
    }
    if rule.kind == "incident_near_workplace":
        values["radius_m"] = float(p["radius_m"])
    elif rule.kind == "sighting_near_border":
        values.update(
            distance_m=float(p["distance_m"]),
            near_distance_m=float(p["distance_m"]),
            routine_m=float(p["routine_m"]),
            crossing_post_m=float(p["crossing_post_m"]),
        )
    elif rule.kind == "sighting_in_zone":
        values["zone_kinds"] = list(p["zone_kinds"])
    elif rule.kind == "far_from_sponsor":
        values.update(
            distance_m=float(p["distance_m"]),
            far_distance_m=float(p["distance_m"]),
            home_m=float(p["home_m"]),
            usual_radius_m=float(p["usual_radius_m"]),
            usual_min=int(p["usual_min"]),
            usual_window=dt.timedelta(days=float(p["usual_days"])),
        )
    elif rule.kind == "incident_cluster":
        values.update(
            min_incidents=int(p["min_incidents"]),
            radius_m=float(p["radius_m"]),
            window_days=float(p["window_days"]),
            window=dt.timedelta(days=float(p["window_days"])),
            cell_m=float(p["cell_m"]),
        )
    elif rule.kind == "permit_expiring":
        values["windows_days"] = sorted(int(w) for w in p["windows_days"])
    return values


# On write, the enabled rules of a layer run as ONE statement, each rule's episode CTEs side by
# side (they share the statement's snapshot, taken after the foreigner locks, and none reads
# another's alerts): one round trip instead of five. Parameters other than the scope are
# renamed per rule (``distance_m`` means 2 km for the border and 25 km for the sponsor).
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
        r = RULE_SQL["ids"][name]
        ctes = episode_ctes(prefix=f"r{k}_", rule=r.kind, triggers=r.triggers, worst=r.worst)
        parts.append(BIND.sub(functools.partial(_per_rule, r.kind), ctes.strip()))
        selects.append(
            f"SELECT {k} AS r, q.id, q.change FROM ({EPISODE_RESULT.format(p=f'r{k}_')}) q"
        )
    sql = "WITH " + ",\n".join(parts) + "\nSELECT id, change FROM (\n"
    sql += "\nUNION ALL\n".join(selects) + "\n) x ORDER BY r, id"
    digest = hashlib.sha256("|".join(names).encode()).hexdigest()[:16]
    found = prepared(f"timpora_alert_episodes_{digest}", text(sql))
    _COMBINED[names] = found
    return found
