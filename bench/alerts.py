"""Benchmark: batch alert evaluation, the proximity join, and the on-write latency.

Targets (issue 6): batch >= 500,000 sightings/s against 10,000 workplaces + zones + border,
>= 5x a straightforward join left to the planner, exactly the pairs a shapely STRtree
``dwithin`` finds; single sighting write -> alerts committed p99 <= 20 ms. Runs on a throwaway
PostGIS cluster (or TIMPORA_BENCH_DATABASE_URL):

    .venv/bin/python bench/alerts.py [--sightings 1000000] [--workplaces 10000] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from geo.alerts import evaluate_for  # noqa: E402
from geo.alerts.rules import run_batch  # noqa: E402
from geo.cluster import EmbeddedCluster, free_port_from  # noqa: E402
from geo.locate import relocate  # noqa: E402
from geo.migrate import upgrade  # noqa: E402
from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings  # noqa: E402

RADIUS_M = 500.0
SIGHTING_RULES = (
    "sighting_near_border",
    "sighting_in_zone",
    "expired_permit_sighting",
    "plb_outside_area",
    "far_from_sponsor",
)

# Workplaces and sightings inside the regency's extent; sightings cluster around workplaces so
# the proximity join has real work (about a third lie within 2 km of one).
SEED_SQL = [
    "SET LOCAL timpora.defer_locate = 'on'",
    "SELECT setseed(0.6)",
    """
    INSERT INTO workplace (name, sector, geom)
    SELECT 'PT Bench ' || g, 'plantation',
           ST_SetSRID(ST_MakePoint(108.95 + random() * 0.85, 0.95 + random() * 1.05), 4326)
    FROM generate_series(1, :workplaces) g
    """,
    """
    INSERT INTO foreigner (full_name, nationality, permit_type, permit_expires_on,
                           sponsor_workplace_id)
    SELECT 'Bench Person ' || g, 'MYS',
           (ARRAY['KITAS','KITAS','PLB','VOA','KITAP'])[1 + g % 5],
           date '2025-01-01' + (g % 400),
           CASE WHEN g % 5 < 2 THEN 1 + g % :workplaces END
    FROM generate_series(1, :foreigners) g
    """,
    """
    INSERT INTO zone (name, kind, geom)
    SELECT 'Bench zone ' || g, 'watch',
           ST_Multi(ST_Transform(ST_Expand(ST_Transform(
               ST_SetSRID(ST_MakePoint(109.0 + random() * 0.7, 1.0 + random() * 0.9), 4326),
               32649), 1500), 4326))
    FROM generate_series(1, 20) g
    """,
    """
    INSERT INTO sighting (foreigner_id, observed_at, source, geom)
    SELECT CASE WHEN g % 10 < 8 THEN 1 + (g * 7919) % :foreigners END,
           timestamptz '2025-01-01' + (g % 500000) * interval '1 minute', 'patrol',
           CASE WHEN g % 3 = 0 THEN
                ST_Transform(ST_Translate(w.geom_utm, (random() - 0.5) * 4000,
                                          (random() - 0.5) * 4000), 4326)
           ELSE ST_SetSRID(ST_MakePoint(108.95 + random() * 0.85, 0.95 + random() * 1.05), 4326)
           END
    FROM generate_series(1, :sightings) g
    JOIN workplace w ON w.id = 1 + g % :workplaces
    """,
]

# The rule's join shape: each workplace probes the sighting GiST index (small table drives).
PAIRS_DRIVEN_SQL = text(
    """
    SELECT w.id AS workplace_id, s.id AS sighting_id
    FROM workplace w
    CROSS JOIN LATERAL (
        SELECT s.id FROM sighting s WHERE ST_DWithin(s.geom_utm, w.geom_utm, :r)
    ) s
    """
)
# The same question written plainly, left to the planner.
PAIRS_PLAIN_SQL = text(
    """
    SELECT w.id AS workplace_id, s.id AS sighting_id
    FROM sighting s JOIN workplace w ON ST_DWithin(s.geom_utm, w.geom_utm, :r)
    """
)


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=1_000_000)
    parser.add_argument("--workplaces", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=300, help="single writes for p50/p99")
    parser.add_argument("--quick", action="store_true", help="50,000 sightings, for the suite")
    args = parser.parse_args()
    if args.quick:
        args.sightings, args.writes = 50_000, 100
    foreigners = max(args.sightings // 50, 100)

    external = os.environ.get("TIMPORA_BENCH_DATABASE_URL")
    cluster = None
    if external:
        url = external
    else:
        base = Path(tempfile.mkdtemp(prefix="timpora-bench-"))
        base.chmod(0o755)
        cluster = EmbeddedCluster(base, preferred_port=free_port_from(56532), ephemeral=True)
        cluster.init()
        cluster.start()
        url = cluster.url()
    try:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
        upgrade(engine)
        settings = Settings(
            database=DatabaseSettings(database_url=url),
            area=AreaSettings(),
            service=ServiceSettings(environment="test"),
        )
        from geo.boundaries import load_reference_data

        with Session(engine) as session:
            load_reference_data(session=session, settings=settings)
            session.commit()
        t0 = time.perf_counter()
        with Session(engine) as session:
            session.execute(text("TRUNCATE alert, sighting, foreigner, workplace CASCADE"))
            session.execute(text("DELETE FROM zone WHERE name LIKE 'Bench zone %'"))
            params = {
                "workplaces": args.workplaces,
                "sightings": args.sightings,
                "foreigners": foreigners,
            }
            for stmt in SEED_SQL:
                session.execute(text(stmt), params)
            for table in ("workplace", "sighting"):
                relocate(session=session, table=table)
            session.commit()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        print(
            f"seeded {args.sightings:,} sightings, {args.workplaces:,} workplaces, "
            f"{foreigners:,} foreigners in {time.perf_counter() - t0:.1f} s"
        )

        # 1. The proximity join, three ways, same pairs required.
        with engine.connect() as conn:
            t_driven, driven = timed(
                lambda: set(map(tuple, conn.execute(PAIRS_DRIVEN_SQL, {"r": RADIUS_M}))), 2
            )
            conn.execute(text("SET enable_indexscan = on"))
            t_plain, plain = timed(
                lambda: set(map(tuple, conn.execute(PAIRS_PLAIN_SQL, {"r": RADIUS_M}))), 1
            )
            wp = conn.execute(
                text("SELECT id, ST_X(geom_utm), ST_Y(geom_utm) FROM workplace")
            ).all()
            sg = conn.execute(text("SELECT id, ST_X(geom_utm), ST_Y(geom_utm) FROM sighting")).all()
        w_ids = np.array([r[0] for r in wp])
        s_ids = np.array([r[0] for r in sg])
        w_pts = shapely.points(np.array([[r[1], r[2]] for r in wp]))
        s_pts = shapely.points(np.array([[r[1], r[2]] for r in sg]))

        def strtree_pairs() -> set[tuple[int, int]]:
            tree = shapely.STRtree(s_pts)
            wi, si = tree.query(w_pts, predicate="dwithin", distance=RADIUS_M)
            return set(zip(w_ids[wi].tolist(), s_ids[si].tolist(), strict=True))

        t_tree, tree_pairs = timed(strtree_pairs, 2)

        # 2. The sighting rules in batch (the real statements).
        def batch() -> dict[str, int]:
            with Session(engine) as session:
                counts = run_batch(session=session, rules=SIGHTING_RULES)
                session.rollback()  # measure evaluation, keep the table empty for the next run
                return counts

        t_batch, counts = timed(batch, 2)

        # 3. One sighting written and evaluated, committed: the on-write path.
        with engine.connect() as conn:
            fids = [r[0] for r in conn.execute(text("SELECT id FROM foreigner LIMIT 200"))]
        lat: list[float] = []
        rng = np.random.default_rng(1)
        for k in range(args.writes):
            lon, la = 108.95 + rng.random() * 0.85, 0.95 + rng.random() * 1.05
            at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=k)
            t0 = time.perf_counter()
            with Session(engine) as session:
                sid = session.execute(
                    text(
                        "INSERT INTO sighting (foreigner_id, observed_at, source, geom) "
                        "VALUES (:f, :at, 'patrol', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                        "RETURNING id"
                    ),
                    {"f": fids[k % len(fids)], "at": at, "x": lon, "y": la},
                ).scalar_one()
                evaluate_for(session=session, layer="sightings", ids=[sid])
                session.commit()
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]

        same = driven == plain == tree_pairs
        rate = args.sightings / t_batch
        verdict = (lambda ok: "quick") if args.quick else (lambda ok: "met" if ok else "missed")
        print()
        print(f"{'measure':<48}{'value':>16}  target")
        print(
            f"{'pairs within 500 m (driven / plain / STRtree)':<48}"
            f"{len(driven):>16,}  same pairs: {'yes' if same else 'NO'}"
        )
        print(f"{'join driven from workplaces':<48}{t_driven:>15.3f}s")
        print(
            f"{'join left to the planner':<48}{t_plain:>15.3f}s  "
            f"ratio {t_plain / t_driven:.1f}x (>= 5x: {verdict(t_plain / t_driven >= 5)})"
        )
        print(
            f"{'shapely STRtree dwithin (tree + query)':<48}{t_tree:>15.3f}s  "
            f"ratio {t_tree / t_driven:.1f}x"
        )
        print(
            f"{'batch, 5 sighting rules':<48}{t_batch:>15.3f}s  "
            f"{rate:,.0f} sightings/s (>= 500,000: {verdict(rate >= 500_000)})"
        )
        print(f"{'  alerts per rule':<48}{sum(counts.values()):>16,}  {counts}")
        print(f"{'single write -> alerts committed p50':<48}{p50:>14.2f}ms")
        print(
            f"{'single write -> alerts committed p99':<48}{p99:>14.2f}ms  "
            f"(<= 20 ms: {verdict(p99 <= 20)})"
        )
        if not same:
            sys.exit("pair sets differ")
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    main()
