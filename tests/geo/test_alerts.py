"""The alert rules (docs/alerts.md): where each fires and where it must not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts import evaluate_for, run_batch
from geo.alerts.catalogue import validate_parameters
from geo.alerts.pairs import PAIRS_SQL, workplace_sighting_pairs
from geo.errors import ValidationError
from tests.geo.alert_synth import (
    ARUK,
    T0,
    add_foreigner,
    add_incident,
    add_sighting,
    add_workplace,
    add_zone,
    alerts,
    offset,
    point_at_border_distance,
)

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
INLAND = (109.30, 1.35)  # Sambas lowlands, tens of km from the border


@pytest.mark.parametrize(
    ("dx", "fires"),
    [
        pytest.param(499.9, True, id="499.9m-fires"),
        pytest.param(500.1, False, id="500.1m-does-not"),
    ],
)
def test_incident_near_workplace_threshold(session: Session, dx: float, fires: bool) -> None:
    wid = add_workplace(session, *INLAND)
    # Diagonal offset: the distance is measured, not read off one axis.
    lon, lat = offset(session, *INLAND, dx * 0.6, dx * 0.8)
    iid = add_incident(session, lon, lat)
    created = evaluate_for(session=session, layer="incidents", ids=[iid])
    found = alerts(session, "incident_near_workplace")
    assert len(created) == len(found) == (1 if fires else 0)
    if fires:
        a = found[0]
        assert (a.incident_id, a.workplace_id) == (iid, wid)
        assert a.distance_m == pytest.approx(dx, abs=0.01)
        assert a.kecamatan_name is not None
        assert a.event_at == T0


def test_workplace_registered_next_to_an_incident_alerts_once(session: Session) -> None:
    iid = add_incident(session, *INLAND)
    assert evaluate_for(session=session, layer="incidents", ids=[iid]) == []
    lon, lat = offset(session, *INLAND, 300, 0)
    wid = add_workplace(session, lon, lat)
    assert len(evaluate_for(session=session, layer="workplaces", ids=[wid])) == 1
    assert evaluate_for(session=session, layer="incidents", ids=[iid]) == []  # dedup
    assert len(alerts(session, "incident_near_workplace")) == 1


@pytest.mark.parametrize(
    ("distance_m", "fires"),
    [
        pytest.param(1999.9, True, id="1999.9m-fires"),
        pytest.param(2000.1, False, id="2000.1m-does-not"),
    ],
)
def test_sighting_near_border_threshold(session: Session, distance_m: float, fires: bool) -> None:
    fid = add_foreigner(session)
    lon, lat = point_at_border_distance(session, distance_m)
    sid = add_sighting(session, lon, lat, foreigner_id=fid)
    measured = session.execute(
        text("SELECT distance_to_border_m, border_side FROM sighting WHERE id = :i"), {"i": sid}
    ).one()
    assert measured.border_side == "ID"
    assert measured.distance_to_border_m == pytest.approx(distance_m, abs=0.01)
    evaluate_for(session=session, layer="sightings", ids=[sid])
    found = alerts(session, "sighting_near_border")
    assert len(found) == (1 if fires else 0)
    if fires:
        assert (found[0].sighting_id, found[0].foreigner_id) == (sid, fid)


def test_alternating_1900_2100_m_raises_one_alert_per_cooldown(session: Session) -> None:
    fid = add_foreigner(session)
    near = point_at_border_distance(session, 1900)
    band = point_at_border_distance(session, 2100)
    far = point_at_border_distance(session, 2600)
    # 40 sightings over 20 h alternating inside the threshold and inside the hysteresis band.
    for k in range(40):
        sid = add_sighting(session, *(near if k % 2 == 0 else band), T0 + k * 0.5 * H, fid)
        evaluate_for(session=session, layer="sightings", ids=[sid])
    assert len(alerts(session, "sighting_near_border")) == 1
    # Leaving beyond D + H and coming back inside the cooldown: still one.
    for k, p in enumerate([far, near, far, near]):
        sid = add_sighting(session, *p, T0 + 21 * H + k * H, fid)
        evaluate_for(session=session, layer="sightings", ids=[sid])
    assert len(alerts(session, "sighting_near_border")) == 1
    # Away, then back after a quiet day: a new entry, a second alert.
    s_far = add_sighting(session, *far, T0 + 30 * H, fid)
    s_back = add_sighting(session, *near, T0 + 50 * H, fid)
    evaluate_for(session=session, layer="sightings", ids=[s_far, s_back])
    found = alerts(session, "sighting_near_border")
    assert [a.sighting_id for a in found][1:] == [s_back]


def test_border_rule_ignores_the_malaysian_side(session: Session) -> None:
    fid = add_foreigner(session)
    lon, lat = session.execute(
        text(
            """
            WITH a AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649) g),
                 b AS (SELECT ST_ClosestPoint(ST_Union(geom_utm), (SELECT g FROM a)) c
                       FROM reference_feature WHERE kind = 'border')
            SELECT ST_X(q), ST_Y(q) FROM (
                SELECT ST_Transform(ST_Translate(b.c,
                    500 * (ST_X(b.c) - ST_X(a.g)) / ST_Distance(a.g, b.c),
                    500 * (ST_Y(b.c) - ST_Y(a.g)) / ST_Distance(a.g, b.c)), 4326) q FROM a, b) r
            """
        ),
        {"lon": ARUK[0], "lat": ARUK[1]},
    ).one()
    sid = add_sighting(session, lon, lat, foreigner_id=fid)
    side = session.execute(text("SELECT border_side FROM sighting WHERE id = :i"), {"i": sid})
    assert side.scalar_one() == "MY"
    assert evaluate_for(session=session, layer="sightings", ids=[sid]) == []


def test_sighting_in_zone_is_state_based(session: Session) -> None:
    zid = add_zone(session, *INLAND, 1000, kind="restricted")
    add_zone(
        session, *offset(session, *INLAND, 10_000, 0), 1000, kind="patrol_sector", name="Sektor"
    )
    fid = add_foreigner(session)
    inside = offset(session, *INLAND, 999.9, 0)
    outside = offset(session, *INLAND, 1000.1, 0)
    sequence = [inside, inside, outside, inside]
    ids = []
    for k, p in enumerate(sequence):
        sid = add_sighting(session, *p, T0 + k * H, fid)
        ids.append(sid)
        evaluate_for(session=session, layer="sightings", ids=[sid])
    found = alerts(session, "sighting_in_zone")
    assert [(a.sighting_id, a.zone_id) for a in found] == [(ids[0], zid), (ids[3], zid)]
    # An inactive zone does not alert; a patrol sector is not a watched kind.
    session.execute(text("UPDATE zone SET active = false WHERE id = :z"), {"z": zid})
    g = add_foreigner(session, name="Other Person")
    sid = add_sighting(session, *inside, T0, g)
    assert evaluate_for(session=session, layer="sightings", ids=[sid]) == []


def test_expired_permit_uses_the_permit_state_at_the_sighting_time(session: Session) -> None:
    fid = add_foreigner(session, permit_expires_on=dt.date(2025, 3, 1))
    on_last_day = add_sighting(
        session, *INLAND, dt.datetime(2025, 3, 1, 23, 0, tzinfo=T0.tzinfo), fid
    )
    day_after = add_sighting(
        session, *INLAND, dt.datetime(2025, 3, 2, 0, 30, tzinfo=T0.tzinfo), fid
    )
    same_day = add_sighting(session, *INLAND, dt.datetime(2025, 3, 2, 9, 0, tzinfo=T0.tzinfo), fid)
    evaluate_for(session=session, layer="sightings", ids=[on_last_day, day_after, same_day])
    found = alerts(session, "expired_permit_sighting")
    assert [a.sighting_id for a in found] == [day_after]  # one per foreigner and WIB day
    assert found[0].details["days_overdue"] == 1


def test_plb_holder_outside_the_plb_area(session: Session) -> None:
    plb = add_foreigner(session, permit_type="PLB")
    kitas = add_foreigner(session, name="Kitas Holder", permit_type="KITAS")
    aruk_s = add_sighting(session, *ARUK, T0, plb)  # Sajingan Besar: inside the PLB area
    inland_s = add_sighting(session, *INLAND, T0 + H, plb)
    other = add_sighting(session, *INLAND, T0 + H, kitas)
    evaluate_for(session=session, layer="sightings", ids=[aruk_s, inland_s, other])
    found = alerts(session, "plb_outside_area")
    assert [a.sighting_id for a in found] == [inland_s]
    assert found[0].distance_m > 0


@pytest.mark.parametrize(
    ("distance_m", "fires"),
    [pytest.param(24_999.9, False, id="24999.9m"), pytest.param(25_000.1, True, id="25000.1m")],
)
def test_far_from_sponsor(session: Session, distance_m: float, fires: bool) -> None:
    wid = add_workplace(session, *INLAND)
    fid = add_foreigner(session, sponsor_workplace_id=wid)
    visa = add_foreigner(session, name="Visitor", permit_type="VOA", sponsor_workplace_id=wid)
    p = offset(session, *INLAND, 0, distance_m)
    ids = [add_sighting(session, *p, T0, fid), add_sighting(session, *p, T0, visa)]
    evaluate_for(session=session, layer="sightings", ids=ids)
    found = alerts(session, "far_from_sponsor")
    assert [a.foreigner_id for a in found] == ([fid] if fires else [])
    if fires:
        assert found[0].distance_m == pytest.approx(distance_m, abs=0.01)


def test_incident_cluster_fires_once_when_the_third_incident_arrives(session: Session) -> None:
    spots = [(0, 0), (600, 0), (300, 500)]  # all within 1 km of the last one
    ids = []
    for k, (dx, dy) in enumerate(spots):
        ids.append(add_incident(session, *offset(session, *INLAND, dx, dy), T0 + k * D))
        evaluate_for(session=session, layer="incidents", ids=[ids[-1]])
    found = alerts(session, "incident_cluster")
    assert [a.incident_id for a in found] == [ids[2]]
    assert sorted(found[0].subjects["incident_ids"]) == sorted(ids)
    # A fourth incident in the same cluster does not raise another alert...
    i4 = add_incident(session, *offset(session, *INLAND, 100, 100), T0 + 4 * D)
    evaluate_for(session=session, layer="incidents", ids=[i4])
    assert len(alerts(session, "incident_cluster")) == 1
    # ...nor do three incidents spread over more than 14 days or more than 1 km.
    far = offset(session, *INLAND, 20_000, 0)
    for k in range(3):
        i = add_incident(session, *far, T0 + k * 8 * D)
        evaluate_for(session=session, layer="incidents", ids=[i])
    assert len(alerts(session, "incident_cluster")) == 1


def test_permit_expiring_windows(session: Session) -> None:
    today = dt.date(2025, 3, 1)
    f40 = add_foreigner(session, name="A", permit_expires_on=today + dt.timedelta(days=40))
    f30 = add_foreigner(session, name="B", permit_expires_on=today + dt.timedelta(days=30))
    f5 = add_foreigner(session, name="C", permit_expires_on=today + dt.timedelta(days=5))
    gone = add_foreigner(session, name="D", permit_expires_on=today - dt.timedelta(days=1))
    counts = run_batch(session=session, today=today, rules=("permit_expiring",))
    assert counts == {"permit_expiring": 2}
    keys = {a.foreigner_id: a.details["window_days"] for a in alerts(session, "permit_expiring")}
    assert keys == {f30: 30, f5: 7}
    assert f40 not in keys and gone not in keys
    # Daily runs do not repeat; the 7-day notice follows the 30-day one.
    assert run_batch(
        session=session, today=today + dt.timedelta(days=1), rules=("permit_expiring",)
    ) == {"permit_expiring": 0}
    # Day 23: B has 7 days left (7-day notice), A 17 (its 30-day notice).
    assert run_batch(
        session=session, today=today + dt.timedelta(days=23), rules=("permit_expiring",)
    ) == {"permit_expiring": 2}
    windows = sorted(
        (a.foreigner_id, a.details["window_days"]) for a in alerts(session, "permit_expiring")
    )
    assert windows == sorted([(f30, 30), (f5, 7), (f30, 7), (f40, 30)])


def test_disabled_rule_does_not_fire_and_parameters_apply(session: Session) -> None:
    session.execute(text("UPDATE alert_rule SET enabled = false WHERE kind = 'incident_cluster'"))
    session.execute(
        text(
            "UPDATE alert_rule SET parameters = '{\"radius_m\": 1000}' "
            "WHERE kind = 'incident_near_workplace'"
        )
    )
    add_workplace(session, *INLAND)
    iid = add_incident(session, *offset(session, *INLAND, 800, 0))
    evaluate_for(session=session, layer="incidents", ids=[iid])
    assert len(alerts(session, "incident_near_workplace")) == 1


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        pytest.param("incident_near_workplace", {"radius_m": -5}, "parameters.radius_m", id="neg"),
        pytest.param("incident_near_workplace", {"radius": 5}, "parameters.radius", id="unknown"),
        pytest.param(
            "incident_cluster", {"min_incidents": 2.5}, "parameters.min_incidents", id="not-int"
        ),
        pytest.param(
            "permit_expiring", {"windows_days": []}, "parameters.windows_days", id="empty"
        ),
        pytest.param(
            "sighting_in_zone", {"zone_kinds": ["nowhere"]}, "parameters.zone_kinds", id="choice"
        ),
    ],
)
def test_parameter_validation_names_the_parameter(kind: str, params: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError) as err:
        validate_parameters(kind, params)
    assert err.value.field == field
    assert field in str(err.value)


def test_unknown_layer_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="layer"):
        evaluate_for(session=session, layer="boats", ids=[1])


# --- structures behind the speed (migration 0008) ----------------------------------------------

PIECES_SQL = text(
    """
    SELECT count(zp.id) AS n, min(zp.kind) AS kind, max(ST_NPoints(zp.geom_utm)) AS max_points,
           coalesce(ST_Area(ST_SymDifference(ST_Union(zp.geom_utm), z.geom_utm)), -1) AS diff_m2
    FROM zone z LEFT JOIN zone_piece zp ON zp.zone_id = z.id
    WHERE z.id = :z
    GROUP BY z.geom_utm
    """
)


def _pieces(session: Session, zid: int) -> Any:
    return session.execute(PIECES_SQL, {"z": zid}).one()


def test_zone_pieces_follow_the_zone_on_insert_update_and_delete(session: Session) -> None:
    # A 200-vertex circle: more than one piece of at most 64 vertices.
    zid = session.execute(
        text(
            """
            INSERT INTO zone (name, kind, geom)
            SELECT 'Lingkaran', 'watch', ST_Multi(ST_Transform(ST_Buffer(ST_Transform(
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649), 3000, 50), 4326))
            RETURNING id
            """
        ),
        {"lon": INLAND[0], "lat": INLAND[1]},
    ).scalar_one()
    first = _pieces(session, zid)
    assert first.n > 1 and first.max_points <= 64 and first.kind == "watch"
    assert first.diff_m2 == pytest.approx(0, abs=1e-3)  # the pieces cover exactly the zone

    moved = offset(session, *INLAND, 5000, 0)
    session.execute(
        text(
            "UPDATE zone SET kind = 'restricted', geom = ST_Multi(ST_Transform(ST_Expand("
            "ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649), 500), 4326)) "
            "WHERE id = :z"
        ),
        {"lon": moved[0], "lat": moved[1], "z": zid},
    )
    second = _pieces(session, zid)
    assert (second.n, second.kind) == (1, "restricted")
    assert second.diff_m2 == pytest.approx(0, abs=1e-3)

    session.execute(text("UPDATE zone SET active = false WHERE id = :z"), {"z": zid})
    assert _pieces(session, zid).n == 0  # inactive zones have no pieces
    session.execute(text("UPDATE zone SET active = true WHERE id = :z"), {"z": zid})
    assert _pieces(session, zid).n == 1
    session.execute(text("DELETE FROM zone WHERE id = :z"), {"z": zid})
    left = session.execute(text("SELECT count(*) FROM zone_piece WHERE zone_id = :z"), {"z": zid})
    assert left.scalar_one() == 0


def test_plb_rule_follows_an_edited_plb_area(session: Session) -> None:
    plb = add_foreigner(session, permit_type="PLB")
    sid = add_sighting(session, *INLAND, T0, plb)
    assert len(evaluate_for(session=session, layer="sightings", ids=[sid])) == 1
    session.execute(text("DELETE FROM alert"))
    # The office widens the PLB area to take in the inland point: no alert any more.
    session.execute(
        text(
            "UPDATE zone SET geom = ST_Multi(ST_Union(geom, ST_Transform(ST_Expand(ST_Transform("
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649), 100), 4326))) "
            "WHERE kind = 'plb_area'"
        ),
        {"lon": INLAND[0], "lat": INLAND[1]},
    )
    assert evaluate_for(session=session, layer="sightings", ids=[sid]) == []
    assert run_batch(session=session, rules=("plb_outside_area",)) == {"plb_outside_area": 0}


@pytest.mark.parametrize(
    ("sequence", "since_index", "entries"),
    [
        # The first hit in scope follows an out-of-scope sighting inside the zone: no entry.
        pytest.param(["in", "in", "in"], 1, [], id="previous-before-since-inside"),
        pytest.param(["out", "in", "in"], 1, [1], id="previous-before-since-outside"),
        # Hits in scope with an outside sighting between them: a second entry.
        pytest.param(["in", "out", "in", "in"], 0, [0, 2], id="out-between-hits"),
    ],
)
def test_zone_entry_in_batch_with_since(
    session: Session, sequence: list[str], since_index: int, entries: list[int]
) -> None:
    zid = add_zone(session, *INLAND, 1000, kind="restricted")
    fid = add_foreigner(session)
    where = {"in": offset(session, *INLAND, 500, 0), "out": offset(session, *INLAND, 1500, 0)}
    ids = [add_sighting(session, *where[p], T0 + k * H, fid) for k, p in enumerate(sequence)]
    run_batch(session=session, since=T0 + since_index * H, rules=("sighting_in_zone",))
    found = alerts(session, "sighting_in_zone")
    assert [(a.sighting_id, a.zone_id) for a in found] == [(ids[k], zid) for k in entries]


def test_on_write_and_batch_leave_the_callers_settings_alone(session: Session) -> None:
    def settings() -> tuple[str, ...]:
        row = session.execute(
            text(
                "SELECT current_setting('plan_cache_mode'), current_setting('work_mem'), "
                "current_setting('jit')"
            )
        ).one()
        return tuple(row)

    before = settings()
    fid = add_foreigner(session)
    sid = add_sighting(session, *INLAND, T0, fid)
    evaluate_for(session=session, layer="sightings", ids=[sid])
    evaluate_for(session=session, layer="sightings", ids=[sid])  # prepared statements reused
    run_batch(session=session, rules=("sighting_near_border",))
    assert settings() == before


@pytest.mark.parametrize(
    "radius_m", [pytest.param(500.0, id="500m"), pytest.param(130.0, id="130m")]
)
def test_workplace_sighting_pairs_are_exactly_st_dwithin(session: Session, radius_m: float) -> None:
    wid = add_workplace(session, *INLAND)
    # Just inside / just outside R in several directions, and points near R/4 cell edges.
    cases = []
    for k, (dx, dy) in enumerate([(1, 0), (0, 1), (-0.6, 0.8), (0.6, -0.8), (-1, 0)]):
        for d in (radius_m - 0.01, radius_m + 0.01):
            cases.append((k, d, add_sighting(session, *offset(session, *INLAND, dx * d, dy * d))))
    for q in range(-6, 7):
        cases.append((99, q, add_sighting(session, *offset(session, *INLAND, q * radius_m / 4, 0))))
    got = {(w, s) for w, s in workplace_sighting_pairs(session=session, radius_m=radius_m)}
    # The grid hash join (chosen for large tables) must give the same pairs as the probes.
    grid = {tuple(r) for r in session.execute(PAIRS_SQL, {"radius_m": radius_m})}
    assert grid == got
    expected = set(
        session.execute(
            text(
                "SELECT w.id, s.id FROM sighting s JOIN workplace w "
                "ON ST_DWithin(s.geom_utm, w.geom_utm, :r)"
            ),
            {"r": radius_m},
        ).all()
    )
    assert got == {tuple(r) for r in expected}
    inside = {s for _, d, s in cases[:10] if d < radius_m}
    assert inside <= {s for w, s in got if w == wid}
    assert not ({s for _, d, s in cases[:10] if d > radius_m} & {s for _, s in got})
