"""The SQL behind map snapshots and the briefing pack that ``geo.mapdata`` does not already hold.

Aggregates only: nothing here selects a name, a passport or a permit number. Every function takes
keyword-only arguments and bound parameters; the filtered point set is the one of
:mod:`geo.mapdata` (same ``MapFilters``, same WHERE clause), so a snapshot counts exactly what the
interactive map counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

# The filtered point set of the map views, reused rather than rewritten.
from geo.alerts.sql import EPISODE_FIRST_SEEN_IN_PERIOD, EPISODE_IN_PERIOD
from geo.mapdata import MapFilters, point_where
from geo.models import METRIC_SRID
from geo.registry.caps import MAX_SLICES
from geo.times import WIB, WIB_NAME

FloatArray = npt.NDArray[np.float64]

# Alerts whose subject is a person (a foreigner or one of their sightings): counted as persons.
PERSON_ALERT_SQL: Final = "(a.foreigner_id IS NOT NULL OR a.sighting_id IS NOT NULL)"

DATA_AS_OF_SQL: Final = """
SELECT greatest(
    (SELECT max(updated_at) FROM incident),
    (SELECT max(created_at) FROM sighting),
    (SELECT max(updated_at) FROM foreigner),
    (SELECT max(created_at) FROM alert)
) AS as_of
"""


def data_as_of(*, session: Session) -> dt.datetime | None:
    """When the data last changed (the newest write of an incident, sighting, foreigner or
    alert): the "data as of" of an export, stable as long as the data is."""
    value = session.execute(text(DATA_AS_OF_SQL)).scalar_one()
    return value if isinstance(value, dt.datetime) else None


# --- points of a layer (EPSG:32649) -------------------------------------------------------------

POINT_COUNT_SQL: Final = "SELECT count(*) FROM {table} t WHERE {where} AND t.geom_utm IS NOT NULL"

POINTS_SQL: Final = """
SELECT ST_X(t.geom_utm) AS x, ST_Y(t.geom_utm) AS y, t.{kind_col} AS kind
  FROM {table} t
 WHERE {where} AND t.geom_utm IS NOT NULL
 ORDER BY t.id
"""


def point_count(*, session: Session, filters: MapFilters) -> int:
    where = point_where(session=session, filters=filters)
    sql = POINT_COUNT_SQL.format(table=filters.source.table, where=where.sql)
    return int(session.execute(text(sql), where.params).scalar_one())


def points_utm(
    *, session: Session, filters: MapFilters
) -> tuple[FloatArray, FloatArray, list[str]]:
    """x, y in metres (EPSG:32649) and kind (incident kind or sighting source) of every point in
    the filters, by id. Callers bound the count first (:func:`point_count`)."""
    where = point_where(session=session, filters=filters)
    sql = POINTS_SQL.format(
        table=filters.source.table, where=where.sql, kind_col=filters.source.filters["kind"].column
    )
    rows = session.execute(text(sql), where.params).all()
    if not rows:
        return np.zeros(0), np.zeros(0), []
    x = np.fromiter((r.x for r in rows), dtype=np.float64, count=len(rows))
    y = np.fromiter((r.y for r in rows), dtype=np.float64, count=len(rows))
    return x, y, [str(r.kind) for r in rows]


# --- incidents by kind and month ----------------------------------------------------------------

KIND_MONTH_SQL: Final = """
SELECT to_char(date_trunc('month', t.occurred_at AT TIME ZONE '{tz}'), 'YYYY-MM') AS month,
       t.kind, count(*) AS n
  FROM incident t
 WHERE {where}
 GROUP BY 1, 2
 ORDER BY 1, 2
