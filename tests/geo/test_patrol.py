"""Patrol planning: greedy coverage vs brute force, routes, plans on planted clusters, the log."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import NotFoundError, ValidationError
from geo.patrol import (
    DEFAULT_RADIUS_M,
    SAMBAS_TOWN,
    coverage_matrix,
    default_start,
    get_patrol,
    greedy_max_coverage,
    list_patrols,
    log_patrol,
    order_route,
    plan_patrol,
    plan_to_feature_collection,
    route_length,
    to_utm,
)
from geo.settings import AreaSettings
from geo.users import Principal
from tests.geo.hotspot_synth import (
    CLUSTER_CENTRES,
    SHARED_DATA,
    centre_utm,
    insert_incidents,
    planted,
)

NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)

# --- greedy maximum coverage -----------------------------------------------------------------


def brute_force_best(cover: np.ndarray, weights: np.ndarray, k: int) -> float:
    best = 0.0
    for combo in itertools.combinations(range(cover.shape[0]), k):
        best = max(best, float(weights[cover[list(combo)].any(axis=0)].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_greedy_reaches_the_one_minus_one_over_e_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    targets = rng.uniform(0, 10_000, (40, 2))
    candidates = rng.uniform(0, 10_000, (12, 2))
    weights = rng.exponential(1.0, 40)
    k, radius = 3, 2500.0
    result = greedy_max_coverage(candidates, targets, weights, k=k, radius_m=radius)
    cover = coverage_matrix(candidates, targets, radius).toarray() > 0
    got = float(weights[result.covered].sum())
    assert got == pytest.approx(sum(result.gains))
    assert got >= (1 - 1 / np.e) * brute_force_best(cover, weights, k) - 1e-9


def test_greedy_stops_when_nothing_is_left_to_cover() -> None:
    targets = np.array([[0.0, 0.0], [100.0, 0.0]])
    result = greedy_max_coverage(targets, targets, np.array([1.0, 2.0]), k=5, radius_m=500)
    assert len(result.chosen) == 1 and result.covered.all()


def test_coverage_matrix_uses_the_radius() -> None:
    c = coverage_matrix(np.array([[0.0, 0.0]]), np.array([[999.0, 0.0], [1001.0, 0.0]]), 1000)
    assert c.toarray().tolist() == [[1.0, 0.0]]


# --- routes ----------------------------------------------------------------------------------


def test_two_opt_finds_the_convex_tour() -> None:
    # Points on a circle in scrambled order: the shortest closed tour is the polygon.
    angles = np.random.default_rng(4).permutation(np.linspace(0, 2 * np.pi, 12, endpoint=False))
    pts = np.column_stack([5000 * np.cos(angles), 5000 * np.sin(angles)])
    start = (5000.0, 0.0)
    order = order_route(start, pts, return_to_start=True)
    path = np.vstack([start, pts[order], start])
    perimeter = 12 * 2 * 5000 * np.sin(np.pi / 12)
    assert sorted(order) == list(range(12))
    assert route_length(path) == pytest.approx(perimeter, rel=1e-6)


def test_route_is_never_longer_than_nearest_neighbour() -> None:
    rng = np.random.default_rng(8)
    for _ in range(5):
        pts = rng.uniform(0, 50_000, (9, 2))
        order = order_route((0.0, 0.0), pts, return_to_start=False)
        # plain nearest neighbour
        left, here, nn = set(range(9)), np.zeros(2), []
        while left:
            nxt = min(left, key=lambda v: np.hypot(*(pts[v] - here)))
            nn.append(nxt)
            left.remove(nxt)
            here = pts[nxt]
        ours = route_length(np.vstack([[0, 0], pts[order]]))
        assert ours <= route_length(np.vstack([[0, 0], pts[nn]])) + 1e-6


def test_default_start_is_the_office_else_sambas_town() -> None:
    assert default_start(AreaSettings()) == SAMBAS_TOWN or AreaSettings().office_lon is not None
    assert default_start(AreaSettings(office_lon=109.3, office_lat=1.35)) == (109.3, 1.35)
    assert default_start(None) == SAMBAS_TOWN


# --- plans on planted clusters ---------------------------------------------------------------


def test_plan_with_k_clusters_covers_all_planted_clusters(session: Session) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=150))
    plan = plan_patrol(
        session=session,
        k=len(CLUSTER_CENTRES),
        radius_m=2500.0,
        cell_m=1000.0,
        avoid_recent_days=None,
        reference_data_dir=SHARED_DATA,
    )
    assert len(plan.points) == len(CLUSTER_CENTRES)
    points = np.array([(p.x_utm, p.y_utm) for p in plan.points])
    for centre in CLUSTER_CENTRES:
        x, y = centre_utm(*centre)
        assert np.hypot(points[:, 0] - x, points[:, 1] - y).min() <= 2500.0
    assert plan.covered_share >= 0.9
    assert plan.route[0] == pytest.approx(SAMBAS_TOWN)
    assert plan.route[-1] == pytest.approx(SAMBAS_TOWN)
    # The reported length is the route's own length, in km, measured in UTM.
    xy = np.array([to_utm(*c) for c in plan.route])
    assert plan.length_km == pytest.approx(route_length(xy) / 1000, rel=1e-6)
    fc = plan_to_feature_collection(plan)
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("patrol_point") == len(CLUSTER_CENTRES) and kinds[-1] == "route"
    assert fc["features"][-1]["geometry"]["type"] == "LineString"


def test_fewer_points_cover_the_largest_clusters_first(session: Session) -> None:
    data = planted(seed=2, per_cluster=25, background=100)
    big = planted(seed=3, per_cluster=60, background=0, centres=[CLUSTER_CENTRES[2]])
    insert_incidents(session, data)
    insert_incidents(session, big)
    plan = plan_patrol(
        session=session,
        k=1,
        radius_m=2500.0,
        avoid_recent_days=None,
        reference_data_dir=SHARED_DATA,
    )
    x, y = centre_utm(*CLUSTER_CENTRES[2])
    assert np.hypot(plan.points[0].x_utm - x, plan.points[0].y_utm - y) <= 2500
    assert 0 < plan.covered_share < 1


def test_recently_patrolled_cluster_is_avoided(session: Session) -> None:
    data = planted(seed=2, per_cluster=25, background=100)
    big = planted(seed=3, per_cluster=60, background=0, centres=[CLUSTER_CENTRES[2]])
    insert_incidents(session, data)
    insert_incidents(session, big)
    lon, lat = CLUSTER_CENTRES[2]
    log_patrol(
        session=session, lon=lon, lat=lat, patrolled_at=NOW - dt.timedelta(days=2), radius_m=3000
    )
    common = {"session": session, "k": 1, "radius_m": 2500.0, "reference_data_dir": SHARED_DATA}
    avoiding = plan_patrol(**common, avoid_recent_days=7, recent_factor=0.1, now=NOW)
    x, y = centre_utm(*CLUSTER_CENTRES[2])
    assert np.hypot(avoiding.points[0].x_utm - x, avoiding.points[0].y_utm - y) > 5000
    assert avoiding.recently_patrolled_cells > 0
    ignoring = plan_patrol(**common, avoid_recent_days=7, recent_factor=1.0, now=NOW)
    assert np.hypot(ignoring.points[0].x_utm - x, ignoring.points[0].y_utm - y) <= 2500
    long_ago = plan_patrol(**common, avoid_recent_days=1, recent_factor=0.1, now=NOW)
    assert np.hypot(long_ago.points[0].x_utm - x, long_ago.points[0].y_utm - y) <= 2500


def test_a_patrol_logged_at_stop_1_discounts_exactly_what_stop_1_covered(
    session: Session,
) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=150))
    common = {"session": session, "reference_data_dir": SHARED_DATA, "now": NOW}
    (stop,) = plan_patrol(**common, k=1).points
    assert stop.demand == stop.covered_weight and stop.recently_patrolled_cells == 0
    # Logged with the defaults, as the CLI and the API log it: the plan's own reach.
    entry = log_patrol(
        session=session, lon=stop.lon, lat=stop.lat, patrolled_at=NOW - dt.timedelta(hours=3)
    )
    assert entry.radius_m == DEFAULT_RADIUS_M
    after = plan_patrol(**common, k=1)
    assert after.recently_patrolled_cells == len(stop.cells_covered)
    moved = np.hypot(after.points[0].x_utm - stop.x_utm, after.points[0].y_utm - stop.y_utm)
    assert moved > 4 * DEFAULT_RADIUS_M  # its area weighs half now: another cluster comes first
    full = plan_patrol(**common, k=len(CLUSTER_CENTRES))
    there = min(full.points, key=lambda p: np.hypot(p.x_utm - stop.x_utm, p.y_utm - stop.y_utm))
    assert there.recently_patrolled_cells > 0
    assert there.demand < there.covered_weight
    assert full.covered_demand < full.covered_weight
    fc = plan_to_feature_collection(full)
    assert fc["covered_demand"] == full.covered_demand
    props = [f["properties"] for f in fc["features"] if f["properties"]["kind"] == "patrol_point"]
    assert 0 < sum(p["recently_patrolled_cells"] for p in props) <= full.recently_patrolled_cells


def test_plan_without_hot_spots_is_empty_not_an_error(session: Session) -> None:
    plan = plan_patrol(session=session, k=3, avoid_recent_days=None, reference_data_dir=SHARED_DATA)
    assert plan.points == [] and plan.covered_share == 0.0 and plan.length_km == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"k": 0}, "k", id="k-zero"),
        pytest.param({"k": 500}, "k", id="k-too-many"),
        pytest.param({"radius_m": 1.0}, "radius_m", id="radius-too-small"),
        pytest.param({"start_point": (1.36, 109.31)}, "start_point", id="swapped-lon-lat"),
        pytest.param({"start_point": (float("nan"), 1.0)}, "start_point", id="nan"),
        pytest.param({"weight_mode": "loud"}, "weight_mode", id="weight-mode"),
        pytest.param({"min_confidence": 4}, "min_confidence", id="min-confidence"),
        pytest.param({"recent_factor": 2.0}, "recent_factor", id="recent-factor"),
        pytest.param({"cell_m": 1.0}, "cell_m", id="cell"),
    ],
)
def test_bad_plan_parameters(session: Session, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        plan_patrol(session=session, reference_data_dir=SHARED_DATA, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# --- the patrol log --------------------------------------------------------------------------


def test_patrol_log_round_trip_and_audit(session: Session) -> None:
    who = Principal(name="planner-1", role="planner")
    entry = log_patrol(
        session=session,
        lon=109.31,
        lat=1.36,
        patrolled_at=dt.datetime(2026, 3, 1, 8, 0),  # naive = WIB
        team="Tim A",
        principal=who,
    )
    assert entry.patrolled_at == dt.datetime(2026, 3, 1, 1, 0, tzinfo=dt.UTC)
    assert entry.created_by == "planner-1"
    utm = session.execute(
        text("SELECT ST_X(geom_utm), ST_Y(geom_utm) FROM patrol_log WHERE id = :id"),
        {"id": entry.id},
    ).one()
    assert utm == pytest.approx(to_utm(109.31, 1.36), abs=0.01)
    rows = list_patrols(session=session, start=dt.datetime(2026, 2, 1))
    assert [r[0].id for r in rows] == [entry.id]
    assert list_patrols(session=session, end=dt.datetime(2026, 2, 1)) == []
    assert get_patrol(session=session, patrol_id=entry.id)[1:] == pytest.approx((109.31, 1.36))
    audit = session.execute(
        text("SELECT user_name, action FROM audit_log WHERE resource = :r"),
        {"r": f"patrol_log/{entry.id}"},
    ).all()
    assert audit == [("planner-1", "create")]
    with pytest.raises(NotFoundError):
        get_patrol(session=session, patrol_id=entry.id + 1000)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"lon": 200.0}, "geometry", id="lon-out-of-range"),
        pytest.param({"radius_m": -5.0}, "radius_m", id="negative-radius"),
        pytest.param(
            {"ended_at": dt.datetime(2026, 2, 1, tzinfo=dt.UTC)}, "ended_at", id="ends-before"
        ),
    ],
)
def test_bad_patrol_log_entries(session: Session, kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "lon": 109.31,
        "lat": 1.36,
        "patrolled_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    }
    values.update(kwargs)
    with pytest.raises(ValidationError) as info:
        log_patrol(session=session, **values)  # type: ignore[arg-type]
    assert info.value.field == field
