"""Benchmark: what notifications cost the write path, and what one digest costs.

The trigger that queues immediate messages runs in every alert-writing transaction. This
measures single sighting writes (insert, evaluate, commit: p50/p99) with ``--subscriptions``
subscriptions that want every new alert, with that trigger switched off and on in turns
(ABAB..., the same data and connection pool), the batch evaluation (``timpora alerts run``)
with the trigger off and on, and the time to render every subscription's digest over the
alerts one batch raises (a dry run: nothing is sent; every batch is rolled back). It reuses
the data set and cluster of ``bench/alerts.py``.

    .venv/bin/python bench/notify.py --quick     # 50,000 sightings
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.alerts import open_database, seed, write_latency  # noqa: E402
from bench.common import Row, machine, report  # noqa: E402
from geo.alerts import run_batch  # noqa: E402
from geo.migrate import upgrade  # noqa: E402
from geo.notify.outbox import enqueue_digests  # noqa: E402

TRIGGER = "trg_notify_alerts_inserted"
LINK = "https://timpora.example.go.id/#alerts"


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
        upgrade(engine)
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
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.repeat):
            for on in (False, True):
                with engine.begin() as conn:
                    verb = "ENABLE" if on else "DISABLE"
                    conn.execute(text(f"ALTER TABLE alert {verb} TRIGGER {TRIGGER}"))
                runs[on].append(write_latency(engine, args.writes))
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
                unit="ms", note=f"{args.writes} writes x {args.repeat} turns"),
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
