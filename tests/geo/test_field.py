"""The field: OsmAnd decoding, devices, position ingest, tracks with gaps, covered area."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ConflictError, ValidationError
from geo.field import devices, tracks
from geo.field.osmand import KNOT_MPS, Position, decode_json, decode_query

NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)
ARUK = (109.6467, 1.4133)
MARGIN_M = 10_000.0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {
                "id": "hp-1",
                "lat": "1.4133",
                "lon": "109.6467",
                "timestamp": "1773111600",
                "speed": "10",
                "bearing": "90.5",
                "altitude": "35",
                "accuracy": "8",
                "batt": "76",
            },
            {
                "identifier": "hp-1",
                "lat": 1.4133,
                "lon": 109.6467,
                "accuracy_m": 8.0,
                "speed_mps": 10 * KNOT_MPS,
                "heading_deg": 90.5,
                "altitude_m": 35.0,
                "battery_pct": 76.0,
                "recorded_at": dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC),
            },
            id="epoch-seconds",
        ),
        pytest.param(
            {"deviceid": "hp-2", "location": "1.5,109.4", "timestamp": "1773111600000"},
            {
                "identifier": "hp-2",
                "lat": 1.5,
                "lon": 109.4,
                "recorded_at": dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC),
            },
            id="deviceid-location-millis",
        ),
        pytest.param(
            {
                "id": "hp-3",
                "lat": "1.5",
                "lon": "109.4",
                "timestamp": "2026-03-10 02:00:00",
                "speed": "-1",
                "accuracy": "-1",
            },
            {
                "recorded_at": dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC),
                "speed_mps": None,
                "accuracy_m": None,
            },
            id="datetime-text-unknown-measures",
        ),
        pytest.param(
            {"id": "hp-4"}, {"lat": None, "lon": None, "recorded_at": NOW}, id="no-fix-no-time"
        ),
    ],
)
def test_decode_query(params: dict[str, str], expected: dict[str, object]) -> None:
    position = decode_query(params, now=NOW)
    for key, value in expected.items():
        got = getattr(position, key)
        if isinstance(value, float):
            assert got == pytest.approx(value), key
        else:
            assert got == value, key


def test_decode_json_as_current_traccar_client_sends_it() -> None:
    body = {
        "location": {
            "timestamp": "2026-03-10T02:59:58.123Z",
            "coords": {
                "latitude": 1.4133,
                "longitude": 109.6467,
                "accuracy": 4.8,
                "speed": 1.5,
                "heading": -1,
                "altitude": 40.2,
            },
            "is_moving": True,
            "event": "motionchange",
            "odometer": 1234,
            "activity": {"type": "on_foot"},
            "battery": {"level": 0.42, "is_charging": False},
            "extras": {},
        },
        "device_id": "hp-json",
    }
    position = decode_json(body, now=NOW)
    assert position.identifier == "hp-json"
    assert (position.lon, position.lat) == (109.6467, 1.4133)
    assert position.speed_mps == 1.5
    assert position.heading_deg is None  # -1: unknown
    assert position.battery_pct == 42.0
    assert position.is_moving is True
    assert position.recorded_at == dt.datetime(2026, 3, 10, 2, 59, 58, 123000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"lat": "1.4", "lon": "109.6"}, "id", id="no-id"),
        pytest.param({"id": "x" * 65, "lat": "1", "lon": "109"}, "id", id="long-id"),
        pytest.param({"id": "a", "lat": "91", "lon": "109"}, "lat", id="lat-range"),
        pytest.param({"id": "a", "lat": "nan", "lon": "109"}, "lat", id="lat-nan"),
        pytest.param({"id": "a", "lat": "1"}, "lon", id="lat-without-lon"),
        pytest.param(
            {"id": "a", "lat": "1", "lon": "109", "timestamp": "soon"}, "timestamp", id="bad-time"
        ),
        pytest.param(
            {"id": "a", "lat": "1", "lon": "109", "timestamp": "1999999999"},
            "timestamp",
            id="future",
        ),
        pytest.param(
            {"id": "a", "lat": "1", "lon": "109", "batt": "150"}, "batt", id="battery-range"
        ),
    ],
)
def test_decode_query_refuses_malformed(params: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        decode_query(params, now=NOW)
    assert info.value.field == field


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="not-object"),
        pytest.param({"location": {}}, id="no-device"),
        pytest.param({"device_id": "a", "location": "x"}, id="location-not-object"),
        pytest.param({"device_id": "a", "location": {"coords": {"latitude": 1}}}, id="no-lon"),
    ],
)
def test_decode_json_refuses_malformed(body: object) -> None:
    with pytest.raises(ValidationError):
        decode_json(body, now=NOW)


def _at(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


def _walk(
    identifier: str,
    start_min: float,
    n: int,
    *,
    step_min: float = 1.0,
    lon0: float = ARUK[0],
    dlon: float = 0.001,
    accuracy: float = 5.0,
) -> list[Position]:
    return [
        Position(
            identifier, _at(start_min + i * step_min), lon0 + i * dlon, ARUK[1], accuracy_m=accuracy
        )
        for i in range(n)
    ]


def test_devices_register_conflict_revoke_rotate(session: Session) -> None:
    device, token = devices.register_device(
        session=session, name="HP A1", team="Tim A", kind="traccar", identifier="hp-a1"
    )
    assert token is None and device.team == "Tim A" and device.active
    form_device, form_token = devices.register_device(
        session=session, name="Form A", team="Tim A", kind="form"
    )
    assert form_token and devices.device_for_token(session=session, token=form_token) == form_device
    with pytest.raises(ConflictError):
        devices.register_device(
            session=session, name="HP A2", team="Tim A", kind="traccar", identifier="hp-a1"
        )
    with pytest.raises(ValidationError):
        devices.register_device(session=session, name="HP A3", team="Tim A", kind="traccar")
    new_token = devices.rotate_device_token(session=session, name="Form A")
    assert devices.device_for_token(session=session, token=form_token) is None
    assert devices.device_for_token(session=session, token=new_token) is not None
    devices.revoke_device(session=session, name="Form A")
    assert devices.device_for_token(session=session, token=new_token) is None


def test_ingest_stores_once_refuses_unknown_and_counts(session: Session) -> None:
    devices.register_device(
        session=session, name="HP A1", team="Tim A", kind="traccar", identifier="hp-a1"
    )
    devices.register_device(
        session=session, name="HP old", team="Tim A", kind="traccar", identifier="hp-old"
    )
    devices.revoke_device(session=session, name="HP old")
    batch = [
        *_walk("hp-a1", 0, 3),
        Position("hp-unknown", _at(0), *ARUK),
        Position("hp-unknown", _at(1), *ARUK),
        Position("hp-old", _at(0), *ARUK),
        Position("hp-a1", _at(10), None, None),
        Position("hp-a1", _at(11), 104.0, 1.3),  # Singapore: far outside the regency
    ]
    result = tracks.record_positions(session=session, positions=batch, margin_m=MARGIN_M)
    assert result.stored == 3
    assert result.without_fix == 1
    assert result.refused == {"unknown_device": 2, "revoked_device": 1, "out_of_area": 1}
    assert result.outcomes[:4] == ["stored", "stored", "stored", "unknown_device"]
    # The phone resends its buffer after a gap: nothing is written twice.
    again = tracks.record_positions(
        session=session, positions=_walk("hp-a1", 0, 3), margin_m=MARGIN_M
    )
    assert (again.stored, again.duplicates) == (0, 3)
    stored = session.execute(text("SELECT count(*) FROM track_position")).scalar_one()
    assert stored == 3
    refused = {r["identifier"]: r for r in tracks.refusals(session=session)}
    assert refused["hp-unknown"]["attempts"] == 2
    assert refused["hp-old"]["reason"] == "revoked_device"
    # Refused positions are never stored, under any device.
    assert (
        session.execute(
            text("SELECT count(*) FROM track_position WHERE ST_X(geom) < 105")
        ).scalar_one()
        == 0
    )


def test_track_parts_break_at_silences_and_drop_inaccurate_points(session: Session) -> None:
    devices.register_device(
        session=session, name="HP B1", team="Tim B", kind="traccar", identifier="hp-b1"
    )
    positions = [
        *_walk("hp-b1", 0, 5),  # 0..4 min
        Position("hp-b1", _at(5), ARUK[0] + 0.2, ARUK[1], accuracy_m=900.0),  # a wild jump
        *_walk("hp-b1", 30, 4, lon0=ARUK[0] + 0.01),  # after a 26-minute silence
    ]
    tracks.record_positions(session=session, positions=positions, margin_m=MARGIN_M)
    collection = tracks.team_tracks(
        session=session, start=_at(-1), end=_at(60), gap_s=600, max_accuracy_m=100
    )
    (track,) = collection["features"]
    assert track["properties"]["team"] == "Tim B"
    assert track["properties"]["parts"] == 2
    assert track["properties"]["positions"] == 9
    assert track["geometry"]["type"] == "MultiLineString"
    assert max(c[0] for part in track["geometry"]["coordinates"] for c in part) < ARUK[0] + 0.02
    # ~4 x 111 m + 3 x 111 m along the equator-ish parallel
    assert 600 < track["properties"]["length_m"] < 900
    # A longer allowed silence joins the two parts.
    joined = tracks.team_tracks(
        session=session, start=_at(-1), end=_at(60), gap_s=3600, max_accuracy_m=100
    )
    assert joined["features"][0]["properties"]["parts"] == 1


def test_coverage_is_the_buffer_of_where_teams_went(session: Session) -> None:
    devices.register_device(
        session=session, name="HP C1", team="Tim C", kind="traccar", identifier="hp-c1"
    )
    tracks.record_positions(
        session=session, positions=_walk("hp-c1", 0, 11, dlon=0.001), margin_m=MARGIN_M
    )
    sql = f"""
        SELECT ST_Area(c) AS area,
               ST_Covers(c, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649)) AS on,
               ST_Covers(c, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :far), 4326), 32649)) AS off
        FROM {tracks.coverage_sql()} AS cov(c)
    """
    row = session.execute(
        text(sql),
        {
            "track_start": _at(-1),
            "track_end": _at(60),
            "gap_s": 600,
            "max_accuracy_m": 100,
            "watch_radius_m": 500,
            "lon": ARUK[0] + 0.005,
            "lat": ARUK[1] + 0.004,
            "far": ARUK[1] + 0.006,
        },
    ).one()
    assert row.on and not row.off  # 445 m from the line is covered, 667 m is not
    # a 1.1 km line buffered by 500 m: ~1.1 km x 1 km + a 500 m disc
    assert 1.7e6 < row.area < 2.0e6


def test_a_track_through_a_hotspot_is_what_the_planner_counts_as_patrolled(
    session: Session,
) -> None:
    import numpy as np

    from geo.patrol import plan_patrol
    from tests.geo.hotspot_synth import (
        CLUSTER_CENTRES,
        SHARED_DATA,
        centre_utm,
        insert_incidents,
        planted,
    )

    insert_incidents(session, planted(seed=2, per_cluster=25, background=100))
    insert_incidents(
        session, planted(seed=3, per_cluster=60, background=0, centres=[CLUSTER_CENTRES[2]])
    )
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    common = {"session": session, "k": 1, "radius_m": 2500.0, "reference_data_dir": SHARED_DATA}
    x, y = centre_utm(*CLUSTER_CENTRES[2])
    before = plan_patrol(**common, avoid_recent_days=7, recent_factor=0.1, now=now)
    assert np.hypot(before.points[0].x_utm - x, before.points[0].y_utm - y) <= 2500
    assert before.recently_patrolled_cells == 0

    # Yesterday a team walked through the hot spot: 40 minutes, a fix a minute, ~110 m apart.
    devices.register_device(
        session=session, name="HP D1", team="Tim D", kind="traccar", identifier="hp-d1"
    )
    lon, lat = CLUSTER_CENTRES[2]
    walk = [
        Position(
            "hp-d1",
            now - dt.timedelta(days=1, minutes=40 - i),
            lon - 0.02 + i * 0.001,
            lat,
            accuracy_m=6.0,
        )
        for i in range(40)
    ]
    tracks.record_positions(session=session, positions=walk, margin_m=MARGIN_M)
    after = plan_patrol(**common, avoid_recent_days=7, recent_factor=0.1, now=now)
    assert after.recently_patrolled_cells > 0
    assert np.hypot(after.points[0].x_utm - x, after.points[0].y_utm - y) > 5000
    # A walk two weeks ago is not recent.
    stale = plan_patrol(**common, avoid_recent_days=1, recent_factor=0.1, now=now)
    assert np.hypot(stale.points[0].x_utm - x, stale.points[0].y_utm - y) <= 2500


def test_track_partitions_are_made_ahead_and_old_positions_move_in(session: Session) -> None:
    devices.register_device(
        session=session, name="HP E1", team="Tim E", kind="traccar", identifier="hp-e1"
    )
    old = dt.datetime(2024, 5, 3, 8, 0, tzinfo=dt.UTC)  # a month nobody made a partition for
    tracks.record_positions(
        session=session, positions=[Position("hp-e1", old, *ARUK)], margin_m=MARGIN_M
    )
    assert session.execute(text("SELECT count(*) FROM track_position_default")).scalar_one() == 1
    made = session.execute(
        text("SELECT timpora_ensure_track_partitions('2024-05-01', '2024-05-01')")
    ).scalar_one()
    assert made == 1
    assert session.execute(text("SELECT count(*) FROM track_position_y2024m05")).scalar_one() == 1
    assert tracks.ensure_track_partitions(session=session, today=dt.date(2030, 1, 15)) >= 12
