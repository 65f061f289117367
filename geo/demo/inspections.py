"""A handful of synthetic joint inspections for the demo set (docs/demo-data.md, "Inspections").

Recorded after the registry is loaded, through the same path as the API
(:func:`geo.inspections.record`), so they update the registry, sight each person checked at the
workplace and raise alerts as a real inspection does. Which workplaces:

- the busiest workplaces that are **not** planted violators (most incidents at or near them over
  the set's year): inspected 60, 45 and 30 days before the end, every worker checked found in
  order. They are what an office inspects when it reacts to incidents; the ranking then lets
  them drop (``days_since_inspection``, docs/risk.md);
- one planted violator with expired permits, inspected 14 days before the end: its overstayers
  found with expired permits (deportation process), the other workers in order.

The answer key is not changed: the planted violators are still the violators, and the risk
benchmark (``bench/risk_quality.py``) still counts them in the ranking's top 10.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.inspections import record
from geo.settings import AreaSettings
from geo.times import WIB
from geo.users import Principal

PRINCIPAL: Final = Principal(name="demo-seed", role="analyst")
QUIET_DAYS: Final = (60, 45, 30)  # days before the end: the busy, non-violating workplaces
VIOLATOR_DAYS: Final = 14
MAX_CHECKED: Final = 8  # workers checked per inspection
NEAR_M: Final = 300.0  # "at or near": the ranking's default radius
REF: Final = "DEMO-INSP-{n}"

BUSIEST_SQL = text(
    """
    SELECT w.id, w.external_ref, count(i.id) AS n
      FROM workplace w
      JOIN incident i
        ON (i.workplace_id = w.id OR ST_DWithin(i.geom_utm, w.geom_utm, :near_m))
       AND i.occurred_at >= CAST(:end AS date) - 365 AND i.occurred_at < CAST(:end AS date) + 1
     WHERE w.external_ref LIKE 'DEMO-%' AND NOT (w.external_ref = ANY (CAST(:planted AS text[])))
       AND EXISTS (SELECT 1 FROM foreigner f
                    WHERE f.sponsor_workplace_id = w.id AND f.status = 'active')
     GROUP BY w.id, w.external_ref
     ORDER BY count(i.id) DESC, w.external_ref
     LIMIT :n
    """
)
WORKPLACE_SQL = text("SELECT id FROM workplace WHERE external_ref = :ref")
WORKERS_SQL = text(
    """
    SELECT id, permit_expires_on FROM foreigner
     WHERE sponsor_workplace_id = :wid AND status = 'active'
     ORDER BY (permit_expires_on < :day) DESC, id
     LIMIT :n
    """
)
AGENCIES_SQL = text(
    """
    SELECT DISTINCT ON (kind) id, kind FROM agency
     WHERE active AND kind IN ('immigration', 'police', 'manpower')
     ORDER BY kind, id
    """
)
DONE_SQL = text("SELECT 1 FROM inspection WHERE external_ref = :ref")


def _findings(session: Session, workplace_id: int, day: dt.date) -> list[dict[str, Any]]:
    out = []
    for row in session.execute(WORKERS_SQL, {"wid": workplace_id, "day": day, "n": MAX_CHECKED}):
        expired = row.permit_expires_on is not None and row.permit_expires_on < day
        out.append(
            {
                "foreigner_id": int(row.id),
                "finding": "permit_expired" if expired else "in_order",
                "action_taken": "deportation_process" if expired else "none",
            }
        )
    return out


def plant_inspections(
    *, session: Session, ground_truth: dict[str, Any], end: dt.date, area: AreaSettings
) -> int:
    """Record the demo's inspections (those not recorded yet); how many were recorded."""
    agencies = {row.kind: int(row.id) for row in session.execute(AGENCIES_SQL)}
    lead = agencies.get("immigration")
    if lead is None:
        return 0  # no immigration office among the agencies: nobody to lead an inspection
    others = [agencies[k] for k in ("police", "manpower") if k in agencies]
    violators = ground_truth.get("workplaces", [])
    planted = [ref for w in violators for ref in w["subject"]["workplaces"]]
    plan: list[tuple[int, int]] = [
        (int(row.id), days)
        for row, days in zip(
            session.execute(
                BUSIEST_SQL,
                {"end": end, "near_m": NEAR_M, "planted": planted, "n": len(QUIET_DAYS)},
            ).all(),
            QUIET_DAYS,
            strict=False,
        )
    ]
    expired = next((w for w in violators if "expired_permits" in w["violations"]), None)
    if expired is not None:
        found = session.execute(WORKPLACE_SQL, {"ref": expired["subject"]["workplaces"][0]})
        violator = found.scalar()
        if violator is not None:
            plan.append((int(violator), VIOLATOR_DAYS))
    recorded = 0
    for n, (workplace_id, days) in enumerate(plan, start=1):
        ref = REF.format(n=n)
        if session.execute(DONE_SQL, {"ref": ref}).first() is not None:
            continue
        day = end - dt.timedelta(days=days)
        record(
            session=session,
            principal=PRINCIPAL,
            body={
                "workplace_id": workplace_id,
                "inspected_on": day.isoformat(),
                "checked_at": dt.datetime.combine(day, dt.time(10), WIB).isoformat(),
                "led_by": lead,
                "agencies": others,
                "external_ref": ref,
                "findings": _findings(session, workplace_id, day),
            },
            area=area,
            client="demo",
            today=end,
        )
        recorded += 1
    return recorded
