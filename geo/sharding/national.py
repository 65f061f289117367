"""Queries across all offices: the national pass of the cross-office alert rules, and a
national proximity query whose distance test runs on each shard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.alerts import run_batch
from geo.errors import ValidationError
from geo.sharding.names import CROSS_OFFICE_RULES
from geo.sharding.views import national_scope

# A national-pass alert whose subjects all lie in one office duplicates that office's own alert.
DROP_SAME_OFFICE_SQL: Final = text(
    """
    DELETE FROM national.alert a
    WHERE (a.rule_kind = 'incident_near_workplace' AND EXISTS (
              SELECT 1 FROM national.incident i JOIN national.workplace w ON w.id = a.workplace_id
              WHERE i.id = a.incident_id AND i.office = w.office))
       OR (a.rule_kind = 'incident_cluster' AND (
              SELECT count(DISTINCT i.office) FROM national.incident i
              WHERE i.id IN (SELECT CAST(jsonb_array_elements_text(a.subjects -> 'incident_ids')
                                         AS int))) = 1)
    """
)

NATIONAL_ALERT_COUNTS_SQL: Final = text(
    "SELECT rule_kind, count(*) FROM national.alert GROUP BY rule_kind ORDER BY rule_kind"
)

# A national proximity query: sightings of every office within a radius of a point in a window.
# The point is transformed to the column's SRID so each shard's GiST index on geom_utm serves it.
SIGHTINGS_NEAR_SQL: Final = text(
    """
    SELECT s.office, s.id, s.observed_at, s.foreigner_id,
           ST_Distance(s.geom_utm, q.g) AS distance_m
    FROM national.sighting s,
         (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649) AS g) q
    WHERE ST_DWithin(s.geom_utm, q.g, :radius_m)
      AND s.observed_at >= :start AND s.observed_at < :end
    ORDER BY distance_m, s.office, s.id
    LIMIT :limit
    """
)


def run_national_pass(
    *,
    session: Session,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
) -> dict[str, int]:
    """Evaluate the rules whose subjects can lie in two offices over the federated data and keep
    the alerts that do span offices (the others are each office's own, raised on its shard).

    Returns the number of cross-office alerts ``national.alert`` holds per rule.
    """
    with national_scope(session):
        run_batch(session=session, since=since, today=today, rules=CROSS_OFFICE_RULES)
    session.execute(DROP_SAME_OFFICE_SQL)
    counts = {rule: 0 for rule in CROSS_OFFICE_RULES}
    counts.update({str(k): int(n) for k, n in session.execute(NATIONAL_ALERT_COUNTS_SQL)})
    return counts


@dataclass(frozen=True)
class NearbySighting:
    office: str
    id: int
    observed_at: dt.datetime
    foreigner_id: int | None
    distance_m: float


def sightings_near(
    *,
    session: Session,
    lon: float,
    lat: float,
    radius_m: float,
    start: dt.datetime,
    end: dt.datetime,
    limit: int = 1000,
) -> list[NearbySighting]:
    """Sightings of every office within ``radius_m`` of (lon, lat) in [start, end), nearest first.

    The distance test runs on each shard (``ST_DWithin`` is in the remote SQL).
    """
    if not (0 < radius_m <= 100_000):
        raise ValidationError(
            f"radius_m must be in (0, 100000]; got {radius_m!r}", field="radius_m", value=radius_m
        )
    rows = session.execute(SIGHTINGS_NEAR_SQL, _near_params(lon, lat, radius_m, start, end, limit))
    return [
        NearbySighting(r.office, r.id, r.observed_at, r.foreigner_id, r.distance_m) for r in rows
    ]


def _near_params(
    lon: float, lat: float, radius_m: float, start: dt.datetime, end: dt.datetime, limit: int
) -> dict[str, Any]:
    return {
        "lon": float(lon),
        "lat": float(lat),
        "radius_m": float(radius_m),
        "start": start,
        "end": end,
        "limit": int(limit),
    }


def remote_sql(*, session: Session, statement: TextClause, params: dict[str, Any]) -> list[str]:
    """The ``Remote SQL`` of every foreign scan in the plan of ``statement`` (EXPLAIN VERBOSE)."""
    plan = session.execute(
        text("EXPLAIN (VERBOSE, FORMAT JSON) " + statement.text), params
    ).scalar_one()
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Remote SQL" in node:
            found.append(str(node["Remote SQL"]))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def sightings_near_remote_sql(
    *,
    session: Session,
    lon: float,
    lat: float,
    radius_m: float,
    start: dt.datetime,
    end: dt.datetime,
) -> list[str]:
    """The remote SQL each shard receives for :func:`sightings_near`."""
    return remote_sql(
        session=session,
        statement=SIGHTINGS_NEAR_SQL,
        params=_near_params(lon, lat, radius_m, start, end, 1000),
    )
