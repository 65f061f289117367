"""What hand-built tracks say: a day's replay, planned stops visited or missed, each team's
coverage of cells, and the retention of positions and photos."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.field import devices, patrolled, tracks
from geo.field.osmand import Position
from geo.patrol import to_utm
from geo.retention import purge_field

# 10:00 WIB on 10 March 2026
NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)
ARUK = (109.6467, 1.4133)
MARGIN_M = 10_000.0
GAP_S = 600.0
ACCURACY_M = 100.0
DAY = dt.date(2026, 3, 10)


def _at(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


def _walk(identifier: str, start_min: float, n: int, *, lon0: float = ARUK[0]) -> list[Position]:
    """One position a minute, 0.001° (~111 m) further east each time, along ARUK's latitude."""
    return [
        Position(identifier, _at(start_min + i), lon0 + i * 0.001, ARUK[1], accuracy_m=5.0)
        for i in range(n)
    ]


@pytest.fixture
def walked(session: Session) -> None:
    """Tim C walks 1.1 km east in 10 min, is silent 20 min, then walks 3 more minutes; Tim D
    stands still elsewhere; Tim C's phone also reported the day before."""
    devices.register_device(
        session=session, name="HP C1", team="Tim C", kind="traccar", identifier="hp-c1"
    )
    devices.register_device(
        session=session, name="HP D1", team="Tim D", kind="traccar", identifier="hp-d1"
    )
    positions = [
        *_walk("hp-c1", 0, 11),
        *_walk("hp-c1", 30, 4, lon0=ARUK[0] + 0.02),
        *_walk("hp-c1", -24 * 60, 3),  # yesterday
        Position("hp-d1", _at(0), ARUK[0] - 0.05, ARUK[1] + 0.05, accuracy_m=5.0),
        Position("hp-d1", _at(5), ARUK[0] - 0.05, ARUK[1] + 0.05, accuracy_m=5.0),
    ]
    result = tracks.record_positions(session=session, positions=positions, margin_m=MARGIN_M)
    assert result.stored == len(positions)


