"""Benchmark: /healthz latency while a 1,000,000-row import runs through the HTTP API.

    flock /tmp/timpora-bench.lock .venv/bin/python bench/import_serving.py          # 1,000,000
    flock /tmp/timpora-bench.lock .venv/bin/python bench/import_serving.py --rows 200000

The real app (``timpora serve``'s one process) is served by uvicorn on 127.0.0.1 in a thread of
this process, against a throwaway PostGIS cluster of its own (or TIMPORA_DATABASE_URL). The
bench measures /healthz alone first, then uploads a sightings CSV of ``--rows`` rows over two
months to ``POST /api/v1/sightings/import`` (a background job) and, until the job has finished,
sends /healthz every 20 ms over a keep-alive connection. It prints p50/p95/p99/max of both
phases, the import's wall time and the machine's load. It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Row, bench_settings, database_url, machine, report  # noqa: E402
from tests.api.helpers import write_sightings_csv  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthz(client: httpx.Client, until: threading.Event | None, count: int) -> list[float]:
    latencies: list[float] = []
    while (until is None and len(latencies) < count) or (until is not None and not until.is_set()):
        started = time.perf_counter()
        r = client.get("/healthz")
        latencies.append(time.perf_counter() - started)
        r.raise_for_status()
        time.sleep(0.02)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    import uvicorn
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from api.app import create_app
    from geo.boundaries import load_reference_data
    from geo.migrate import upgrade
    from geo.users import create_user

    with database_url(56532) as url:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
        upgrade(engine)
        settings = bench_settings(url, reference_data_dir=ROOT.parent / "shared" / "data")
        with Session(engine) as session:
            load_reference_data(session=session, settings=settings)
            session.commit()
        engine.dispose()
        app = create_app(settings)
        with Session(app.state.database.engine) as session:
            _, token = create_user(session=session, name=f"bench-{os.getpid()}", role="admin")
            session.commit()
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        headers = {"Authorization": f"Bearer {token}"}
        with (
            tempfile.TemporaryDirectory() as tmp,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client,
        ):
            path = write_sightings_csv(Path(tmp) / "sightings.csv", args.rows)
            alone = _healthz(client, None, 500)
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            with path.open("rb") as fh:
                r = client.post(
                    "/api/v1/sightings/import",
                    headers=headers,
                    files={"file": ("sightings.csv", fh, "text/csv")},
                )
            r.raise_for_status()
            accepted = time.perf_counter() - started
            job_url = r.headers["location"]
            done = threading.Event()
            during: list[float] = []

            def probe() -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as own:
                    during.extend(_healthz(own, done, 0))

            prober = threading.Thread(target=probe)
            prober.start()
            while True:
                job = client.get(job_url, headers=headers).json()
                if job["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.5)
            wall = time.perf_counter() - started
            done.set()
            prober.join()
        server.should_exit = True
        thread.join(timeout=30)
        app.state.imports.close()
    if job["status"] != "succeeded":
        raise SystemExit(f"the import failed: {job['error']}")

    def ms(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) * 1000

    rows = [Row(f"/healthz alone, {q}", ms(alone, q), unit="ms") for q in (50, 95, 99)] + [
        Row(
            f"/healthz during the import, {q}",
            ms(during, q),
            target="< 100 ms" if q == 99 else "-",
            met=(ms(during, q) < 100) if q == 99 else None,
            unit="ms",
        )
        for q in (50, 95, 99, 100)
    ]
    rows += [
        Row("upload answered (202) after", accepted * 1000, unit="ms"),
        Row(f"import of {args.rows:,} rows, wall", wall, unit="s"),
        Row("import throughput", args.rows / wall, unit="rows/s"),
    ]
    report(
        rows,
        title=(
            f"import while serving: {args.rows:,} sightings, {len(during):,} /healthz during "
            f"(load {load_before:.1f} before; {machine()})"
        ),
        bench="import_serving",
    )


if __name__ == "__main__":
    main()
