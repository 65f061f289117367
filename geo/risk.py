"""Workplace risk ranking for joint inspections (docs/risk.md).

Each workplace's score is the sum, over named factors, of the factor's value times its weight.
The values come from one set-based statement over the whole regency, the database function
``timpora_workplace_risk`` (migrations 0021, 0022 and 0026, which adds the inspections); the
weights from the ``risk_weight`` table, which an administrator changes with :func:`set_weight`
(audited). Roles with personal data also get the persons behind each factor (``reasons``,
audited); the others get the factors as counts, counts of persons below 3 suppressed
(docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit
from geo.access import MIN_PERSON_COUNT, sees_personal_data, suppress_count
from geo.errors import NotFoundError, ValidationError
from geo.inspections.model import VIOLATIONS
from geo.times import today_wib
from geo.users import Principal


@dataclass(frozen=True)
class Factor:
    name: str
    default_weight: float
    counts_persons: bool  # its value is a number of persons (suppressed below 3 when shown)
    description: str


# The factors in the order they are shown.
FACTORS: Final[tuple[Factor, ...]] = (
    Factor("over_quota", 3.0, True, "active sponsored foreign workers above the RPTKA quota"),
    Factor("expired_permits", 3.0, True, "active sponsored workers whose permit has expired"),
    Factor("expiring_permits", 1.0, True, "active sponsored workers whose permit expires soon"),
    Factor(
        "sighted_elsewhere",
        3.0,
        True,
        "foreigners sponsored far away sighted within the radius on 2+ days",
    ),
    Factor("open_alerts", 1.0, False, "open alert episodes about or within the radius"),
    Factor("incidents", 0.1, False, "incidents at the workplace or within the radius"),
    Factor(
        "border_proximity",
        1.0,
        False,
        "closeness to the border: 1 at the line, 0 at 20 km or more",
    ),
    Factor(
        "days_since_inspection",
        0.01,
        False,
        "days since the last inspection, at most 365 (never inspected: 365)",
    ),
    Factor(
        "sponsor_violations",
        3.0,
        True,
        "violators found at another workplace in the window whose sponsor this site is, or "
        "whose sponsor's workers are seen working here",
    ),
)
FACTOR_NAMES: Final = tuple(f.name for f in FACTORS)
DEFAULT_WEIGHTS: Final = {f.name: f.default_weight for f in FACTORS}
PERSON_FACTORS: Final = frozenset(f.name for f in FACTORS if f.counts_persons)

MAX_LIMIT: Final = 200
MAX_RADIUS_M: Final = 2_000.0
MIN_RADIUS_M: Final = 10.0
MAX_WINDOW_DAYS: Final = 730
MAX_EXPIRING_DAYS: Final = 180
MAX_WEIGHT: Final = 100.0
BORDER_SCALE_M: Final = 20_000.0
# "Sighted elsewhere" counts a foreigner seen at a workplace on this many distinct days (WIB) ...
SIGHTED_MIN_DAYS: Final = 2
# ... whose own sponsor's site is farther than this (not the shop next door).
SPONSOR_AWAY_M: Final = 5_000.0
# Days since the last inspection count up to this; a workplace never inspected counts it whole.
INSPECTION_HORIZON_DAYS: Final = 365


@dataclass(frozen=True)
class RiskQuery:
    limit: int = 20
    radius_m: float = 300.0
    window_days: int = 90
    expiring_days: int = 30
    as_of: dt.date | None = None  # default: today in WIB


def parse_query(
    *,
    limit: int = 20,
    radius_m: float = 300.0,
    window_days: int = 90,
    expiring_days: int = 30,
    as_of: dt.date | str | None = None,
) -> RiskQuery:
    """Check every work-scaling parameter against its cap; the bad value is in the message."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1 to {MAX_LIMIT}; got {limit}", field="limit")
    if not (math.isfinite(radius_m) and MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M):
        raise ValidationError(
            f"radius_m must be {MIN_RADIUS_M:g} to {MAX_RADIUS_M:g}; got {radius_m}",
            field="radius_m",
        )
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValidationError(
            f"window_days must be 1 to {MAX_WINDOW_DAYS}; got {window_days}", field="window_days"
        )
    if not 0 <= expiring_days <= MAX_EXPIRING_DAYS:
        raise ValidationError(
            f"expiring_days must be 0 to {MAX_EXPIRING_DAYS}; got {expiring_days}",
            field="expiring_days",
        )
    if isinstance(as_of, str):
        raw = as_of
        try:
            as_of = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValidationError(
                f"as_of must be a date (YYYY-MM-DD); got {raw!r}", field="as_of", value=raw[:100]
            ) from None
    return RiskQuery(limit, float(radius_m), window_days, expiring_days, as_of)