def test_replay_is_one_wib_day_with_a_time_per_position(session: Session, walked: None) -> None:
    replay = patrolled.replay_day(
        session=session, day=DAY, step_s=60, gap_s=GAP_S, max_accuracy_m=ACCURACY_M
    )
    assert replay["day"] == "2026-03-10" and not replay["truncated"]
    # 00:00 WIB is 17:00 UTC the day before.
    assert replay["start"] == int(dt.datetime(2026, 3, 9, 17, tzinfo=dt.UTC).timestamp())
    assert replay["end"] - replay["start"] == 86_400
    by_team = {f["properties"]["team"]: f for f in replay["features"]}
    assert set(by_team) == {"Tim C", "Tim D"}
    c = by_team["Tim C"]
    assert [len(part) for part in c["geometry"]["coordinates"]] == [11, 4]  # broken at the gap
    times = c["properties"]["times"]
    assert times[0][0] == int(NOW.timestamp()) and times[1][-1] == int(_at(33).timestamp())
    assert all(a < b for part in times for a, b in itertools.pairwise(part))
    assert [len(t) for t in times] == [len(p) for p in c["geometry"]["coordinates"]]
    # Yesterday's positions are not in today's replay.
    assert min(t for part in times for t in part) >= replay["start"]
    # One position per step: at 120 s, every other minute of the 11-minute walk.
    thinned = patrolled.replay_day(
        session=session,
        day="2026-03-10",
        team="Tim C",
        step_s=120,
        gap_s=GAP_S,
        max_accuracy_m=ACCURACY_M,
    )
    (only,) = thinned["features"]
    assert [len(part) for part in only["geometry"]["coordinates"]] == [6, 2]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"day": "2026-02-30"}, "day", id="not-a-date"),
        pytest.param({"day": "2026-03-10/2026-03-20"}, "day", id="a-range-is-not-a-day"),
        pytest.param({"day": "2026-03-10", "step_s": 1}, "step_s", id="step-too-fine"),
        pytest.param({"day": "2026-03-10", "step_s": 3600}, "step_s", id="step-too-coarse"),
    ],
)
def test_replay_refuses_what_it_cannot_bound(
    session: Session, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        patrolled.replay_day(session=session, gap_s=GAP_S, max_accuracy_m=ACCURACY_M, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_planned_stops_visited_or_missed_on_a_hand_built_track(
    session: Session, walked: None
) -> None:
    stops = [
        # 222 m north of the walk's middle, radius 300 m: positions 4..6 are within it.
        patrolled.Stop(ARUK[0] + 0.005, ARUK[1] + 0.002, 300.0, "on the way"),
        # 667 m north, radius 500 m: nobody came that close.
        patrolled.Stop(ARUK[0] + 0.005, ARUK[1] + 0.006, 500.0, "too far"),
        # 44 m from the line between two positions (each 71 m away), radius 50 m: walking past
        # counts although no position fell inside.
        patrolled.Stop(ARUK[0] + 0.0055, ARUK[1] + 0.0004, 50.0, "between fixes"),
    ]
    start, end = patrolled.day_window(DAY)
    on_way, too_far, between = patrolled.stop_visits(
        session=session, stops=stops, start=start, end=end, gap_s=GAP_S, max_accuracy_m=ACCURACY_M
    )
    assert on_way.visited and on_way.teams == ("Tim C",)
    assert on_way.first_at == _at(4)
    assert on_way.closest_m == pytest.approx(222, abs=5)
    assert not too_far.visited and too_far.teams == () and too_far.first_at is None
    assert too_far.closest_m == pytest.approx(667, abs=8)
    assert between.visited and between.first_at is None
    # The day before: only yesterday's 3-position walk, which never reached the middle stop.
    yesterday = patrolled.stop_visits(
        session=session,
        stops=stops[:1],
        start=start - dt.timedelta(days=1),
        end=start,
        gap_s=GAP_S,
        max_accuracy_m=ACCURACY_M,
    )
    assert not yesterday[0].visited
    # No track at all: missed, with no distance to report.
    (empty,) = patrolled.stop_visits(
        session=session,
        stops=stops[:1],
        start=start + dt.timedelta(days=5),
        end=end + dt.timedelta(days=5),
        gap_s=GAP_S,
        max_accuracy_m=ACCURACY_M,
    )
    assert not empty.visited and empty.closest_m is None


def test_team_coverage_figures_on_a_hand_built_track(session: Session, walked: None) -> None:
    on_line = to_utm(ARUK[0] + 0.005, ARUK[1] + 0.003)  # 334 m from the walk
    far = to_utm(ARUK[0] + 0.005, ARUK[1] + 0.006)  # 667 m
    second_part = to_utm(ARUK[0] + 0.021, ARUK[1])  # on the walk after the silence
    standing = to_utm(ARUK[0] - 0.05, ARUK[1] + 0.05)  # where Tim D stood
    start, end = patrolled.day_window(DAY)
    teams = patrolled.team_coverage(
        session=session,
        start=start,
        end=end,
        cells_xy=[on_line, far, second_part, standing],
        radius_m=500.0,
        gap_s=GAP_S,
        max_accuracy_m=ACCURACY_M,
    )
    c, d = teams
    assert (c.team, d.team) == ("Tim C", "Tim D")
    # 10 + 3 steps of ~111.3 m; 10 + 3 minutes tracked (the 20-minute silence is not)
    assert c.km == pytest.approx(13 * 0.1113, rel=0.01)
    assert c.hours == pytest.approx(13 / 60)
    assert c.positions == 15
    assert c.cells == {0, 2}
    assert (d.km, d.hours, d.positions, d.cells) == (0.0, pytest.approx(5 / 60), 2, {3})


def test_purge_removes_old_positions_and_photos_only(session: Session, walked: None) -> None:
    purge_now = NOW + dt.timedelta(days=100)
    incident_id = session.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES "
            "('overstay', 2, :t, ST_SetSRID(ST_MakePoint(109.31, 1.36), 4326)) RETURNING id"
        ),
        {"t": NOW},
    ).scalar_one()
    for days_ago, record_id in ((200, incident_id), (5, incident_id), (5, 987_654_321)):
        session.execute(
            text(
                "INSERT INTO field_photo (layer, record_id, image, width, height, created_at) "
                "VALUES ('incidents', :r, '\\xffd8'::bytea, 1, 1, :t)"
            ),
            {"r": record_id, "t": purge_now - dt.timedelta(days=days_ago)},
        )
    # Yesterday's walk is 101 days old at the purge, today's 100: a 100-day retention keeps today.
    keep = {"track_retention_days": 100, "photo_retention_days": 30}
    before = session.execute(text("SELECT count(*) FROM track_position")).scalar_one()
    dry = purge_field(session=session, dry_run=True, now=purge_now, **keep)
    assert (dry.positions, dry.photos) == (3, 2)  # the old photo, and the one of no record
    assert session.execute(text("SELECT count(*) FROM track_position")).scalar_one() == before
    done = purge_field(session=session, now=purge_now, **keep)
    assert (done.positions, done.photos) == (3, 2)
    left = session.execute(text("SELECT min(recorded_at), count(*) FROM track_position")).one()
    assert left[0] >= purge_now - dt.timedelta(days=100) and left[1] == before - 3
    photos = session.execute(text("SELECT record_id, created_at FROM field_photo")).all()
    assert photos == [(incident_id, purge_now - dt.timedelta(days=5))]
    audit = session.execute(
        text("SELECT action, record_count FROM audit_log WHERE resource = 'field' ORDER BY id")
    ).all()
    assert audit == [("purge_dry_run", 5), ("purge", 5)]
    with pytest.raises(ValidationError):
        purge_field(session=session, track_retention_days=0, photo_retention_days=30)