"""


@dataclass(frozen=True)
class KindMonthCounts:
    """Incidents per kind and calendar month (WIB); months without incidents filled with 0."""

    months: list[str]  # YYYY-MM
    counts: dict[str, list[int]]  # kind -> count per month

    def totals(self) -> dict[str, int]:
        return {kind: sum(values) for kind, values in self.counts.items()}


def incidents_by_kind_month(*, session: Session, filters: MapFilters) -> KindMonthCounts:
    """Incidents in the filters (time, kind, kecamatan) per kind and month in WIB."""
    incident_filters = MapFilters(
        layer="incidents",
        start=filters.start,
        end=filters.end,
        kinds=filters.kinds if filters.layer == "incidents" else (),
        kecamatan=filters.kecamatan,
    )
    where = point_where(session=session, filters=incident_filters)
    sql = KIND_MONTH_SQL.format(where=where.sql, tz=WIB_NAME)
    rows = session.execute(text(sql), where.params).all()
    if not rows:
        return KindMonthCounts(months=[], counts={})
    first, last = rows[0].month, max(r.month for r in rows)
    # The months of the period too, so a quiet month at either end shows as 0, not as nothing
    # (within the cap on a trend's slices; beyond it the months that hold data).
    wide_first, wide_last = first, last
    if filters.start is not None:
        wide_first = min(first, _wib_month(filters.start))
    if filters.end is not None:
        wide_last = max(last, _wib_month(filters.end - dt.timedelta(microseconds=1)))
    months = _month_range(wide_first, wide_last)
    if len(months) > MAX_SLICES:
        months = _month_range(first, last)
    index = {m: i for i, m in enumerate(months)}
    counts: dict[str, list[int]] = {}
    for r in rows:
        counts.setdefault(r.kind, [0] * len(months))[index[r.month]] = int(r.n)
    return KindMonthCounts(months=months, counts=counts)


def _wib_month(moment: dt.datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m")


def _month_range(first: str, last: str) -> list[str]:
    year, month = (int(p) for p in first.split("-"))
    out: list[str] = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# --- alert episodes of the period by rule and kecamatan ------------------------------------------

EPISODES_SQL: Final = f"""
SELECT a.rule_kind,
       coalesce(a.kecamatan_name, '') AS kecamatan,
       bool_or({PERSON_ALERT_SQL}) AS about_persons,
       count(*) AS n,
       count(*) FILTER (WHERE {EPISODE_FIRST_SEEN_IN_PERIOD}) AS opened
  FROM alert a
 WHERE {EPISODE_IN_PERIOD}
   AND (:no_kecamatan OR a.kecamatan_code = ANY(:kecamatan))
 GROUP BY 1, 2
 ORDER BY 1, 2
"""


@dataclass(frozen=True)
class AlertTally:
    rule_kind: str
    kecamatan: str  # '' when the alert lies outside every kecamatan
    count: int  # episodes open at some time in the period
    about_persons: bool
    opened: int = 0  # of them, first seen in the period


def alert_episodes_by_rule(
    *,
    session: Session,
    kecamatan: Sequence[str] = (),
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[AlertTally]:
    """Alert episodes open at some time in [start, end) (without a period: open now), and how
    many of them were first seen in it, per rule and kecamatan; no subjects named
    (docs/alerts.md)."""
    rows = session.execute(
        text(EPISODES_SQL),
        {
            "no_kecamatan": not kecamatan,
            "kecamatan": list(kecamatan),
            "start": start,
            "end": end,
        },
    ).all()
    return [
        AlertTally(
            rule_kind=r.rule_kind,
            kecamatan=r.kecamatan,
            count=int(r.n),
            about_persons=bool(r.about_persons),
            opened=int(r.opened),
        )
        for r in rows
    ]


# --- where a point is, in words: its desa, or the sea ---------------------------------------------

PLACES_AT_SQL: Final = f"""
SELECT p.ord, d.desa, d.kecamatan, d.distance_m,
       EXISTS (SELECT 1 FROM reference_feature r WHERE r.kind = 'land') AS has_land,
       EXISTS (
           SELECT 1 FROM reference_feature r
            WHERE r.kind = 'land' AND ST_Intersects(r.geom_utm, q.pt)
       ) AS on_land
  FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, ord)
 CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.x, p.y), {METRIC_SRID}) AS pt) q
  LEFT JOIN LATERAL (
        SELECT a.name AS desa, k.name AS kecamatan, ST_Distance(a.geom_utm, q.pt) AS distance_m
          FROM admin_area a
          LEFT JOIN admin_area k ON k.code = a.parent_code AND k.level = 'kecamatan'
         WHERE a.level = 'desa'
         ORDER BY a.geom_utm <-> q.pt, a.code
         LIMIT 1
  ) d ON TRUE
 ORDER BY p.ord
"""


@dataclass(frozen=True)
class Place:
    """Where a point lies: the desa it is in (``distance_m`` 0) or the nearest one, and whether
    it is at sea (outside every land polygon of the reference layers)."""

    desa: str | None
    kecamatan: str | None
    distance_m: float | None
    at_sea: bool


def places_at(*, session: Session, x_utm: Sequence[float], y_utm: Sequence[float]) -> list[Place]:
    """The place of each point (EPSG:32649 metres): its desa, else the nearest desa, or the sea.

    Without land polygons loaded nothing is called sea: the nearest desa names the point.
    """
    if len(x_utm) == 0:
        return []
    rows = session.execute(
        text(PLACES_AT_SQL),
        {"xs": [float(v) for v in x_utm], "ys": [float(v) for v in y_utm]},
    ).all()
    return [
        Place(
            desa=r.desa,
            kecamatan=r.kecamatan,
            distance_m=None if r.distance_m is None else float(r.distance_m),
            at_sea=bool(r.has_land and not r.on_land),
        )
        for r in rows
    ]