WEIGHTS_SQL = text("SELECT factor, weight, updated_at, updated_by FROM risk_weight")

RANKING_SQL = text(
    """
    SELECT r.*, w.name, w.sector, w.kecamatan_code, w.kecamatan_name, w.desa_name,
           w.foreign_worker_quota,
           ST_X(w.geom) AS lon, ST_Y(w.geom) AS lat
      FROM timpora_workplace_risk(
               CAST(:as_of AS date), CAST(:radius_m AS double precision),
               CAST(:window_days AS integer), CAST(:expiring_days AS integer),
               CAST(:border_scale_m AS double precision), CAST(:min_days AS integer),
               CAST(:sponsor_away_m AS double precision), CAST(:horizon_days AS integer)) r
      JOIN workplace w ON w.id = r.workplace_id
    """
)

# The persons behind the person factors, for the ranked workplaces only (personal roles; the
# aggregate database role cannot read these columns at all).
REASONS_SQL = text(
    """
    WITH violations AS (
        SELECT DISTINCT x.foreigner_id, f.sponsor_workplace_id AS sponsor,
               i.workplace_id AS found_at
          FROM inspection_finding x
          JOIN inspection i ON i.id = x.inspection_id
          JOIN foreigner f ON f.id = x.foreigner_id
         WHERE x.finding = ANY (CAST(:violations AS text[]))
           AND i.voided_at IS NULL
           AND i.inspected_on > CAST(:as_of AS date) - CAST(:window_days AS integer)
           AND i.inspected_on <= CAST(:as_of AS date)
           AND f.sponsor_workplace_id IS NOT NULL
    )
    SELECT f.sponsor_workplace_id AS workplace_id,
           CASE WHEN f.permit_expires_on < CAST(:as_of AS date) THEN 'expired_permits'
                ELSE 'expiring_permits' END AS factor,
           f.id AS foreigner_id, f.full_name, f.permit_expires_on, f.sponsor_workplace_id
      FROM foreigner f
     WHERE f.status = 'active' AND f.sponsor_workplace_id = ANY (CAST(:ids AS integer[]))
       AND f.permit_expires_on <= CAST(:as_of AS date) + CAST(:expiring_days AS integer)
    UNION ALL
    SELECT w.id, 'sighted_elsewhere', f.id, f.full_name, f.permit_expires_on,
           f.sponsor_workplace_id
      FROM workplace w
      JOIN sighting s
        ON ST_DWithin(s.geom_utm, w.geom_utm, CAST(:radius_m AS double precision))
       AND s.observed_at >= CAST(:as_of AS date) - CAST(:window_days AS integer)
       AND s.observed_at < CAST(:as_of AS date) + 1
       AND s.source <> 'lodging'
      JOIN foreigner f ON f.id = s.foreigner_id
      JOIN workplace sw ON sw.id = f.sponsor_workplace_id
     WHERE w.id = ANY (CAST(:ids AS integer[])) AND sw.id <> w.id
       AND NOT ST_DWithin(sw.geom_utm, w.geom_utm, CAST(:sponsor_away_m AS double precision))
     GROUP BY w.id, f.id
    HAVING count(DISTINCT (s.observed_at AT TIME ZONE 'Asia/Jakarta')::date)
           >= CAST(:min_days AS integer)
    UNION
    SELECT l.wid, 'sponsor_violations', f.id, f.full_name, f.permit_expires_on,
           f.sponsor_workplace_id
      FROM (
        SELECT v.sponsor AS wid, v.foreigner_id
          FROM violations v
         WHERE v.sponsor <> v.found_at
        UNION
        SELECT w.id, v.foreigner_id
          FROM violations v
          JOIN foreigner mate
            ON mate.sponsor_workplace_id = v.sponsor AND mate.status = 'active'
          JOIN sighting s
            ON s.foreigner_id = mate.id
           AND s.observed_at >= CAST(:as_of AS date) - CAST(:window_days AS integer)
           AND s.observed_at < CAST(:as_of AS date) + 1
           AND s.source <> 'lodging'
          JOIN workplace w
            ON w.id = ANY (CAST(:ids AS integer[]))
           AND ST_DWithin(s.geom_utm, w.geom_utm, CAST(:radius_m AS double precision))
          JOIN workplace sw ON sw.id = v.sponsor
         WHERE w.id <> v.found_at AND w.id <> sw.id
           AND NOT ST_DWithin(sw.geom_utm, w.geom_utm, CAST(:sponsor_away_m AS double precision))
         GROUP BY w.id, v.foreigner_id, mate.id
        HAVING count(DISTINCT (s.observed_at AT TIME ZONE 'Asia/Jakarta')::date)
               >= CAST(:min_days AS integer)
      ) l
      JOIN foreigner f ON f.id = l.foreigner_id
     WHERE l.wid = ANY (CAST(:ids AS integer[]))
     ORDER BY 1, 2, 3
    """
)


