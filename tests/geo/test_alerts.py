"""The alert rules (docs/alerts.md): where each fires and where it must not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts import evaluate_for, run_batch
from geo.alerts.catalogue import validate_parameters
from geo.alerts.evaluation import Evaluation, lapse_quiet
from geo.alerts.pairs import PAIRS_SQL, pairs_settings, workplace_sighting_pairs
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
# In Semanga (Sejangkung), a desa of 253 km2, 500 m east and north of a corner of the cluster
# rule's 2 km grid (EPSG:32649); the desa holds every point up to 3 km east and 800 m north.
RURAL = (109.458468, 1.451562)


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
    assert len(created.opened) == len(found) == (1 if fires else 0)
    if fires:
        assert (found[0].incident_id, found[0].workplace_id) == (iid, wid)
        assert found[0].distance_m == pytest.approx(dx, abs=0.01)
        assert found[0].worst_distance_m == pytest.approx(dx, abs=0.01)
        assert found[0].kecamatan_name is not None


def test_workplace_registered_next_to_an_incident_alerts_once(session: Session) -> None:
    iid = add_incident(session, *INLAND)
    assert evaluate_for(session=session, layer="incidents", ids=[iid]) == Evaluation()
    wid = add_workplace(session, *offset(session, *INLAND, 100, 0))
    # Registering the workplace is the other side of the pair: it evaluates the rule too.
    assert len(evaluate_for(session=session, layer="workplaces", ids=[wid]).opened) == 1
    # The same incident evaluated again adds nothing to the episode.
    assert evaluate_for(session=session, layer="incidents", ids=[iid]) == Evaluation()
    assert [a.occurrences for a in alerts(session, "incident_near_workplace")] == [1]


def test_an_incident_near_several_workplaces_alerts_only_its_own(session: Session) -> None:
    session.execute(text("UPDATE alert_rule SET enabled = false WHERE kind = 'incident_cluster'"))
    shop = add_workplace(session, *INLAND, name="Toko Contoh")
    hotel = add_workplace(session, *offset(session, *INLAND, 300, 0), name="Hotel Contoh")
    between = offset(session, *INLAND, 150, 0)
    # Reported at no workplace, between two: the nearness says nothing about either.
    anonymous = add_incident(session, *between)
    assert evaluate_for(session=session, layer="incidents", ids=[anonymous]) == Evaluation()
    # Reported at the hotel: the hotel's episode, not the shop's.
    at_hotel = add_incident(session, *between, T0 + H)
    session.execute(
        text("UPDATE incident SET workplace_id = :w WHERE id = :i"), {"w": hotel, "i": at_hotel}
    )
    assert len(evaluate_for(session=session, layer="incidents", ids=[at_hotel]).opened) == 1
    assert [a.workplace_id for a in alerts(session, "incident_near_workplace")] == [hotel]
    assert shop != hotel


def test_incidents_near_one_workplace_are_one_episode(session: Session) -> None:
    session.execute(text("UPDATE alert_rule SET enabled = false WHERE kind = 'incident_cluster'"))
    add_workplace(session, *INLAND)
    ids = [
        add_incident(session, *offset(session, *INLAND, 100 + 50 * k, 0), T0 + k * D)
        for k in range(3)
    ]
    changes = [evaluate_for(session=session, layer="incidents", ids=[i]) for i in ids]
    assert [len(c.opened) for c in changes] == [1, 0, 0]
    (episode,) = alerts(session, "incident_near_workplace")
    assert changes[1].updated == changes[2].updated == [episode.id]
    assert (episode.incident_id, episode.occurrences) == (ids[0], 3)
    assert episode.last_seen_at == T0 + 2 * D
    assert episode.worst_distance_m == pytest.approx(100, abs=0.01)  # the closest one


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


def test_border_triggers_merge_into_one_episode_that_lapses_when_quiet(session: Session) -> None:
    fid = add_foreigner(session)
    near = point_at_border_distance(session, 1900)
    nearer = point_at_border_distance(session, 700)
    band = point_at_border_distance(session, 2100)
    # 40 sightings over 20 h alternating inside and just outside the threshold: one episode.
    opened, updated = [], []
    for k in range(40):
        p = band if k % 2 else (nearer if k == 10 else near)
        sid = add_sighting(session, *p, T0 + k * 0.5 * H, fid)
        done = evaluate_for(session=session, layer="sightings", ids=[sid])
        opened += done.opened
        updated += done.updated
    (episode,) = alerts(session, "sighting_near_border")
    assert opened == [episode.id] and set(updated) == {episode.id} and len(updated) == 19
    assert (episode.status, episode.occurrences) == ("new", 20)
    assert episode.first_seen_at == T0 and episode.last_seen_at == T0 + 19 * H
    assert episode.worst_distance_m == pytest.approx(700, abs=0.01)
    assert episode.distance_m == pytest.approx(1900, abs=0.01)  # the first trigger's
    # Within the quiet window (7 days) a trigger still belongs to the episode...
    sid = add_sighting(session, *near, T0 + 6 * D, fid)
    assert evaluate_for(session=session, layer="sightings", ids=[sid]).updated == [episode.id]
    # ...after it, the episode is closed as lapsed and a new one opens.
    late = add_sighting(session, *near, T0 + 14 * D, fid)
    done = evaluate_for(session=session, layer="sightings", ids=[late])
    first, second = alerts(session, "sighting_near_border")
    assert done.closed == [first.id] and done.opened == [second.id]
    assert (first.status, first.closed_reason, first.occurrences) == ("lapsed", "quiet", 21)
    assert (second.status, second.sighting_id, second.occurrences) == ("new", late, 1)


def test_a_trigger_after_resolve_opens_a_new_episode(session: Session) -> None:
    fid = add_foreigner(session)
    near = point_at_border_distance(session, 1500)
    s1 = add_sighting(session, *near, T0, fid)
    (first,) = evaluate_for(session=session, layer="sightings", ids=[s1]).opened
    session.execute(text("UPDATE alert SET status = 'resolved' WHERE id = :i"), {"i": first})
    # Evaluating the resolved episode's own sighting again does not reopen it.
    assert evaluate_for(session=session, layer="sightings", ids=[s1]) == Evaluation()
    s2 = add_sighting(session, *near, T0 + H, fid)
    (second,) = evaluate_for(session=session, layer="sightings", ids=[s2]).opened
    assert second != first
    assert [(a.status, a.occurrences) for a in alerts(session, "sighting_near_border")] == [
        ("resolved", 1),
        ("new", 1),
    ]


def test_quiet_episodes_lapse_in_the_sweep(session: Session) -> None:
    fid = add_foreigner(session)
    sid = add_sighting(session, *point_at_border_distance(session, 1500), T0, fid)
    (episode,) = evaluate_for(session=session, layer="sightings", ids=[sid]).opened
    assert lapse_quiet(session=session, now=T0 + 6 * D) == []
    assert lapse_quiet(session=session, now=T0 + 8 * D) == [episode]
    assert [(a.status, a.closed_reason) for a in alerts(session)] == [("lapsed", "quiet")]


def test_home_and_work_in_the_border_band_are_routine(session: Session) -> None:
    home = point_at_border_distance(session, 1900)
    work = point_at_border_distance(session, 1300)
    away = point_at_border_distance(session, 100)  # 1.8 km from home, 1.2 km from work
    wid = add_workplace(session, *work)
    fid = add_foreigner(session, sponsor_workplace_id=wid, at=home)
    ids = [
        add_sighting(session, *p, T0 + k * H, fid)
        for k, p in enumerate([home, work, offset(session, *home, 300, 0), home, work])
    ]
    assert evaluate_for(session=session, layer="sightings", ids=ids) == Evaluation()
    sid = add_sighting(session, *away, T0 + D, fid)
    assert len(evaluate_for(session=session, layer="sightings", ids=[sid]).opened) == 1


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
    assert evaluate_for(session=session, layer="sightings", ids=[sid]) == Evaluation()


def test_sighting_in_zone_is_one_episode_per_foreigner_and_zone(session: Session) -> None:
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
    assert [(a.sighting_id, a.zone_id, a.occurrences, a.last_sighting_id) for a in found] == [
        (ids[0], zid, 3, ids[3])
    ]
    # An inactive zone does not alert; a patrol sector is not a watched kind.
    session.execute(text("UPDATE zone SET active = false WHERE id = :z"), {"z": zid})
    g = add_foreigner(session, name="Other Person")
    sid = add_sighting(session, *inside, T0, g)
    assert evaluate_for(session=session, layer="sightings", ids=[sid]) == Evaluation()


def test_expired_permit_is_one_episode_per_overstay(session: Session) -> None:
    fid = add_foreigner(session, permit_expires_on=dt.date(2025, 3, 1))
    on_last_day = add_sighting(
        session, *INLAND, dt.datetime(2025, 3, 1, 23, 0, tzinfo=T0.tzinfo), fid
    )
    day_after = add_sighting(
        session, *INLAND, dt.datetime(2025, 3, 2, 0, 30, tzinfo=T0.tzinfo), fid
    )
    same_day = add_sighting(session, *INLAND, dt.datetime(2025, 3, 2, 9, 0, tzinfo=T0.tzinfo), fid)
    month_later = add_sighting(
        session, *INLAND, dt.datetime(2025, 4, 2, 9, 0, tzinfo=T0.tzinfo), fid
    )
    ids = [on_last_day, day_after, same_day, month_later]
    evaluate_for(session=session, layer="sightings", ids=ids)
    found = alerts(session, "expired_permit_sighting")
    assert [(a.sighting_id, a.occurrences, a.last_sighting_id) for a in found] == [
        (day_after, 3, month_later)
    ]
    assert found[0].details["days_overdue"] == 1
    # A renewed permit that runs out again is another overstay.
    session.execute(
        text("UPDATE foreigner SET permit_expires_on = '2025-05-01' WHERE id = :f"), {"f": fid}
    )
    again = add_sighting(session, *INLAND, dt.datetime(2025, 5, 3, 9, 0, tzinfo=T0.tzinfo), fid)
    assert len(evaluate_for(session=session, layer="sightings", ids=[again]).opened) == 1


EPISODES_SQL = text(
    """
    SELECT episode_key, status, sighting_id, first_seen_at, last_seen_at, occurrences,
           last_sighting_id
    FROM alert WHERE rule_kind = 'expired_permit_sighting' ORDER BY episode_key
    """
)


def test_a_restricted_sighting_counts_only_in_episodes_of_its_own_sharing(
    session: Session,
) -> None:
    """An overstay seen by everyone and, between, by Polres alone: the sightings Polres keeps to
    itself make an episode of their own sharing instead of extending the shared one, whose
    ``last_seen_at`` and ``occurrences`` (visible to every agency with personal data) so tell
    nothing of them; on write and in batch alike."""
    polres = int(
        session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar_one()
    )
    fid = add_foreigner(session, permit_expires_on=dt.date(2025, 3, 1))
    day = dt.datetime(2025, 3, 2, 9, 0, tzinfo=T0.tzinfo)
    shared = [add_sighting(session, *INLAND, day + k * D, fid) for k in (0, 3)]
    kept = [
        add_sighting(session, *INLAND, day + k * D, fid, agency_id=polres, sharing="agency")
        for k in (1, 2, 4)
    ]
    for sid in sorted([*shared, *kept]):  # on write, one by one in time order
        evaluate_for(session=session, layer="sightings", ids=[sid])
    on_write = [tuple(r) for r in session.execute(EPISODES_SQL)]
    key = f"expired_permit_sighting:foreigner={fid}:expired=2025-03-01"
    assert [(r[0], r[2], r[5], r[6]) for r in on_write] == [
        (key, shared[0], 2, shared[1]),
        (f"{key}:shared=agency/{polres}/", kept[0], 3, kept[2]),
    ]
    assert on_write[0][4] == day + 3 * D  # the last shared sighting, not Polres's later one
    session.execute(text("DELETE FROM alert"))
    run_batch(session=session, rules=("expired_permit_sighting",), lapse=False)
    assert [tuple(r) for r in session.execute(EPISODES_SQL)] == on_write


def test_plb_holder_outside_the_area_is_one_episode_per_trip(session: Session) -> None:
    plb = add_foreigner(session, permit_type="PLB")
    kitas = add_foreigner(session, name="Kitas Holder", permit_type="KITAS")
    aruk_s = add_sighting(session, *ARUK, T0, plb)  # Sajingan Besar: inside the PLB area
    trip = [add_sighting(session, *INLAND, T0 + k * H, plb) for k in (1, 2, 3)]
    other = add_sighting(session, *INLAND, T0 + H, kitas)
    evaluate_for(session=session, layer="sightings", ids=[aruk_s, *trip, other])
    (first,) = alerts(session, "plb_outside_area")
    assert (first.sighting_id, first.occurrences, first.last_sighting_id) == (trip[0], 3, trip[2])
    assert first.distance_m > 0
    # Back inside the area, then out again the next day: the first trip is over, a second one.
    back = add_sighting(session, *ARUK, T0 + 5 * H, plb)
    evaluate_for(session=session, layer="sightings", ids=[back])
    out = add_sighting(session, *INLAND, T0 + D, plb)
    done = evaluate_for(session=session, layer="sightings", ids=[out])
    first, second = alerts(session, "plb_outside_area")
    assert done.closed == [first.id] and done.opened == [second.id]
    assert (first.status, first.closed_reason) == ("lapsed", "returned")
    assert (second.status, second.sighting_id) == ("new", out)


PLB_EPISODES_SQL = text(
    """
    SELECT dedup_key, status, closed_reason, sighting_id, zone_id, round(distance_m::numeric, 3),
           first_seen_at, last_seen_at, occurrences, round(worst_distance_m::numeric, 3),
           last_sighting_id
    FROM alert WHERE rule_kind = 'plb_outside_area' ORDER BY dedup_key
    """
)


def test_plb_trips_in_batch_equal_on_write_across_months_ties_and_first_sightings(
    session: Session,
) -> None:
    """The batch finds each trip's previous sighting by ``lag()`` over the outside ones; the
    on-write path looks it up. Both must agree at a month (partition) boundary, for sightings
    at the same instant (ordered by id), for a holder's first sighting, and from ``since``."""
    utc = dt.UTC
    a = add_foreigner(session, name="Plb Satu", permit_type="PLB")
    b = add_foreigner(session, name="Plb Dua", permit_type="PLB")
    c = add_foreigner(session, name="Plb Tiga", permit_type="PLB")
    at = dt.datetime(2025, 3, 31, 20, 0, tzinfo=utc)
    plan = [
        (a, INLAND, at),  # a's first sighting ever: outside, no previous
        (b, ARUK, at - 2 * D),  # b inside in March...
        (a, INLAND, at + 6 * H),  # next month's partition, previous outside: same trip
        (b, INLAND, at + 7 * H),  # ...b outside in April: previous in March, inside
        (a, ARUK, at + 9 * H),  # inside, then outside at the same instant (larger id):
        (a, INLAND, at + 9 * H),  # its previous is the inside one, a new trip
        (a, INLAND, at + 30 * H),  # previous outside (the tie's): same trip
        (c, INLAND, at + 31 * H),  # outside, then inside at the same instant (larger id),
        (c, ARUK, at + 31 * H),
        (c, INLAND, at + 33 * H),  # then outside: previous inside, a new trip
        (c, INLAND, at + 40 * H),
    ]
    ids = [add_sighting(session, *where, when, fid) for fid, where, when in plan]
    for sid in ids:  # on write, one by one in the order written
        evaluate_for(session=session, layer="sightings", ids=[sid])
    on_write = [tuple(r) for r in session.execute(PLB_EPISODES_SQL)]
    assert {r[2] for r in on_write} >= {"returned", None}
    assert len(on_write) == 5, on_write  # a: 2 trips, b: 1, c: 2
    session.execute(text("DELETE FROM alert"))
    run_batch(session=session, rules=("plb_outside_area",), lapse=False)
    assert [tuple(r) for r in session.execute(PLB_EPISODES_SQL)] == on_write
    # From a time in the middle: the first outside sighting in scope looks back before it.
    since = at + 8 * H
    session.execute(text("DELETE FROM alert"))
    for sid, (_, _, when) in zip(ids, plan, strict=True):
        if when < since:
            evaluate_for(session=session, layer="sightings", ids=[sid])
    run_batch(session=session, since=since, rules=("plb_outside_area",), lapse=False)
    assert [tuple(r) for r in session.execute(PLB_EPISODES_SQL)] == on_write


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


