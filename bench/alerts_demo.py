"""Benchmark: batch alert evaluation over a demo set, this code against an earlier revision.

Seeds the demo set (``--size``, default large) into a throwaway cluster without alerts, then
times ``run_batch`` over everything, alternating this working tree's code and the code of
``--before`` (a git revision, checked out with ``git archive`` into a temporary directory) in
separate processes on the same database, each pass rolled back. Both see the same schema (this
tree's migrations). Prints sightings/s for each and the alerts (rows) each wrote. Every figure
is the median of ``--repeat`` runs.

    flock /tmp/timpora-bench.lock .venv/bin/python bench/alerts_demo.py --before 021681d
    ... bench/alerts_demo.py --before 021681d --rules all   # the incident rules too

``--rules sightings`` (the default) runs the five per-sighting rules, the ones sightings/s
measures; ``all`` adds the incident and permit rules (the old code's incident rules ran for
more than 17 minutes on the large set, at load 15).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, database_url, machine, report  # noqa: E402

SEED = 7
END = dt.date(2025, 7, 1)
SIGHTING_RULES = (
    "sighting_near_border",
    "sighting_in_zone",
    "expired_permit_sighting",
    "plb_outside_area",
    "far_from_sponsor",
)

# Run in a child process whose ``geo`` is the code under test: one batch pass, rolled back.
CHILD = """
import json, sys, time, datetime as dt
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from geo.alerts import run_batch
engine = create_engine(sys.argv[1])
with Session(engine) as session:
    t0 = time.perf_counter()
    rules = tuple(sys.argv[3].split(",")) if sys.argv[3] else None
    counts = run_batch(session=session, today=dt.date.fromisoformat(sys.argv[2]), rules=rules)
    seconds = time.perf_counter() - t0
    rows = session.execute(text("SELECT count(*) FROM alert")).scalar_one()
    session.rollback()
with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
    conn.execute(text("VACUUM alert"))
print(json.dumps({"seconds": seconds, "rows": rows, "counts": counts}))
"""


def seed_demo(url: str, size: str) -> int:
    """Reference geography and the demo set, no alerts; the number of sightings."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from geo.boundaries import load_reference_data
    from geo.demo import seed
    from geo.migrate import upgrade
    from geo.partitions import ensure_range
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
    area = AreaSettings()
    if not (area.reference_data_dir / "sambas-admin").is_dir():
        sys.exit("no reference geography; set TIMPORA_REFERENCE_DATA_DIR (e.g. /work/shared/data)")
    settings = Settings(
        database=DatabaseSettings(database_url=url),
        area=area,
        service=ServiceSettings(environment="test"),
    )
    upgrade(engine)
    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        session.commit()
    with Session(engine) as session:
        stop = dt.datetime.combine(END, dt.time(), dt.UTC)
        ensure_range(session=session, start=stop - dt.timedelta(days=400), end=stop)
        session.commit()
        seed(session=session, seed=SEED, size=size, end=END, area=area, evaluate_alerts=False)
        session.execute(text("DELETE FROM alert"))
        session.commit()
        n = int(session.execute(text("SELECT count(*) FROM sighting")).scalar_one())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return n


def checkout(revision: str, into: Path) -> None:
    """The ``geo`` package as of ``revision``, under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "geo"],
        check=True,
        capture_output=True,
    ).stdout
    tar_path = into / "geo.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")


def one_pass(code_root: Path, url: str, rules: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, END.isoformat(), rules],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=code_root,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", choices=("small", "large"), default="large")
    parser.add_argument("--before", required=True, help="git revision of the baseline code")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--rules", choices=("sightings", "all"), default="sightings")
    args = parser.parse_args()
    rules = ",".join(SIGHTING_RULES) if args.rules == "sightings" else ""
    host = machine()
    print(f"machine: {host}", flush=True)
    with tempfile.TemporaryDirectory(prefix="timpora-alerts-before-") as tmp:
        before_root = Path(tmp)
        checkout(args.before, before_root)
        with database_url(56800) as url:
            t0 = time.perf_counter()
            n = seed_demo(url, args.size)
            print(f"demo {args.size}: {n:,} sightings, seeded in {time.perf_counter() - t0:.0f} s")
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            for _ in range(args.repeat):  # alternating, so a change of load falls on both
                runs["before"].append(one_pass(before_root, url, rules))
                runs["after"].append(one_pass(ROOT, url, rules))
    secs = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    rows = {k: v[0]["rows"] for k, v in runs.items()}
    rate = {k: n / s for k, s in secs.items()}
    report(
        [
            Row(
                f"batch alerts ({args.rules} rules) over the {args.size} demo set: "
                f"this code vs {args.before}",
                rate["after"],
                rate["before"],
                rate["after"] / rate["before"],
                unit="sightings/s",
                note=(
                    f"{n:,} sightings; {secs['after']:.2f} s ({rows['after']:,} alert rows, "
                    f"{100 * rows['after'] / n:.2f} % of sightings; runs "
                    f"{min(r['seconds'] for r in runs['after']):.2f}-"
                    f"{max(r['seconds'] for r in runs['after']):.2f} s) "
                    f"vs {secs['before']:.2f} s ({rows['before']:,} rows)"
                ),
            )
        ],
        title=f"alerts over the {args.size} demo set, before and after",
        machine_text=host,
    )
    for k, v in runs.items():
        print(f"{k}: seconds {[round(r['seconds'], 3) for r in v]}, per rule {v[0]['counts']}")


if __name__ == "__main__":
    main()
