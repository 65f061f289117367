"""Inspection plans from the database: the request checked, the ranking (``geo.risk``), the
tours (:mod:`geo.inspection_plan.route`), the agencies, and the plan saved and read back.

Every face plans through here (API, CLI, the map view, the PDF). A plan is made as its author
sees the ranking: a role without personal data plans on suppressed counts (docs/risk.md, "Who
sees what"). What every role may read is stored in the open columns; the exact factor values
and the persons behind them go to ``inspection_plan_stop.reasons``, only when the author may see
them, and come back only to roles that may (audited).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit, risk
from geo.access import sees_personal_data
from geo.errors import NotFoundError, ValidationError
from geo.inspection_plan.agencies import agencies_by_kind, agency_kinds, stop_agencies
from geo.inspection_plan.route import plan_tours
from geo.patrol.coordinates import check_lon_lat, default_start, to_lonlat, to_utm, to_utm_arrays
from geo.registry.caps import Cap
from geo.settings import AreaSettings
from geo.times import WIB
from geo.users import Principal

PERIODS: Final = ("day", "week")
WEEK_DAYS: Final = 5  # a week plan: a tour on each working day, Monday to Friday
MAX_ROUTE_KM: Final = Cap("max_route_km", 1, 300, "km")  # one day's tour, the return included
MAX_STOPS: Final = Cap("max_stops", 1, 12)  # one day's stops
# A week's stops per day: five days of them still fit the one printed page.
WEEK_MAX_STOPS: Final = Cap("max_stops", 1, 4)
LIST_LIMIT: Final = Cap("limit", 1, 200)
LIST_OFFSET: Final = Cap("offset", 0, 1_000_000)
# The planner considers the best-scored reachable workplaces only (work grows with them).
MAX_CANDIDATES: Final = 400
MAX_PLACE_CHARS: Final = 100
# Named start points: reference features of these kinds (e.g. "PLBN Aruk", "Sambas").
PLACE_KINDS: Final = ("crossing_post", "office", "town", "landmark")
DEFAULT_ROUTE_KM: Final = 80.0
DEFAULT_STOPS: Final = 6


@dataclass(frozen=True)
class PlanRequest:
    """A checked request: where from, how far, how many, when, where, and the ranking's query."""

    start: tuple[float, float]
    start_name: str | None
    period: str
    starts_on: dt.date
    max_route_km: float
    max_stops: int
    kecamatan_code: str | None
    kecamatan_name: str | None
    risk_query: risk.RiskQuery

    @property
    def days(self) -> list[dt.date]:
        n = WEEK_DAYS if self.period == "week" else 1
        return [self.starts_on + dt.timedelta(days=i) for i in range(n)]

    @property
    def ends_on(self) -> dt.date:
        return self.starts_on + dt.timedelta(days=6 if self.period == "week" else 0)


PLACE_SQL = text(
    """
    SELECT name, ST_X(geom) AS lon, ST_Y(geom) AS lat, lower(name) = lower(:name) AS exact
      FROM reference_feature
     WHERE kind = ANY (CAST(:kinds AS text[])) AND GeometryType(geom) = 'POINT'
       AND (lower(name) = lower(:name) OR name ILIKE :prefix ESCAPE '\\')
     ORDER BY 4 DESC, name
     LIMIT 6
    """
)
KECAMATAN_SQL = text(
    """
    SELECT code, name FROM admin_area
     WHERE level = 'kecamatan' AND (code = :k OR lower(name) = lower(:k))
     ORDER BY code LIMIT 2
    """
)