def weights(*, session: Session) -> dict[str, float]:
    """The weights in force: the table's, a factor missing from it at its default."""
    stored = {row.factor: float(row.weight) for row in session.execute(WEIGHTS_SQL)}
    return {name: stored.get(name, DEFAULT_WEIGHTS[name]) for name in FACTOR_NAMES}


def list_weights(*, session: Session) -> list[dict[str, Any]]:
    stored = {row.factor: row for row in session.execute(WEIGHTS_SQL)}
    out = []
    for f in FACTORS:
        row = stored.get(f.name)
        out.append(
            {
                "factor": f.name,
                "weight": float(row.weight) if row else f.default_weight,
                "default_weight": f.default_weight,
                "description": f.description,
                "updated_at": row.updated_at if row else None,
                "updated_by": row.updated_by if row else None,
            }
        )
    return out


def set_weight(
    *, session: Session, principal: Principal, factor: str, weight: float
) -> dict[str, Any]:
    """Change one factor's weight (0 to 100), audited."""
    if factor not in DEFAULT_WEIGHTS:
        raise NotFoundError(f"no risk factor {factor!r}; factors: {', '.join(FACTOR_NAMES)}")
    if not (math.isfinite(weight) and 0 <= weight <= MAX_WEIGHT):
        raise ValidationError(
            f"weight must be 0 to {MAX_WEIGHT:g}; got {weight}", field="weight", value=weight
        )
    session.execute(
        text(
            """
            INSERT INTO risk_weight (factor, weight, updated_at, updated_by)
            VALUES (:factor, :weight, now(), :who)
            ON CONFLICT (factor) DO UPDATE
               SET weight = EXCLUDED.weight, updated_at = now(), updated_by = EXCLUDED.updated_by
            """
        ),
        {"factor": factor, "weight": float(weight), "who": principal.name[:100]},
    )
    audit.record(
        session=session,
        principal=principal,
        action="update",
        resource=f"risk-weights/{factor}",
        record_count=1,
        details={"weight": float(weight)},
    )
    return next(w for w in list_weights(session=session) if w["factor"] == factor)


def score_factors(
    row: Any, weight: dict[str, float], *, personal: bool = True
) -> tuple[float, list[dict[str, Any]]]:
    """The score and its factors. For a role without personal data a count of persons shown
    as "<3" is scored as 2 whether it is 1 or 2: otherwise its points, or the score less the
    other factors' points, would give the hidden count back (docs/privacy.md)."""
    factors = []
    total = 0.0
    for name in FACTOR_NAMES:
        value = float(getattr(row, name) or 0)
        if not personal and name in PERSON_FACTORS and 0 < value < MIN_PERSON_COUNT:
            value = float(MIN_PERSON_COUNT - 1)
        points = value * weight[name]
        total += points
        factors.append({"factor": name, "value": value, "weight": weight[name], "points": points})
    return total, factors


