"""Where a 1,000,000-row sightings import spends its time: wall, client and server CPU per stage.

    flock /tmp/timpora-bench.lock .venv/bin/python bench/import_stages.py            # 2 runs
    flock /tmp/timpora-bench.lock .venv/bin/python bench/import_stages.py --rows 200000 --runs 1

The same file and cluster set-up as ``bench/importer.py`` (its ``bench_database``: a throwaway
cluster unless TIMPORA_DATABASE_URL is set). The importer's steps are wrapped by name while it
runs: each call's start and wall time, the CPU of the calling thread (``time.thread_time``: the
stages run in several threads at once, so a process total would count the others'), and the CPU
the server (every process of the local cluster, /proc) used meanwhile. Calls made once per chunk
(locating, building the fields, encoding) are summed per thread. With ``pg_stat_statements``
loaded the server's slowest statements of the run follow. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.common import proc_stat, tree_cpu_s  # noqa: E402
from bench.importer import bench_database, make_csv  # noqa: E402

# (module, attribute, label); per-chunk calls are summed per thread.
STAGES = (
    ("geo.io.importer", "read_source", "read the CSV"),
    ("geo.io.importer", "validate_frame", "validate"),
    ("geo.io.importer", "place_rows", "area of interest"),
    ("geo.io.importer", "check_references", "references"),
    ("geo.io.exchange", "plan", "exchange plan (lock)"),
    ("geo.io.load", "upsert_rows", "upsert (rows outside exchanged months)"),
    ("geo.io.load", "reference_ids", "reference ids"),
    ("geo.io.gridload", "agrees_with_server", "grid: server agrees on cells"),
    ("geo.io.gridload", "count", "grid: count cells"),
    ("geo.io.gridload", "write", "grid: write month partitions, all-time upsert"),
    ("geo.io.exchange", "load", "month load: COPY, index builds, ANALYZE (a session)"),
    ("geo.io.exchange", "swap_in", "swap in (ATTACH)"),
    ("geo.io.importer", "_evaluate_alerts", "alert pass"),
    ("geo.io.importer", "_audit", "audit row"),
)
PER_CHUNK = (
    ("geo.io.derive", "LocationIndex.locate", "locate a chunk (desa, border distance, side)"),
    ("geo.io.load", "_final_fields", "a chunk's fields (locating included)"),
    ("geo.io.exchange", "encode", "encode a chunk (binary COPY)"),
)
STATEMENTS_SQL = text(
    "SELECT round(total_exec_time::numeric / 1000, 2), calls, "
    "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements "
    "ORDER BY total_exec_time DESC LIMIT 15"
)


class Recorder:
    """Wraps functions by name and records (label, thread, start, wall, thread CPU, server CPU)."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster
        self.started = time.perf_counter()
        self.calls: list[tuple[str, str, float, float, float, float]] = []

    def server_cpu(self) -> float:
        return tree_cpu_s(self.postmaster, reaped=True)

    def wrap(self, module_name: str, attribute: str, label: str) -> None:
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        owner: Any = module
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        inner: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            w0, t0, s0 = time.perf_counter(), time.thread_time(), self.server_cpu()
            try:
                return inner(*args, **kwargs)
            finally:
                w1, t1, s1 = time.perf_counter(), time.thread_time(), self.server_cpu()
                thread = threading.current_thread().name
                self.calls.append((label, thread, w0 - self.started, w1 - w0, t1 - t0, s1 - s0))

        setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from geo.io import importer

    with (
        bench_database() as (engine, settings),
        tempfile.TemporaryDirectory() as tmp,
        Session(engine) as session,
    ):
        csv_path = Path(tmp) / "sightings.csv"
        make_csv(session, args.rows, csv_path)
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        own = proc_stat(pid)
        recorder = Recorder(int(own[1]) if own is not None else pid)
        for module_name, attribute, label in (*STAGES, *PER_CHUNK):
            recorder.wrap(module_name, attribute, label)
        statements = bool(
            session.execute(
                text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
            ).scalar_one()
        )
        for run in range(args.runs):
            session.execute(text("TRUNCATE sighting"))
            session.execute(text("DELETE FROM alert"))
            session.commit()
            if statements:
                session.execute(text("SELECT pg_stat_statements_reset()"))
            recorder.calls.clear()
            load0 = os.getloadavg()
            c0, s0 = time.process_time(), recorder.server_cpu()
            recorder.started = time.perf_counter()
            importer.import_file(
                session=session, layer="sightings", path=csv_path, area=settings.area
            )
            session.commit()
            wall = time.perf_counter() - recorder.started
            client, server = time.process_time() - c0, recorder.server_cpu() - s0
            load1 = os.getloadavg()
            print(
                f"\nrun {run + 1}: {args.rows:,} rows in {wall:.2f} s; CPU client {client:.2f} "
                f"s, server {server:.2f} s; load average {load0[0]:.1f} -> {load1[0]:.1f}"
            )
            print(f"  {'start':>6} {'wall':>6} {'thread':>6} {'server':>6}  stage [thread]")
            chunks: dict[tuple[str, str], list[float]] = {}
            per_chunk = {label for _, _, label in PER_CHUNK}
            for label, thread, start, w, tc, sc in sorted(recorder.calls, key=lambda c: c[2]):
                if label in per_chunk:
                    total = chunks.setdefault((label, thread), [start, 0.0, 0.0, 0.0])
                    total[1:] = [total[1] + w, total[2] + tc, total[3] + 1]
                    continue
                print(f"  {start:6.2f} {w:6.2f} {tc:6.2f} {sc:6.2f}  {label} [{thread}]")
            for (label, thread), (start, w, tc, k) in sorted(chunks.items()):
                print(
                    f"  {start:6.2f} {w:6.2f} {tc:6.2f} {'':>6}  {label}, {k:.0f} calls [{thread}]"
                )
            if statements:
                print("  server statements (seconds, calls):")
                for seconds, calls, query in session.execute(STATEMENTS_SQL):
                    print(f"    {seconds:7} {calls:6}  {query}")
            session.commit()


if __name__ == "__main__":
    main()