def test_far_from_sponsor_spares_home_and_the_usual_area(session: Session) -> None:
    wid = add_workplace(session, *INLAND)
    far = offset(session, *INLAND, 0, 40_000)
    # Lives 40 km from the sponsor: seen at home is routine.
    commuter = add_foreigner(session, sponsor_workplace_id=wid, at=far)
    s = add_sighting(session, *offset(session, *far, 1000, 0), T0, commuter)
    assert evaluate_for(session=session, layer="sightings", ids=[s]) == Evaluation()
    # Seen day after day at the same far place: the first three sightings are the deviation,
    # then it is where the person is usually seen.
    mover = add_foreigner(session, name="Mover", sponsor_workplace_id=wid)
    for k in range(6):
        s = add_sighting(session, *offset(session, *far, 100 * k, 0), T0 + k * D, mover)
        evaluate_for(session=session, layer="sightings", ids=[s])
    (episode,) = alerts(session, "far_from_sponsor")
    assert (episode.foreigner_id, episode.occurrences) == (mover, 3)


def test_incident_cluster_is_one_episode_per_place(session: Session) -> None:
    spots = [(0, 0), (600, 0), (300, 500)]  # all within 1 km of the last one
    ids = []
    for k, (dx, dy) in enumerate(spots):
        ids.append(add_incident(session, *offset(session, *INLAND, dx, dy), T0 + k * D))
        evaluate_for(session=session, layer="incidents", ids=[ids[-1]])
    found = alerts(session, "incident_cluster")
    assert [a.incident_id for a in found] == [ids[2]]
    assert sorted(found[0].subjects["incident_ids"]) == sorted(ids)
    assert found[0].details["cell_m"] == 2000
    assert found[0].episode_key.startswith("incident_cluster:cell=2000m:")
    # A fourth incident in the same cluster is another occurrence of the episode...
    i4 = add_incident(session, *offset(session, *INLAND, 300, 450), T0 + 4 * D)
    assert evaluate_for(session=session, layer="incidents", ids=[i4]).opened == []
    assert [a.occurrences for a in alerts(session, "incident_cluster")] == [2]
    # ...and three incidents spread over more than 14 days or more than 1 km are none.
    far = offset(session, *INLAND, 20_000, 0)
    for k in range(3):
        i = add_incident(session, *far, T0 + k * 8 * D)
        evaluate_for(session=session, layer="incidents", ids=[i])
    assert len(alerts(session, "incident_cluster")) == 1