def query_params(query: RiskQuery) -> dict[str, Any]:
    """The bound parameters of the ranking and reasons statements for ``query``."""
    return {
        "as_of": query.as_of or today_wib(),
        "radius_m": query.radius_m,
        "window_days": query.window_days,
        "expiring_days": query.expiring_days,
        "border_scale_m": BORDER_SCALE_M,
        "min_days": SIGHTED_MIN_DAYS,
        "sponsor_away_m": SPONSOR_AWAY_M,
        "horizon_days": INSPECTION_HORIZON_DAYS,
    }


@dataclass(frozen=True)
class Scored:
    """One workplace of the ranking: its score and factors as ``personal`` says, and the row."""

    score: float
    row: Any
    factors: list[dict[str, Any]]


def scored_workplaces(
    *, session: Session, query: RiskQuery, weight: dict[str, float], personal: bool
) -> list[Scored]:
    """Every workplace scored, highest first (ties by id): one statement over the regency."""
    params = query_params(query)
    scored = []
    for row in session.execute(RANKING_SQL, params):
        score, factors = score_factors(row, weight, personal=personal)
        scored.append(Scored(score, row, factors))
    scored.sort(key=lambda s: (-s.score, s.row.workplace_id))
    return scored


def shown_factors(factors: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """The factors as ``role`` sees them: counts of persons below 3 as "<3", counts as ints."""
    shown = []
    for f in factors:
        value: float | int | str = f["value"]
        if f["factor"] in PERSON_FACTORS:
            value = suppress_count(int(f["value"]), role)
        elif f["factor"] != "border_proximity":
            value = int(f["value"])
        shown.append({**f, "value": value})
    return shown


def rank(
    *,
    session: Session,
    query: RiskQuery,
    principal: Principal,
    weight: dict[str, float] | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    """The workplaces ranked by score, highest first (ties by id), ``query.limit`` of them."""
    params = query_params(query)
    as_of = params["as_of"]
    weight = weight or weights(session=session)
    personal = sees_personal_data(principal.role)
    top = scored_workplaces(session=session, query=query, weight=weight, personal=personal)
    items = []
    for position, s in enumerate(top[: query.limit], start=1):
        row = s.row
        items.append(
            {
                "rank": position,
                "workplace_id": row.workplace_id,
                "name": row.name,
                "sector": row.sector,
                "kecamatan_name": row.kecamatan_name,
                "desa_name": row.desa_name,
                "lon": row.lon,
                "lat": row.lat,
                "distance_to_border_m": row.border_m,
                "last_inspected_on": row.last_inspected_on.isoformat()
                if row.last_inspected_on
                else None,
                "score": round(s.score, 3),
                "factors": shown_factors(s.factors, principal.role),
            }
        )
    body: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "radius_m": query.radius_m,
        "window_days": query.window_days,
        "expiring_days": query.expiring_days,
        "weights": weight,
        "workplaces": items,
    }
    if personal and items:
        persons = reasons(session=session, query=query, ids=[i["workplace_id"] for i in items])
        for item in items:
            item["reasons"] = persons.get(item["workplace_id"], {})
        n_persons = len(
            {p["foreigner_id"] for r in persons.values() for v in r.values() for p in v}
        )
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource="workplaces/risk",
            record_count=n_persons,
            client=client,
            details={"workplaces": len(items), "persons": n_persons},
        )
    return body


def reasons(
    *, session: Session, query: RiskQuery, ids: list[int]
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """The persons behind the person factors of workplaces ``ids`` (personal roles only; the
    caller audits)."""
    return _reasons(session=session, params=query_params(query), ids=ids)


def _reasons(
    *, session: Session, params: dict[str, Any], ids: list[int]
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    out: dict[int, dict[str, list[dict[str, Any]]]] = {}
    violations = list(VIOLATIONS)
    for row in session.execute(REASONS_SQL, {**params, "ids": ids, "violations": violations}):
        out.setdefault(row.workplace_id, {}).setdefault(row.factor, []).append(
            {
                "foreigner_id": row.foreigner_id,
                "full_name": row.full_name,
                "permit_expires_on": row.permit_expires_on.isoformat()
                if row.permit_expires_on
                else None,
                "sponsor_workplace_id": row.sponsor_workplace_id,
            }
        )
    return out