def resolve_place(*, session: Session, name: str) -> tuple[str, tuple[float, float]]:
    """A named start point (a crossing post, office, town or landmark of the reference data):
    the exact name, else the only name that starts with it."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_PLACE_CHARS:
        raise ValidationError(
            f"start_place must be 1 to {MAX_PLACE_CHARS} characters; got {name[:40]!r}",
            field="start_place",
            value=name[:100],
        )
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(
        PLACE_SQL, {"name": name, "prefix": escaped + "%", "kinds": list(PLACE_KINDS)}
    ).all()
    exact = [r for r in rows if r.exact]
    if len(exact) == 1 or (not exact and len(rows) == 1):
        row = exact[0] if exact else rows[0]
        return str(row.name), (float(row.lon), float(row.lat))
    if not rows:
        raise ValidationError(
            f"start_place {name!r} names no crossing post, office, town or landmark",
            field="start_place",
            value=name,
        )
    names = ", ".join(sorted({str(r.name) for r in rows}))
    raise ValidationError(
        f"start_place {name!r} is ambiguous: {names}", field="start_place", value=name
    )


def parse_request(
    *,
    session: Session,
    area: AreaSettings | None = None,
    start_lon: float | None = None,
    start_lat: float | None = None,
    start_place: str | None = None,
    period: str = "day",
    date: dt.date | str | None = None,
    max_route_km: float = DEFAULT_ROUTE_KM,
    max_stops: int = DEFAULT_STOPS,
    kecamatan: str | None = None,
    radius_m: float = 300.0,
    window_days: int = 90,
    expiring_days: int = 30,
    as_of: dt.date | str | None = None,
) -> PlanRequest:
    """Every value checked against its cap; a bad one is a ValidationError naming it."""
    if period not in PERIODS:
        raise ValidationError(
            f"period must be one of {', '.join(PERIODS)}; got {period!r}",
            field="period",
            value=str(period)[:40],
        )
    route_km = MAX_ROUTE_KM.number(max_route_km)
    stops = (WEEK_MAX_STOPS if period == "week" else MAX_STOPS).integer(max_stops)
    if isinstance(date, str):
        text_date = date
        try:
            date = dt.date.fromisoformat(text_date)
        except ValueError:
            raise ValidationError(
                f"date must be a date (YYYY-MM-DD); got {text_date[:40]!r}",
                field="date",
                value=text_date[:40],
            ) from None
    day = date or dt.datetime.now(WIB).date()
    if period == "week":
        day -= dt.timedelta(days=day.weekday())  # the week's Monday
    if start_place is not None and (start_lon is not None or start_lat is not None):
        raise ValidationError(
            "give start_place or start_lon/start_lat, not both", field="start_place"
        )
    if (start_lon is None) != (start_lat is None):
        raise ValidationError(
            "start_lon and start_lat must be given together",
            field="start_lon" if start_lon is None else "start_lat",
        )
    start_name: str | None = None
    if start_place is not None:
        start_name, start = resolve_place(session=session, name=start_place)
    elif start_lon is not None and start_lat is not None:
        start = (float(start_lon), float(start_lat))
    else:
        start = default_start(area)
    check_lon_lat(*start, field="start")
    code = name = None
    if kecamatan is not None:
        found = session.execute(KECAMATAN_SQL, {"k": str(kecamatan).strip()[:100]}).all()
        if len(found) != 1:
            raise ValidationError(
                f"kecamatan {str(kecamatan)[:60]!r} is no kecamatan code or name of the regency",
                field="kecamatan",
                value=str(kecamatan)[:100],
            )
        code, name = str(found[0].code), str(found[0].name)
    query = risk.parse_query(
        limit=1,
        radius_m=radius_m,
        window_days=window_days,
        expiring_days=expiring_days,
        as_of=as_of if as_of is not None else day,
    )
    return PlanRequest(start, start_name, period, day, route_km, stops, code, name, query)


INSERT_PLAN_SQL = text(
    """
    INSERT INTO inspection_plan (created_by, created_by_role, period, starts_on, ends_on,
        kecamatan_code, start_name, start_geom, max_route_km, max_stops, route_length_m,
        route_geom, total_score, parameters)
    VALUES (:created_by, :role, :period, :starts_on, :ends_on, :kecamatan_code, :start_name,
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :max_route_km, :max_stops, :route_length_m,
        ST_SetSRID(ST_GeomFromGeoJSON(CAST(:route AS text)), 4326), :total_score,
        CAST(:parameters AS jsonb))
    RETURNING id
    """
)
INSERT_STOP_SQL = text(
    """
    INSERT INTO inspection_plan_stop (plan_id, position, visit_on, workplace_id,
        workplace_name, geom, leg_m, score, risk_rank, factors, agencies)
    VALUES (:plan_id, :position, :visit_on, :workplace_id, :workplace_name,
        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :leg_m, :score, :risk_rank,
        CAST(:factors AS jsonb), CAST(:agencies AS jsonb))
    RETURNING id
    """
)
SET_REASONS_SQL = text(
    "UPDATE inspection_plan_stop SET reasons = CAST(:reasons AS jsonb) WHERE id = :id"
)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def make_plan(
    *, session: Session, request: PlanRequest, principal: Principal, client: str | None = None
) -> dict[str, Any]:
    """Plan, save (audited ``create``) and return the plan as :func:`get_plan` gives it."""
    personal = sees_personal_data(principal.role)
    weight = risk.weights(session=session)
    ranking = risk.scored_workplaces(
        session=session, query=request.risk_query, weight=weight, personal=personal
    )
    rank_of = {s.row.workplace_id: i for i, s in enumerate(ranking, start=1)}
    pool = [
        s
        for s in ranking
        if s.score > 0
        and (request.kecamatan_code is None or s.row.kecamatan_code == request.kecamatan_code)
    ]
    max_length_m = request.max_route_km * 1000.0
    start_xy = to_utm(*request.start)
    if pool:
        x, y = to_utm_arrays([s.row.lon for s in pool], [s.row.lat for s in pool])
        away = np.hypot(x - start_xy[0], y - start_xy[1])
        keep = [i for i in range(len(pool)) if 2 * away[i] <= max_length_m + 1e-6]
        keep = keep[:MAX_CANDIDATES]  # the pool is sorted by score already
        pool = [pool[i] for i in keep]
        xy = np.column_stack([x[keep], y[keep]])
    else:
        xy = np.zeros((0, 2))
    days = request.days
    tours = plan_tours(
        start_xy,
        xy,
        [s.score for s in pool],
        max_length_m=max_length_m,
        max_stops=request.max_stops,
        days=len(days),
    )
    chosen = [(day, pool[i]) for day, tour in zip(days, tours, strict=True) for i in tour.order]
    kinds_of = {
        s.row.workplace_id: agency_kinds(
            {name: float(getattr(s.row, name) or 0) for name in risk.FACTOR_NAMES},
            s.row.border_m,
        )
        for _, s in chosen
    }
    registered = agencies_by_kind(
        session=session, kinds={k for kinds in kinds_of.values() for k in kinds}
    )
    persons = (
        risk.reasons(
            session=session,
            query=request.risk_query,
            ids=[s.row.workplace_id for _, s in chosen],
        )
        if personal and chosen
        else {}
    )
    lines = []
    for tour in tours:
        if tour.order:
            path = [start_xy, *(tuple(xy[i]) for i in tour.order), start_xy]
            arr = np.asarray(path, dtype=np.float64)
            lons, lats = to_lonlat(arr[:, 0], arr[:, 1])
            lines.append([[float(a), float(b)] for a, b in zip(lons, lats, strict=True)])
    total_score = sum(t.score for t in tours)
    plan_id = int(
        session.execute(
            INSERT_PLAN_SQL,
            {
                "created_by": principal.name[:100],
                "role": principal.role,
                "period": request.period,
                "starts_on": request.starts_on,
                "ends_on": request.ends_on,
                "kecamatan_code": request.kecamatan_code,
                "start_name": request.start_name,
                "lon": request.start[0],
                "lat": request.start[1],
                "max_route_km": request.max_route_km,
                "max_stops": request.max_stops,
                "route_length_m": sum(t.length_m for t in tours),
                "route": _json({"type": "MultiLineString", "coordinates": lines})
                if lines
                else None,
                "total_score": round(total_score, 3),
                "parameters": _json(_parameters(request, weight, personal)),
            },
        ).scalar_one()
    )
    position = 0
    n_persons: set[int] = set()
    for day, tour in zip(days, tours, strict=True):
        previous = start_xy
        for i in tour.order:
            s = pool[i]
            row = s.row
            position += 1
            here = (float(xy[i, 0]), float(xy[i, 1]))
            public_score, public_factors = risk.score_factors(row, weight, personal=False)
            stop_id = session.execute(
                INSERT_STOP_SQL,
                {
                    "plan_id": plan_id,
                    "position": position,
                    "visit_on": day,
                    "workplace_id": row.workplace_id,
                    "workplace_name": str(row.name)[:200],
                    "lon": float(row.lon),
                    "lat": float(row.lat),
                    "leg_m": float(np.hypot(here[0] - previous[0], here[1] - previous[1])),
                    "score": round(public_score, 3),
                    "risk_rank": rank_of[row.workplace_id],
                    "factors": _json(risk.shown_factors(public_factors, "viewer")),
                    "agencies": _json(stop_agencies(kinds_of[row.workplace_id], registered)),
                },
            ).scalar_one()
            previous = here
            if personal:
                mine = persons.get(row.workplace_id, {})
                n_persons |= {p["foreigner_id"] for v in mine.values() for p in v}
                exact_score, exact_factors = risk.score_factors(row, weight, personal=True)
                session.execute(
                    SET_REASONS_SQL,
                    {
                        "id": stop_id,
                        "reasons": _json(
                            {
                                "score": round(exact_score, 3),
                                "factors": exact_factors,
                                "persons": mine,
                            }
                        ),
                    },
                )
    audit.record(
        session=session,
        principal=principal,
        action="create",
        resource=f"inspections/plans/{plan_id}",
        record_count=position,
        client=client,
        details={
            "period": request.period,
            "starts_on": request.starts_on.isoformat(),
            "stops": position,
            "persons": len(n_persons),
        },
    )
    return get_plan(session=session, plan_id=plan_id, principal=principal, audited=False)


def _parameters(request: PlanRequest, weight: dict[str, float], personal: bool) -> dict[str, Any]:
    q = request.risk_query
    return {
        "as_of": (q.as_of or request.starts_on).isoformat(),
        "radius_m": q.radius_m,
        "window_days": q.window_days,
        "expiring_days": q.expiring_days,
        "weights": weight,
        "kecamatan_name": request.kecamatan_name,
        "days": [d.isoformat() for d in request.days],
        "scored_on": "exact counts" if personal else "suppressed counts",
        "method": "greedy insertion by score per added km (several ways) + 2-opt; "
        "straight lines in EPSG:32649; the return to the start counts",
    }


PLAN_SQL = text(
    """
    SELECT p.id, p.created_at, p.created_by, p.created_by_role, p.period, p.starts_on,
           p.ends_on, p.kecamatan_code, p.start_name, ST_X(p.start_geom) AS lon,
           ST_Y(p.start_geom) AS lat, p.max_route_km, p.max_stops, p.route_length_m,
           ST_AsGeoJSON(p.route_geom, 6) AS route, p.total_score, p.parameters,
           (SELECT count(*) FROM inspection_plan_stop s WHERE s.plan_id = p.id) AS n_stops
      FROM inspection_plan p
    """
)
STOPS_SQL = text(
    """
    SELECT s.id, s.position, s.visit_on, s.workplace_id, s.workplace_name,
           ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, s.leg_m, s.score, s.risk_rank,
           s.factors, s.agencies, w.sector, w.kecamatan_name, w.desa_name
      FROM inspection_plan_stop s LEFT JOIN workplace w ON w.id = s.workplace_id
     WHERE s.plan_id = :id
     ORDER BY s.position
    """
)
# Only the personal database role may run this (the column is not granted to the other).
REASONS_SQL = text(
    "SELECT id, reasons FROM inspection_plan_stop WHERE plan_id = :id AND reasons IS NOT NULL"
)


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "period": row.period,
        "starts_on": row.starts_on.isoformat(),
        "ends_on": row.ends_on.isoformat(),
        "kecamatan_code": row.kecamatan_code,
        "start": {"name": row.start_name, "lon": row.lon, "lat": row.lat},
        "max_route_km": row.max_route_km,
        "max_stops": row.max_stops,
        "route_length_km": round(row.route_length_m / 1000.0, 3),
        "total_score": row.total_score,
        "n_stops": int(row.n_stops),
    }


def get_plan(
    *,
    session: Session,
    plan_id: int,
    principal: Principal,
    client: str | None = None,
    audited: bool = True,
) -> dict[str, Any]:
    """A saved plan as GeoJSON: the start, the stops in order and the route (one line per day),
    with the plan's parameters in ``plan``. Roles with personal data also get each stop's exact
    factors and the persons behind them (``reasons``); reading them is audited."""
    row = session.execute(
        text(PLAN_SQL.text + " WHERE p.id = :id"), {"id": int(plan_id)}
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no inspection plan {plan_id}")
    personal = sees_personal_data(principal.role)
    exact: dict[int, dict[str, Any]] = {}
    if personal:
        exact = {r.id: r.reasons for r in session.execute(REASONS_SQL, {"id": row.id})}
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "id": "start",
            "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
            "properties": {"kind": "start", "position": 0, "name": row.start_name},
        }
    ]
    persons: set[int] = set()
    for s in session.execute(STOPS_SQL, {"id": row.id}):
        props: dict[str, Any] = {
            "kind": "stop",
            "stop_id": s.id,
            "position": s.position,
            "visit_on": s.visit_on.isoformat(),
            "workplace_id": s.workplace_id,
            "name": s.workplace_name,
            "sector": s.sector,
            "kecamatan_name": s.kecamatan_name,
            "desa_name": s.desa_name,
            "leg_km": round(s.leg_m / 1000.0, 3),
            "score": s.score,
            "risk_rank": s.risk_rank,
            "factors": s.factors,
            "agencies": s.agencies,
        }
        snapshot = exact.get(s.id)
        if snapshot is not None:
            props["score"] = snapshot["score"]
            props["factors"] = risk.shown_factors(snapshot["factors"], principal.role)
            props["reasons"] = snapshot["persons"]
            persons |= {p["foreigner_id"] for v in snapshot["persons"].values() for p in v}
        features.append(
            {
                "type": "Feature",
                "id": f"stop-{s.position}",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": props,
            }
        )
    if row.route is not None:
        features.append(
            {
                "type": "Feature",
                "id": "route",
                "geometry": json.loads(row.route),
                "properties": {
                    "kind": "route",
                    "length_km": round(row.route_length_m / 1000.0, 3),
                },
            }
        )
    if audited and persons:
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource=f"inspections/plans/{row.id}",
            record_count=len(persons),
            client=client,
            details={"persons": len(persons)},
        )
    plan = _summary(row) | {"created_by_role": row.created_by_role, "parameters": row.parameters}
    return {"type": "FeatureCollection", "id": row.id, "plan": plan, "features": features}


def list_plans(
    *,
    session: Session,
    limit: int = 50,
    offset: int = 0,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Saved plans, newest first: what, when, where from, how long (no stop details)."""
    limit = LIST_LIMIT.integer(limit)
    offset = LIST_OFFSET.integer(offset)
    rows = session.execute(
        text(
            PLAN_SQL.text
            + " WHERE (CAST(:start AS date) IS NULL OR p.ends_on >= CAST(:start AS date))"
            "   AND (CAST(:end AS date) IS NULL OR p.starts_on <= CAST(:end AS date))"
            " ORDER BY p.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"start": start, "end": end, "limit": limit, "offset": offset},
    )
    return [_summary(r) for r in rows]