def cluster_at(session: Session, lon: float, lat: float, start: dt.datetime) -> list[int]:
    """Three incidents within 300 m over two days, each evaluated as it is written."""
    ids = []
    for k, (dx, dy) in enumerate([(0, 0), (200, 100), (100, 250)]):
        ids.append(add_incident(session, *offset(session, lon, lat, dx, dy), start + k * D))
        evaluate_for(session=session, layer="incidents", ids=[ids[-1]])
    return ids


def test_a_new_cluster_in_a_busy_desa_opens_its_own_episode(session: Session) -> None:
    # A spot where incidents keep clustering: its episode stays open all month.
    busy = cluster_at(session, *RURAL, T0)
    for k in range(10):
        i = add_incident(session, *offset(session, *RURAL, 50 * k, 0), T0 + (3 + 3 * k) * D)
        evaluate_for(session=session, layer="incidents", ids=[i])
    # A new cluster 2.5 km away, in the same desa, while that episode is open: the
    # coordinator must see it as a new episode, not as more occurrences of the busy one.
    elsewhere = offset(session, *RURAL, 2500, 0)
    new = cluster_at(session, *elsewhere, T0 + 10 * D)
    busy_ep, new_ep = alerts(session, "incident_cluster")
    assert busy_ep.desa_name == new_ep.desa_name is not None
    assert (busy_ep.status, busy_ep.incident_id, busy_ep.occurrences) == ("new", busy[2], 11)
    assert (new_ep.status, new_ep.incident_id) == ("new", new[2])
    assert busy_ep.episode_key != new_ep.episode_key
    assert sorted(new_ep.subjects["incident_ids"]) == sorted(new)
    # The batch over the same incidents gives the same episodes.
    on_write = [(a.episode_key, a.incident_id, a.occurrences) for a in (busy_ep, new_ep)]
    session.execute(text("DELETE FROM alert"))
    run_batch(session=session, rules=("incident_cluster",))
    batch = [(a.episode_key, a.incident_id, a.occurrences) for a in alerts(session)]
    assert batch == on_write


