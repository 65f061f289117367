"""Inspection plans: the route's limits and start, higher risk preferred, unreachable left out,
agencies from the factors, saved plans read back by role."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import inspection_plan
from geo.errors import NotFoundError, ValidationError
from geo.inspection_plan import agency_kinds, plan_tours
from geo.patrol.coordinates import to_utm
from geo.roles import role_for, use_role
from geo.users import Principal
from tests.geo.test_risk import AS_OF, SITES, build_sites

ADMIN = Principal(name="plan-admin", role="admin")
PLANNER = Principal(name="plan-planner", role="planner")
VIEWER = Principal(name="plan-viewer", role="viewer")


def km(points: list[tuple[float, float]]) -> float:
    xy = np.asarray(points, dtype=float)
    return float(np.hypot(*np.diff(xy, axis=0).T).sum()) / 1000.0


# --- the heuristic alone (pure) ---------------------------------------------------------------

# Points on a line east of the start (metres), and one far west of it.
LINE = [(1_000.0, 0.0), (2_000.0, 0.0), (3_000.0, 0.0), (20_000.0, 0.0), (-4_000.0, 0.0)]


def tour_points(order: list[int]) -> list[tuple[float, float]]:
    return [(0.0, 0.0), *(LINE[i] for i in order), (0.0, 0.0)]


@pytest.mark.parametrize(
    ("max_km", "max_stops", "scores", "expected"),
    [
        pytest.param(100, 5, [1, 1, 1, 1, 1], {0, 1, 2, 3, 4}, id="everything-fits"),
        pytest.param(14, 5, [1, 1, 1, 50, 1], {0, 1, 2, 4}, id="unreachable-left-out"),
        pytest.param(100, 2, [1, 2, 3, 9, 1], {2, 3}, id="stops-bind-highest-score"),
        pytest.param(8, 5, [1, 1, 5, 1, 6], {0, 1, 2}, id="length-binds-score-per-km"),
        pytest.param(100, 3, [0, 0, 2, 0, 0], {2}, id="zero-score-never-visited"),
    ],
)
def test_tour_respects_limits_and_prefers_risk(
    max_km: float, max_stops: int, scores: list[float], expected: set[int]
) -> None:
    (tour,) = plan_tours((0.0, 0.0), LINE, scores, max_length_m=max_km * 1000, max_stops=max_stops)
    assert set(tour.order) == expected
    assert len(tour.order) <= max_stops
    length = km(tour_points(tour.order))
    assert length <= max_km + 1e-9
    assert tour.length_m / 1000 == pytest.approx(length)
    assert tour.score == pytest.approx(sum(scores[i] for i in tour.order))


def test_a_tour_is_not_longer_than_it_needs_to_be() -> None:
    # Points around the start in a scrambled order: the tour visits them without crossing.
    square = [(1000.0, 1000.0), (-1000.0, -1000.0), (1000.0, -1000.0), (-1000.0, 1000.0)]
    (tour,) = plan_tours((0.0, 0.0), square, [1, 1, 1, 1], max_length_m=100_000, max_stops=4)
    assert tour.length_m == pytest.approx(2 * 1414.2136 + 3 * 2000, abs=1)


def test_a_week_visits_no_workplace_twice() -> None:
    tours = plan_tours((0.0, 0.0), LINE, [5, 4, 3, 2, 1], max_length_m=10_000, max_stops=2, days=3)
    seen = [i for t in tours for i in t.order]
    assert len(seen) == len(set(seen))
    assert set(tours[0].order) == {0, 1}  # the best first: scores 5 and 4
    assert all(len(t.order) <= 2 and t.length_m <= 10_000 for t in tours)
    assert 3 not in seen  # 20 km away: a 40 km round trip never fits in 10 km


# --- agencies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "border_m", "kinds"),
    [
        pytest.param({"over_quota": 2}, 30_000, ["immigration", "manpower"], id="over-quota"),
        pytest.param({"sighted_elsewhere": 1}, None, ["immigration", "manpower"], id="hidden"),
        pytest.param({"expired_permits": 1}, 30_000, ["immigration"], id="expired"),
        pytest.param(
            {"sponsor_violations": 1, "days_since_inspection": 365},
            30_000,
            ["immigration", "manpower"],
            id="sponsor-violations",
        ),
        pytest.param({"days_since_inspection": 365}, 30_000, ["immigration"], id="never-seen"),
        pytest.param({"incidents": 3}, 30_000, ["immigration", "police"], id="incidents"),
        pytest.param(
            {"border_proximity": 0.9}, 2_000, ["immigration", "police", "military"], id="border"
        ),
        pytest.param({"border_proximity": 0.5}, 10_000, ["immigration"], id="border-far"),
    ],
)
def test_agency_kinds_follow_the_factors(
    values: dict[str, float], border_m: float | None, kinds: list[str]
) -> None:
    assert agency_kinds(values, border_m) == kinds


# --- plans from the database ------------------------------------------------------------------


@pytest.fixture
def sites(session: Session) -> dict[str, Any]:
    return build_sites(session)


def make(session: Session, principal: Principal = ADMIN, **kw: Any) -> dict[str, Any]:
    kw.setdefault("start_lon", SITES["hidden"][0])
    kw.setdefault("start_lat", SITES["hidden"][1] - 0.0001)
    kw.setdefault("date", AS_OF)
    request = inspection_plan.parse_request(session=session, **kw)
    return inspection_plan.make_plan(session=session, request=request, principal=principal)


def stops_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [f["properties"] for f in plan["features"] if f["properties"]["kind"] == "stop"]


def route_of(plan: dict[str, Any]) -> list[list[list[float]]]:
    routes = [f for f in plan["features"] if f["properties"]["kind"] == "route"]
    return routes[0]["geometry"]["coordinates"] if routes else []


def utm_km(line: list[list[float]]) -> float:
    return km([to_utm(lon, lat) for lon, lat in line])


def test_plan_prefers_risk_within_reach(session: Session, sites: dict[str, Any]) -> None:
    ids = sites["ids"]
    # 30 km from "hidden": quota (11 km west) and expired (6 km west) fit with hidden; alerts
    # (6 km east) would add 11 km more. Sponsor, plain and neighbour score nothing.
    plan = make(session, max_route_km=30, max_stops=12)
    stops = stops_of(plan)
    chosen = {s["workplace_id"] for s in stops}
    assert {ids["quota"], ids["expired"], ids["hidden"]} <= chosen
    assert not chosen & {ids["alerts"], ids["sponsor"], ids["plain"]}
    (line,) = route_of(plan)
    start = plan["features"][0]["geometry"]["coordinates"]
    assert line[0] == pytest.approx(start) and line[-1] == pytest.approx(start)
    assert utm_km(line) <= 30 + 1e-6
    assert plan["plan"]["route_length_km"] == pytest.approx(utm_km(line), abs=0.01)
    assert [s["position"] for s in stops] == list(range(1, len(stops) + 1))
    # Each leg is the distance from the previous stop (or the start).
    for s, (a, b) in zip(stops, itertools.pairwise(line[:-1]), strict=True):
        assert s["leg_km"] == pytest.approx(utm_km([a, b]), abs=0.01)
    by_id = {s["workplace_id"]: s for s in stops}
    quota = by_id[ids["quota"]]
    assert [a["kind"] for a in quota["agencies"]] == ["immigration", "manpower"]
    names = [a["short_name"] for entry in quota["agencies"] for a in entry["agencies"]]
    assert names == ["IMIGRASI", "DISNAKERTRANS"]  # the seeded member agencies
    assert {f["factor"]: f["value"] for f in quota["factors"]}["over_quota"] == 3
    assert "Quota Worker" not in repr(quota)  # over quota is a count, no persons named
    assert by_id[ids["hidden"]]["reasons"]["sighted_elsewhere"][0]["full_name"] == "Hidden Worker"


def test_unreachable_and_stop_limits(session: Session, sites: dict[str, Any]) -> None:
    ids = sites["ids"]
    # 20 km: quota's round trip (22 km) never fits, whatever its score.
    chosen = {s["workplace_id"] for s in stops_of(make(session, max_route_km=20))}
    assert ids["quota"] not in chosen
    assert ids["expired"] in chosen
    # One stop: the highest score within reach.
    (only,) = stops_of(make(session, max_route_km=30, max_stops=1))
    assert only["workplace_id"] == ids["quota"]
    # A kecamatan no test site lies in: nothing to visit, an empty plan.
    plan = make(session, max_route_km=30, kecamatan="61.01.09")
    assert stops_of(plan) == [] and route_of(plan) == []


def test_a_week_is_five_days_from_monday(session: Session, sites: dict[str, Any]) -> None:
    plan = make(session, period="week", max_route_km=25, max_stops=1)
    monday = AS_OF - dt.timedelta(days=AS_OF.weekday())
    assert plan["plan"]["starts_on"] == monday.isoformat()
    assert plan["plan"]["ends_on"] == (monday + dt.timedelta(days=6)).isoformat()
    stops = stops_of(plan)
    days = [s["visit_on"] for s in stops]
    assert days == sorted(days) and len(set(days)) == len(days)  # one stop a day
    assert len({s["workplace_id"] for s in stops}) == len(stops)
    assert len(route_of(plan)) == len(stops)


def test_named_start_and_bad_values(session: Session, sites: dict[str, Any]) -> None:
    session.execute(
        text(
            "INSERT INTO reference_feature (kind, name, geom) VALUES ('office', "
            "'Pos Uji Rencana', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
        ),
        {"lon": SITES["expired"][0], "lat": SITES["expired"][1]},
    )
    plan = make(session, start_lon=None, start_lat=None, start_place="pos uji", max_route_km=5)
    assert plan["plan"]["start"]["name"] == "Pos Uji Rencana"
    assert [s["workplace_id"] for s in stops_of(plan)] == [sites["ids"]["expired"]]
    bad = [
        ({"max_route_km": 0}, "max_route_km"),
        ({"max_route_km": 301}, "max_route_km"),
        ({"max_stops": 13}, "max_stops"),
        ({"period": "month"}, "period"),
        ({"date": "yesterday"}, "date"),
        ({"kecamatan": "61.99.99"}, "kecamatan"),
        ({"start_place": "Nowhere Special", "start_lon": None, "start_lat": None}, "start_place"),
        ({"start_lon": 1.3, "start_lat": 109.3}, "start"),
        ({"radius_m": 5000}, "radius_m"),
    ]
    for kw, field in bad:
        with pytest.raises(ValidationError) as caught:
            make(session, **kw)
        assert caught.value.field == field, kw


def test_saved_plans_by_role(session: Session, sites: dict[str, Any]) -> None:
    made = make(session, max_route_km=30)
    plan_id = made["id"]
    assert inspection_plan.list_plans(session=session)[0]["id"] == plan_id
    admin = inspection_plan.get_plan(session=session, plan_id=plan_id, principal=ADMIN)
    assert admin["features"] == made["features"]
    use_role(session, role_for("viewer"))  # as the API runs a viewer's request
    seen = inspection_plan.get_plan(session=session, plan_id=plan_id, principal=VIEWER)
    assert [s["workplace_id"] for s in stops_of(seen)] == [
        s["workplace_id"] for s in stops_of(made)
    ]
    assert all("reasons" not in s for s in stops_of(seen))
    text_seen = repr(seen)
    assert "Worker" not in text_seen
    values = {s["workplace_id"]: s for s in stops_of(seen)}
    expired = {f["factor"]: f["value"] for f in values[sites["ids"]["expired"]]["factors"]}
    assert expired["expired_permits"] == "<3"
    with pytest.raises(NotFoundError):
        inspection_plan.get_plan(session=session, plan_id=plan_id + 1000, principal=VIEWER)


def test_a_planner_plans_on_what_it_may_see(session: Session, sites: dict[str, Any]) -> None:
    use_role(session, role_for("planner"))
    plan = make(session, principal=PLANNER, max_route_km=30)
    assert plan["plan"]["parameters"]["scored_on"] == "suppressed counts"
    assert {s["workplace_id"] for s in stops_of(plan)} >= {sites["ids"]["quota"]}
    assert all("reasons" not in s for s in stops_of(plan))
    n = session.execute(
        text("SELECT count(*) FROM inspection_plan_stop WHERE plan_id = :id"), {"id": plan["id"]}
    ).scalar_one()
    assert n == len(stops_of(plan))
    # The aggregate role cannot read the personal column, and the planner stored none.
    with pytest.raises(Exception, match="permission denied"), session.begin_nested():
        session.execute(text("SELECT reasons FROM inspection_plan_stop"))
    use_role(session, role_for("admin"))
    written = session.execute(
        text("SELECT action, record_count FROM audit_log WHERE resource = :r"),
        {"r": f"inspections/plans/{plan['id']}"},
    ).all()
    assert [(w.action, w.record_count) for w in written] == [("create", n)]
