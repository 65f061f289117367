"""What each member agency contributed in a period: reports made (incidents and sightings),
alerts handled (alerts its users acted on: assigned, noted, acknowledged, resolved, reopened)
and follow-up actions closed as done. Counts only, for every role (docs/agencies.md).

The counting is one SQL function (``timpora_agency_contributions``): it attributes each record
to the agency stored on it where the records carry one, else to the agency of the user who
wrote it (audit log, alert notes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access
from geo.followup.values import parse_period
from geo.times import WIB
from geo.users import Principal

CONTRIBUTIONS_SQL: Final = text(
    """
    SELECT g.id AS agency_id, g.short_name, g.name, g.active,
           c.reports, c.alerts_handled, c.actions_closed
    FROM timpora_agency_contributions(:start, :end) c
    JOIN agency g ON g.id = c.agency_id
    ORDER BY g.id
    """
)
COUNTS: Final = ("reports", "alerts_handled", "actions_closed")


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=WIB)


def contributions(
    *,
    session: Session,
    principal: Principal,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Per agency, the counts over the WIB days ``[start, end]`` (default: the last 30 days).

    Every active agency is listed, and a retired one when it has a count in the period.
    """
    access.check(principal.role, access.READ)
    first, last = parse_period(start, end, today=today)
    rows = session.execute(
        CONTRIBUTIONS_SQL,
        {"start": day_start(first), "end": day_start(last + dt.timedelta(days=1))},
    ).all()
    agencies = [
        {
            "agency_id": r.agency_id,
            "agency": r.short_name,
            "agency_name": r.name,
            **{name: int(getattr(r, name)) for name in COUNTS},
        }
        for r in rows
        if r.active or any(getattr(r, name) for name in COUNTS)
    ]
    totals = {name: sum(a[name] for a in agencies) for name in COUNTS}
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "agencies": agencies,
        "totals": totals,
    }