def test_incident_cluster_episode_of_a_desa_from_before_lapses_when_quiet(
    session: Session,
) -> None:
    # An episode opened when the rule kept one per desa: new clusters open episodes of their
    # place beside it, and the old one closes as quiet after the rule's 14 days.
    session.execute(
        text(
            """
            INSERT INTO alert (rule_id, rule_kind, severity, status, dedup_key, episode_key,
                               subjects, geom, event_at, first_seen_at, last_seen_at)
            SELECT r.id, r.kind, r.severity, 'new', :key || '@1', :key, '{}'::jsonb,
                   ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :t, :t, :t
            FROM alert_rule r WHERE r.kind = 'incident_cluster'
            """
        ),
        {"key": "incident_cluster:desa=x", "lon": RURAL[0], "lat": RURAL[1], "t": T0 - D},
    )
    ids = cluster_at(session, *RURAL, T0)
    old, new = alerts(session, "incident_cluster")
    assert (old.episode_key, old.occurrences, new.incident_id) == (
        "incident_cluster:desa=x",
        1,
        ids[2],
    )
    assert lapse_quiet(session=session, now=T0 + 14 * D)
    assert [a.status for a in alerts(session, "incident_cluster")] == ["lapsed", "new"]


def test_permit_expiring_windows(session: Session) -> None:
    today = dt.date(2025, 3, 1)
    f40 = add_foreigner(session, name="A", permit_expires_on=today + dt.timedelta(days=40))
    f30 = add_foreigner(session, name="B", permit_expires_on=today + dt.timedelta(days=30))
    f5 = add_foreigner(session, name="C", permit_expires_on=today + dt.timedelta(days=5))
    gone = add_foreigner(session, name="D", permit_expires_on=today - dt.timedelta(days=1))

    def run(day: dt.date) -> dict[str, int]:
        now = dt.datetime.combine(day, dt.time(8), tzinfo=T0.tzinfo)
        return run_batch(session=session, today=day, rules=("permit_expiring",), now=now)

    assert run(today) == {"permit_expiring": 2}
    keys = {a.foreigner_id: a.details["window_days"] for a in alerts(session, "permit_expiring")}
    assert keys == {f30: 30, f5: 7}
    assert f40 not in keys and gone not in keys
    # Daily runs do not repeat.
    assert run(today + dt.timedelta(days=1)) == {"permit_expiring": 0}
    # Day 23: B has 7 days left (its 7-day notice: the same episode), A 17 (its 30-day notice).
    assert run(today + dt.timedelta(days=23)) == {"permit_expiring": 1}
    episodes = sorted(
        (a.foreigner_id, a.details["window_days"], a.occurrences)
        for a in alerts(session, "permit_expiring")
    )
    assert episodes == sorted([(f30, 30, 2), (f5, 7, 1), (f40, 30, 1)])


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
        pytest.param("incident_cluster", {"cell_m": 50}, "parameters.cell_m", id="small-cell"),
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
    assert len(evaluate_for(session=session, layer="sightings", ids=[sid]).opened) == 1
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
    assert evaluate_for(session=session, layer="sightings", ids=[sid]) == Evaluation()
    assert run_batch(session=session, rules=("plb_outside_area",)) == {"plb_outside_area": 0}


