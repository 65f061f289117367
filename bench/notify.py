"""Benchmark: what notifications cost the write path, and what one digest costs.

The trigger that queues immediate messages runs in every alert-writing transaction. This
measures single sighting writes of recent events (insert, evaluate, commit: p50/p99) with
``--subscriptions`` subscriptions that want every new alert, with that trigger switched off
and on in turns (ABAB..., the same data and connection pool), the batch evaluation (``timpora
alerts run``)
with the trigger off and on, and the time to render every subscription's digest over the
alerts one batch raises (a dry run: nothing is sent; every batch is rolled back). It reuses
the data set and cluster of ``bench/alerts.py``.

    .venv/bin/python bench/notify.py --quick     # 50,000 sightings
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.alerts import open_database, seed  # noqa: E402
from bench.common import Row, machine, report, upgrade_reused  # noqa: E402
from geo.alerts import evaluate_for, run_batch  # noqa: E402
from geo.notify.outbox import enqueue_digests  # noqa: E402
from geo.partitions import ensure_range  # noqa: E402

TRIGGER = "trg_notify_alerts_inserted"
LINK = "https://timpora.example.go.id/#alerts"
INSERT_SIGHTING = text(
    "INSERT INTO sighting (foreigner_id, observed_at, source, geom) "
    "VALUES (:f, :at, 'patrol', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
)


def recent_writes(engine: Engine, writes: int) -> tuple[float, float, int]:
    """Sightings of the last hours (so new episodes are news and get messages), one per
    transaction: insert, evaluate, commit. (p50, p99) in ms and the messages queued."""
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        ensure_range(session=session, start=now - dt.timedelta(days=1), end=now)
        fids = [r[0] for r in session.execute(text("SELECT id FROM foreigner ORDER BY id"))]
        before = session.execute(text("SELECT count(*) FROM notify_outbox")).scalar_one()
        session.commit()
    rng = np.random.default_rng(1)
    lat: list[float] = []
    made: list[int] = []
    try:
        for k in range(writes + 10):
            at = now - dt.timedelta(hours=2) + dt.timedelta(seconds=k)
            values = {
                "f": fids[int(rng.integers(len(fids)))],
                "at": at,
                "x": 109.0 + rng.random() * 0.75,
                "y": 0.95 + rng.random() * 0.9,
            }
            t0 = time.perf_counter()
            with Session(engine) as session:
                sid = session.execute(INSERT_SIGHTING, values).scalar_one()
                evaluate_for(session=session, layer="sightings", ids=[sid])
                session.commit()
            made.append(sid)
            if k >= 10:  # the first few warm the connection pool and caches
                lat.append((time.perf_counter() - t0) * 1000)
        with engine.connect() as conn:
            queued = conn.execute(text("SELECT count(*) FROM notify_outbox")).scalar_one() - before
    finally:
        with Session(engine) as session:
            session.execute(
                text("DELETE FROM alert WHERE sighting_id = ANY(:i) OR last_sighting_id = ANY(:i)"),
                {"i": made},
            )
            session.execute(text("DELETE FROM sighting WHERE id = ANY(:i)"), {"i": made})
            session.commit()
    lat.sort()
    return statistics.median(lat), lat[min(len(lat) - 1, round(len(lat) * 0.99) - 1)], queued


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sightings", type=int, default=1_000_000)
    parser.add_argument("--workplaces", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=300, help="single writes per turn")
    parser.add_argument("--repeat", type=int, default=2, help="turns of trigger off/on")
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="50,000 sightings")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data set")
    parser.add_argument("--dir", default="/tmp/timpora-bench-alerts", help="cluster directory")
    args = parser.parse_args()
    if args.quick:
        args.sightings, args.writes = 50_000, 200
    foreigners = max(args.sightings // 50, 100)
    url, cluster = open_database(args)
    try:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
        upgrade_reused(engine)
        seed(engine, args, foreigners)
        machine_text = machine(engine)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE notify_subscription CASCADE"))
            conn.execute(
                text(
                    "INSERT INTO notify_subscription (owner_kind, owner, role, target, "
                    "target_masked, min_severity, digest) "
                    "SELECT 'office', 'Kantor ' || k, "
                    "CASE WHEN k % 2 = 0 THEN 'coordinator' ELSE 'viewer' END, "
                    "'k' || k || '@office.example', 'k***@office.example', 1, true "
                    "FROM generate_series(1, :n) k"
                ),
                {"n": args.subscriptions},
            )
        runs: dict[bool, list[tuple[float, float, int]]] = {False: [], True: []}
        for _ in range(args.repeat):
            for on in (False, True):
                with engine.begin() as conn:
                    verb = "ENABLE" if on else "DISABLE"
                    conn.execute(text(f"ALTER TABLE alert {verb} TRIGGER {TRIGGER}"))
                runs[on].append(recent_writes(engine, args.writes))
        batch: dict[bool, list[float]] = {False: [], True: []}
        queued = 0
        for _ in range(args.repeat):
            for on in (False, True):
                with Session(engine) as session:  # rolled back: the data set stays as it was
                    verb = "ENABLE" if on else "DISABLE"
                    session.execute(text(f"ALTER TABLE alert {verb} TRIGGER {TRIGGER}"))
                    t0 = time.perf_counter()
                    run_batch(session=session)
                    batch[on].append(time.perf_counter() - t0)
                    if on:
                        queued = session.execute(
                            text("SELECT count(*) FROM notify_outbox")
                        ).scalar_one()
                    session.rollback()
        # The digest over the alerts one batch raises, then everything is put back.
        with Session(engine) as session:
            run_batch(session=session)
            open_alerts = session.execute(
                text("SELECT count(*) FROM alert WHERE status IN ('new', 'acknowledged')")
            ).scalar_one()
            t0 = time.perf_counter()
            done = enqueue_digests(session, link=LINK, dry_run=True)
            digest_s = time.perf_counter() - t0
            session.rollback()
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE notify_subscription CASCADE"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM alert, notify_outbox"))  # the rolled-back rows

        def med(on: bool, k: int) -> float:
            return statistics.median(r[k] for r in runs[on])

        size = f"{args.sightings:,} sightings, {args.subscriptions} subscriptions"
        rows = [
            Row("single write p50, notify trigger on (vs off)", med(True, 0), med(False, 0),
                med(False, 0) / med(True, 0), unit="ms"),
            Row("single write p99, notify trigger on (vs off)", med(True, 1), med(False, 1),
                med(False, 1) / med(True, 1), target="<= 20 ms", met=med(True, 1) <= 20,
                unit="ms", note=f"{args.writes} writes x {args.repeat} turns, "
                f"{runs[True][-1][2]} messages queued"),
            Row("batch alerts, notify trigger on (vs off)", statistics.median(batch[True]),
                statistics.median(batch[False]),
                statistics.median(batch[False]) / statistics.median(batch[True]), unit="s",
                note=f"{queued:,} messages queued"),
            Row("digest of every subscription (dry run)", digest_s, unit="s",
                note=f"{len(done)} digests over {open_alerts:,} open episodes"),
        ]  # fmt: skip
        report(rows, title=f"notifications: {size}", machine_text=machine_text)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
