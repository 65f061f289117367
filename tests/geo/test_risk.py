"""Workplace risk ranking: each factor on hand-built cases, weights reorder, privacy by role."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import risk
from geo.errors import NotFoundError, ValidationError
from geo.roles import role_for, use_role
from geo.users import Principal

AS_OF = dt.date(2025, 6, 1)
# Far from each other (> 5 km) and from the border (> 20 km, so border proximity is 0).
SITES = {
    "quota": (109.10, 1.20),
    "expired": (109.15, 1.20),
    "hidden": (109.20, 1.20),
    "alerts": (109.25, 1.20),
    "sponsor": (109.30, 1.20),
    "neighbour": (109.20, 1.218),  # 2 km from "hidden"
    "plain": (109.35, 1.20),
}
ADMIN = Principal(name="risk-admin", role="admin")
VIEWER = Principal(name="risk-viewer", role="viewer")


def add_workplace(session: Session, name: str, quota: int | None, border_m: float = 50_000) -> int:
    lon, lat = SITES[name]
    return int(
        session.execute(
            text(
                "INSERT INTO workplace (name, sector, foreign_worker_quota, distance_to_border_m,"
                " geom) VALUES (:n, 'trade', :q, :b, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                " RETURNING id"
            ),
            {"n": f"risk-test {name}", "q": quota, "b": border_m, "lon": lon, "lat": lat},
        ).scalar_one()
    )


def add_worker(
    session: Session, sponsor: int, expires: dt.date, name: str, status: str = "active"
) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO foreigner (full_name, nationality, permit_type, permit_expires_on,"
                " sponsor_workplace_id, status) VALUES (:n, 'CHN', 'KITAS', :e, :s, :st)"
                " RETURNING id"
            ),
            {"n": name, "e": expires, "s": sponsor, "st": status},
        ).scalar_one()
    )


def add_sighting(
    session: Session,
    foreigner: int,
    lon: float,
    lat: float,
    source: str = "patrol",
    day: int = 20,
) -> None:
    session.execute(
        text(
            "INSERT INTO sighting (observed_at, foreigner_id, source, geom) VALUES"
            " (:t, :f, :src, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
        ),
        {
            "t": dt.datetime(2025, 5, day, 3, tzinfo=dt.UTC),
            "f": foreigner,
            "src": source,
            "lon": lon,
            "lat": lat,
        },
    )


def add_incident(session: Session, lon: float, lat: float, when: dt.date) -> None:
    session.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES"
            " ('illegal_work', 2, :t, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
        ),
        {"t": dt.datetime.combine(when, dt.time(3), tzinfo=dt.UTC), "lon": lon, "lat": lat},
    )


def add_alert(session: Session, key: str, lon: float, lat: float, status: str) -> None:
    session.execute(
        text(
            "INSERT INTO alert (rule_id, rule_kind, severity, status, dedup_key, episode_key,"
            " geom, event_at, first_seen_at, last_seen_at)"
            " SELECT r.id, r.kind, 3, :st, :k, :k, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),"
            " now(), now(), now() FROM alert_rule r ORDER BY r.id LIMIT 1"
        ),
        {"st": status, "k": key, "lon": lon, "lat": lat},
    )


@pytest.fixture
def sites(session: Session) -> dict[str, Any]:
    return build_sites(session)


def build_sites(session: Session) -> dict[str, Any]:
    """Six workplaces far apart, each showing one factor (``plain`` none)."""
    ids = {
        "quota": add_workplace(session, "quota", quota=2),
        "expired": add_workplace(session, "expired", quota=10),
        "hidden": add_workplace(session, "hidden", quota=10),
        "alerts": add_workplace(session, "alerts", quota=None, border_m=5_000),
        "sponsor": add_workplace(session, "sponsor", quota=10),
        "plain": add_workplace(session, "plain", quota=10),
    }
    later = AS_OF + dt.timedelta(days=400)
    for i in range(5):  # five active workers on a quota of 2; one departed does not count
        add_worker(session, ids["quota"], later, f"Quota Worker {i}")
    add_worker(session, ids["quota"], later, "Gone Worker", status="departed")
    add_worker(session, ids["expired"], AS_OF - dt.timedelta(days=40), "Expired Worker")
    add_worker(session, ids["expired"], AS_OF + dt.timedelta(days=10), "Expiring Worker")
    add_worker(session, ids["expired"], AS_OF + dt.timedelta(days=90), "Valid Worker")
    hidden_person = add_worker(session, ids["sponsor"], later, "Hidden Worker")
    own_person = add_worker(session, ids["hidden"], later, "Own Worker")
    lodger = add_worker(session, ids["sponsor"], later, "Hotel Guest")
    lon, lat = SITES["hidden"]
    for day in (20, 21):  # ~111 m away (within 300 m), on two days
        add_sighting(session, hidden_person, lon + 0.001, lat, day=day)
    once = add_worker(session, ids["sponsor"], later, "Once Seen")
    add_sighting(session, once, lon, lat)  # one day only: not a factor
    # A worker of a site 2 km away (next door, not working elsewhere): not a factor.
    neighbour = add_workplace(session, "neighbour", quota=10)
    near = add_worker(session, neighbour, later, "Neighbour Worker")
    for day in (20, 21):
        add_sighting(session, near, lon, lat, day=day)
    add_sighting(session, own_person, lon, lat)  # its own sponsor: not a factor
    add_sighting(session, lodger, lon, lat, source="lodging")  # a hotel guest: not a factor
    far = add_worker(session, ids["sponsor"], later, "Far Worker")
    for day in (22, 23):
        add_sighting(session, far, lon + 0.01, lat, day=day)  # ~1.1 km away: outside 300 m
    lon, lat = SITES["alerts"]
    add_alert(session, "risk-open-1", lon, lat + 0.001, "new")
    add_alert(session, "risk-open-2", lon, lat, "acknowledged")
    add_alert(session, "risk-closed", lon, lat, "resolved")
    for _ in range(4):
        add_incident(session, lon + 0.0005, lat, AS_OF - dt.timedelta(days=5))
    add_incident(session, lon, lat, AS_OF - dt.timedelta(days=200))  # outside the window
    add_incident(session, lon + 0.02, lat, AS_OF - dt.timedelta(days=5))  # outside the radius
    return {"ids": ids, "hidden_person": hidden_person}


def ranked(session: Session, principal: Principal = ADMIN, **kw: Any) -> dict[int, dict[str, Any]]:
    query = risk.parse_query(limit=risk.MAX_LIMIT, as_of=AS_OF, **kw)
    body = risk.rank(session=session, query=query, principal=principal, **{})
    return {w["workplace_id"]: w for w in body["workplaces"]}


def values(item: dict[str, Any]) -> dict[str, Any]:
    return {f["factor"]: f["value"] for f in item["factors"]}


def test_each_factor_on_hand_built_cases(session: Session, sites: dict[str, Any]) -> None:
    ids = sites["ids"]
    by_id = ranked(session)
    assert values(by_id[ids["quota"]])["over_quota"] == 3
    v = values(by_id[ids["expired"]])
    assert (v["expired_permits"], v["expiring_permits"], v["over_quota"]) == (1, 1, 0)
    assert values(by_id[ids["hidden"]])["sighted_elsewhere"] == 1
    assert values(by_id[ids["sponsor"]])["sighted_elsewhere"] == 0
    v = values(by_id[ids["alerts"]])
    assert (v["open_alerts"], v["incidents"]) == (2, 4)
    # The database fills in the distance to the border from the reference line.
    for item in by_id.values():
        d = item["distance_to_border_m"]
        expected = 0.0 if d is None else max(0.0, 1 - d / risk.BORDER_SCALE_M)
        assert values(item)["border_proximity"] == pytest.approx(expected)
    plain = values(by_id[ids["plain"]])
    apart = ("border_proximity", "days_since_inspection")
    assert {k: v for k, v in plain.items() if k not in apart} == {
        name: 0 for name in risk.FACTOR_NAMES if name not in apart
    }
    # Never inspected counts as long ago (tests/geo/test_inspections.py has the rest).
    assert plain["days_since_inspection"] == risk.INSPECTION_HORIZON_DAYS
    # The score is the sum of the factors' points, each value times its weight.
    for item in by_id.values():
        assert item["score"] == pytest.approx(
            sum(f["value"] * f["weight"] for f in item["factors"])
        )
    # A wider radius reaches the far sighting.
    assert values(ranked(session, radius_m=1500)[ids["hidden"]])["sighted_elsewhere"] == 2


def test_reasons_name_the_persons_for_personal_roles(
    session: Session, sites: dict[str, Any]
) -> None:
    ids = sites["ids"]
    by_id = ranked(session)
    reasons = by_id[ids["hidden"]]["reasons"]
    assert [p["foreigner_id"] for p in reasons["sighted_elsewhere"]] == [sites["hidden_person"]]
    assert reasons["sighted_elsewhere"][0]["sponsor_workplace_id"] == ids["sponsor"]
    names = {f: [p["full_name"] for p in ps] for f, ps in by_id[ids["expired"]]["reasons"].items()}
    assert names == {"expired_permits": ["Expired Worker"], "expiring_permits": ["Expiring Worker"]}
    audit = session.execute(
        text(
            "SELECT record_count FROM audit_log WHERE resource = 'workplaces/risk' "
            "AND user_name = 'risk-admin' ORDER BY id DESC LIMIT 1"
        )
    ).scalar_one()
    assert audit >= 3


def test_viewer_gets_counts_only(session: Session, sites: dict[str, Any]) -> None:
    ids = sites["ids"]
    use_role(session, role_for("viewer"))  # as the API runs a viewer's request
    by_id = ranked(session, principal=VIEWER)
    assert all("reasons" not in item for item in by_id.values())
    assert values(by_id[ids["quota"]])["over_quota"] == 3
    assert values(by_id[ids["expired"]])["expired_permits"] == "<3"
    assert values(by_id[ids["hidden"]])["sighted_elsewhere"] == "<3"
    assert values(by_id[ids["alerts"]])["incidents"] == 4  # not a count of persons
    assert "Worker" not in repr(by_id)
    # Neither a suppressed factor's points nor the score give the hidden count back: "<3" is
    # scored as 2 for a viewer, whatever the count is.
    for item in by_id.values():
        for f in item["factors"]:
            if f["value"] == "<3":
                assert f["points"] == 2 * f["weight"]
        assert item["score"] == round(sum(f["points"] for f in item["factors"]), 3)


def test_counts_take_only_the_records_shared_with_the_request(
    session: Session, sites: dict[str, Any]
) -> None:
    """Records Polres keeps to itself — two days of a worker seen at another site, an incident,
    an open alert about that worker's sighting — count for Polres and not for Kodim, whose
    ranking matches the persons it is shown; the service's scope counts them all."""
    ids = sites["ids"]
    polres, kodim = (
        session.execute(text("SELECT id FROM agency WHERE short_name = :s"), {"s": s}).scalar_one()
        for s in ("POLRES", "KODIM")
    )
    later = AS_OF + dt.timedelta(days=400)
    kept_person = add_worker(session, ids["sponsor"], later, "Kept Worker")
    lon, lat = SITES["hidden"]
    for day in (20, 21):
        session.execute(
            text(
                "INSERT INTO sighting (observed_at, foreigner_id, source, geom, agency_id, sharing)"
                " VALUES (:t, :f, 'patrol', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :a,"
                " 'agency')"
            ),
            {
                "t": dt.datetime(2025, 5, day, 3, tzinfo=dt.UTC),
                "f": kept_person,
                "lon": lon + 0.001,
                "lat": lat,
                "a": polres,
            },
        )
    kept_sighting, seen_at = session.execute(
        text("SELECT id, observed_at FROM sighting WHERE foreigner_id = :f ORDER BY id LIMIT 1"),
        {"f": kept_person},
    ).one()
    lon, lat = SITES["alerts"]
    session.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id, sharing) VALUES"
            " ('illegal_work', 2, :t, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :a, 'agency')"
        ),
        {"t": dt.datetime(2025, 5, 27, 3, tzinfo=dt.UTC), "lon": lon, "lat": lat, "a": polres},
    )
    session.execute(
        text(
            "INSERT INTO alert (rule_id, rule_kind, severity, dedup_key, episode_key, sighting_id,"
            " geom, event_at, first_seen_at, last_seen_at)"
            " SELECT r.id, r.kind, 3, 'risk-kept', 'risk-kept', :sid,"
            " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :at, :at, :at"
            " FROM alert_rule r WHERE r.kind = 'far_from_sponsor'"
        ),
        {"sid": kept_sighting, "at": seen_at, "lon": lon, "lat": lat},
    )

    use_role(session, role_for("analyst"))  # as the API runs an analyst's request

    def counts(agency: str) -> tuple[Any, ...]:
        session.execute(text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": agency})
        by_id = ranked(session)
        hidden, alerts = values(by_id[ids["hidden"]]), values(by_id[ids["alerts"]])
        named = [p["full_name"] for p in by_id[ids["hidden"]]["reasons"]["sighted_elsewhere"]]
        return hidden["sighted_elsewhere"], alerts["incidents"], alerts["open_alerts"], named

    assert counts(str(polres)) == (2, 5, 3, ["Hidden Worker", "Kept Worker"])
    assert counts(str(kodim)) == (1, 4, 2, ["Hidden Worker"])
    assert counts("service") == (2, 5, 3, ["Hidden Worker", "Kept Worker"])
    assert counts("") == (1, 4, 2, ["Hidden Worker"])  # no agency: whole-Timpora records


def test_weights_change_the_order(session: Session, sites: dict[str, Any]) -> None:
    ids = sites["ids"]

    def order() -> list[int]:
        mine = set(ids.values())
        query = risk.parse_query(limit=risk.MAX_LIMIT, as_of=AS_OF)
        body = risk.rank(session=session, query=query, principal=ADMIN)
        return [w["workplace_id"] for w in body["workplaces"] if w["workplace_id"] in mine]

    assert order().index(ids["quota"]) < order().index(ids["alerts"])
    risk.set_weight(session=session, principal=ADMIN, factor="incidents", weight=10)
    assert order()[0] == ids["alerts"]
    risk.set_weight(session=session, principal=ADMIN, factor="incidents", weight=0)
    risk.set_weight(session=session, principal=ADMIN, factor="open_alerts", weight=0)
    risk.set_weight(session=session, principal=ADMIN, factor="border_proximity", weight=0)
    risk.set_weight(session=session, principal=ADMIN, factor="expired_permits", weight=50)
    assert order()[0] == ids["expired"]
    shown = {w["factor"]: w["weight"] for w in risk.list_weights(session=session)}
    assert shown["incidents"] == 0 and shown["over_quota"] == risk.DEFAULT_WEIGHTS["over_quota"]
    audit = session.execute(
        text("SELECT count(*) FROM audit_log WHERE resource LIKE 'risk-weights/%'")
    ).scalar_one()
    assert audit >= 4


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": risk.MAX_LIMIT + 1}, "limit"),
        ({"radius_m": risk.MAX_RADIUS_M + 1}, "radius_m"),
        ({"radius_m": float("nan")}, "radius_m"),
        ({"window_days": risk.MAX_WINDOW_DAYS + 1}, "window_days"),
        ({"expiring_days": -1}, "expiring_days"),
        ({"as_of": "June"}, "as_of"),
    ],
)
def test_parameters_are_capped(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        risk.parse_query(**kw)
    assert err.value.field == field


def test_weight_validation(session: Session) -> None:
    with pytest.raises(NotFoundError):
        risk.set_weight(session=session, principal=ADMIN, factor="nope", weight=1)
    for bad in (-1.0, risk.MAX_WEIGHT + 1, float("inf")):
        with pytest.raises(ValidationError):
            risk.set_weight(session=session, principal=ADMIN, factor="incidents", weight=bad)