def test_batch_reruns_and_batches_after_on_write_add_nothing(session: Session) -> None:
    zid = add_zone(session, *INLAND, 1000, kind="restricted")
    fid = add_foreigner(session)
    where = {"in": offset(session, *INLAND, 500, 0), "out": offset(session, *INLAND, 1500, 0)}
    ids = [
        add_sighting(session, *where[p], T0 + k * H, fid)
        for k, p in enumerate(["in", "out", "in", "in"])
    ]
    evaluate_for(session=session, layer="sightings", ids=ids[:2])
    before = [tuple(a) for a in alerts(session, "sighting_in_zone")]
    assert [(a[4], a[7]) for a in before] == [(ids[0], zid)]
    # A batch since the second sighting adds the later hits to the open episode, once.
    kw: dict[str, Any] = {"rules": ("sighting_in_zone",), "lapse": False}
    assert run_batch(session=session, since=T0 + H, **kw) == {"sighting_in_zone": 0}
    (episode,) = alerts(session, "sighting_in_zone")
    assert (episode.occurrences, episode.last_sighting_id) == (3, ids[3])
    assert run_batch(session=session, **kw) == {"sighting_in_zone": 0}
    assert [tuple(a) for a in alerts(session, "sighting_in_zone")] == [tuple(episode)]


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
    # With its settings (parallel plans allowed, over this transaction's uncommitted rows).
    with pairs_settings(session, PAIRS_SQL):
        tuned = {tuple(r) for r in session.execute(PAIRS_SQL, {"radius_m": radius_m})}
    assert tuned == got
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
