"""Benchmark: patrol positions from Traccar Client phones (``POST /osmand``), end to end.

Fifty teams' phones reporting every 5 s are 10 positions/s; the target is at least 100 times
that, sustained, with the p99 acceptance latency (request sent → 200 received, so the position
is committed) reported. Three workloads against a real server (uvicorn, one worker, on
127.0.0.1) and a throwaway PostGIS cluster with the regency loaded:

- ``nominal``: 50 devices at their real pace (one position each per 5 s): latency at the load
  the office will see;
- ``sustained``: the same 50 devices sending back to back (each position 5 s of phone time
  after its last): the most the server takes;
- ``burst``: one device uploads 2 hours of buffered positions (1,440, one request each, as the
  app does after a gap) while the other 49 report at their real pace: how long the backlog
  takes and what it does to everyone else's latency.

Half the devices speak the parameter form (older app versions), half the JSON body (current).

    .venv/bin/python bench/field.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, database_url, machine, report, wait_until_healthy  # noqa: E402

URL_ENV = "TIMPORA_BENCH_FIELD_URL"
DEVICES = 50
INTERVAL_S = 5.0
NOMINAL_RATE = DEVICES / INTERVAL_S  # positions/s that 50 teams produce
TARGET_FACTOR = 100
BURST_POSITIONS = 2 * 3600 // 5
# The walk: around Sajingan Besar, inside the regency.
LON0, LAT0 = 109.55, 1.38


def bench_app() -> Any:
    """The real app (rate limit off: the load comes from one address); uvicorn's factory."""
    from api.app import create_app
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    settings = Settings(
        database=DatabaseSettings(database_url=os.environ[URL_ENV], pool_size=DEVICES + 4),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test", rate_limit_per_minute=0),
    )
    return create_app(settings)


def prepare(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.boundaries import load_reference_data
    from geo.field.devices import register_device
    from geo.migrate import upgrade
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    engine = create_engine(url)
    upgrade(engine)
    settings = Settings(
        database=DatabaseSettings(database_url=url),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test"),
    )
    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        for i in range(DEVICES):
            register_device(
                session=session,
                name=f"HP {i:02d}",
                team=f"Tim {i // 2:02d}",
                kind="traccar",
                identifier=f"bench-{i:02d}",
            )
        session.commit()
    engine.dispose()


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.field:bench_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            # phones on a 5 s rhythm: keep their connections past uvicorn's 5 s default
            "--timeout-keep-alive",
            "30",
        ],
        cwd=ROOT,
        env={**os.environ, URL_ENV: url},
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(server, base)
    return server, base


def request_for(device: int, n: int, start: dt.datetime) -> dict[str, Any]:
    """The n-th position of a device, 5 s of phone time apart, in the device's protocol form."""
    at = start + dt.timedelta(seconds=INTERVAL_S * n)
    lon = LON0 + 0.002 * (device % 10) + 0.00005 * n
    lat = LAT0 + 0.002 * (device // 10) + 0.00003 * n
    identifier = f"bench-{device:02d}"
    if device % 2:
        return {
            "json": {
                "device_id": identifier,
                "location": {
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "coords": {
                        "latitude": lat,
                        "longitude": lon,
                        "accuracy": 8.0,
                        "speed": 1.2,
                        "heading": 90.0,
                        "altitude": 30.0,
                    },
                    "is_moving": True,
                    "battery": {"level": 0.8, "is_charging": False},
                },
            }
        }
    return {
        "params": {
            "id": identifier,
            "timestamp": str(int(at.timestamp())),
            "lat": str(lat),
            "lon": str(lon),
            "speed": "2.3",
            "bearing": "90",
            "accuracy": "8",
            "batt": "80",
        }
    }


async def device_loop(
    client: Any,
    device: int,
    start: dt.datetime,
    first: int,
    count: int,
    pace_s: float,
    latencies: list[float],
    failures: list[int],
) -> None:
    t_next = time.perf_counter()
    for n in range(first, first + count):
        if pace_s:
            await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
            t_next += pace_s
        t0 = time.perf_counter()
        try:
            response = await client.post("/osmand", **request_for(device, n, start))
            status = response.status_code
        except httpx.HTTPError:
            status = 0  # the connection dropped: the phone would send again
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            failures.append(status)


async def run(
    base: str,
    *,
    devices: list[int],
    counts: dict[int, int],
    pace: dict[int, float],
    start: dt.datetime,
    first: int,
) -> tuple[float, dict[int, list[float]], list[int]]:
    latencies: dict[int, list[float]] = {d: [] for d in devices}
    failures: list[int] = []
    limits = httpx.Limits(max_connections=len(devices), max_keepalive_connections=len(devices))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                device_loop(client, d, start, first, counts[d], pace[d], latencies[d], failures)
                for d in devices
            )
        )
        return time.perf_counter() - t0, latencies, failures


async def healthz_rate(base: str, *, clients: int, per_client: int) -> float:
    """Requests/s of ``GET /healthz`` (one database round trip, no write) from ``clients``
    connections back to back: the same-run baseline of what this machine serves right now."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def loop() -> None:
            for _ in range(per_client):
                await client.get("/healthz")

        t0 = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        return clients * per_client / (time.perf_counter() - t0)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--repeat", type=int, default=3, help="sustained runs (median)")
    args = parser.parse_args()
    nominal_rounds = 3 if args.quick else 6  # x 5 s
    sustained_per_device = 40 if args.quick else 200
    burst = 240 if args.quick else BURST_POSITIONS
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    devices = list(range(DEVICES))

    with database_url(56832) as url:
        prepare(url)
        server, base = start_server(url)
        try:
            first = 0
            _, lat, fail = asyncio.run(
                run(
                    base,
                    devices=devices,
                    counts=dict.fromkeys(devices, nominal_rounds),
                    pace=dict.fromkeys(devices, INTERVAL_S),
                    start=start,
                    first=first,
                )
            )
            first += nominal_rounds
            nominal = [x for v in lat.values() for x in v]
            nominal_fail = len(fail)

            rates, sustained_p99, sustained_fail, healthz = [], [], 0, []
            for _ in range(args.repeat):
                # The baseline next to each run, so both see the same machine load.
                healthz.append(
                    asyncio.run(
                        healthz_rate(base, clients=DEVICES, per_client=sustained_per_device)
                    )
                )
                seconds, lat, fail = asyncio.run(
                    run(
                        base,
                        devices=devices,
                        counts=dict.fromkeys(devices, sustained_per_device),
                        pace=dict.fromkeys(devices, 0.0),
                        start=start,
                        first=first,
                    )
                )
                first += sustained_per_device
                rates.append(DEVICES * sustained_per_device / seconds)
                sustained_p99.append(p([x for v in lat.values() for x in v], 0.99))
                sustained_fail += len(fail)

            # The burst: device 0 sends its backlog back to back; the others keep their pace
            # for as long as the backlog takes (rounds enough to outlast it).
            others = devices[1:]
            rounds = max(
                2, int(burst / max(statistics.median(rates) / DEVICES, 1) / INTERVAL_S) + 2
            )
            seconds, lat, fail = asyncio.run(
                run(
                    base,
                    devices=devices,
                    counts={0: burst, **dict.fromkeys(others, rounds)},
                    pace={0: 0.0, **dict.fromkeys(others, INTERVAL_S)},
                    start=start,
                    first=first,
                )
            )
            backlog_s = sum(lat[0])
            during = [x for d in others for x in lat[d]]
            burst_fail = len(fail)
        finally:
            server.terminate()
            server.wait(timeout=30)

        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            stored = int(conn.execute(text("SELECT count(*) FROM track_position")).scalar_one())
        machine_text = machine(engine)
        engine.dispose()

    expected = (
        DEVICES * (nominal_rounds + args.repeat * sustained_per_device)
        + burst
        + len(others) * rounds
    )
    sustained = statistics.median(rates)
    rows = [
        Row(
            "positions/s sustained, 50 devices back to back (median)",
            sustained,
            NOMINAL_RATE,
            sustained / NOMINAL_RATE,
            f">= {TARGET_FACTOR}x 50 teams",
            sustained / NOMINAL_RATE >= TARGET_FACTOR,
            "pos/s",
            f"runs {', '.join(f'{r:,.0f}' for r in rates)}; baseline = 50 teams every 5 s",
        ),
        Row(
            "positions/s sustained vs GET /healthz/s, same clients, same run (median)",
            sustained,
            statistics.median(healthz),
            sustained / statistics.median(healthz),
            unit="req/s",
            note=f"healthz runs {', '.join(f'{r:,.0f}' for r in healthz)}",
        ),
        Row("p99 acceptance, sustained load", statistics.median(sustained_p99), unit="ms"),
        Row(
            "p50 / p99 acceptance, nominal load (50 devices every 5 s)",
            p(nominal, 0.99),
            unit="ms",
            note=f"p50 {p(nominal, 0.5):.1f} ms, {len(nominal)} positions",
        ),
        Row(
            f"backlog of {burst} positions (2 h buffered) uploaded",
            burst / backlog_s,
            unit="pos/s",
            note=f"{backlog_s:.1f} s",
        ),
        Row(
            "p99 acceptance of the other 49 during the backlog",
            p(during, 0.99),
            unit="ms",
            note=f"p50 {p(during, 0.5):.1f} ms",
        ),
        Row(
            "positions stored / sent, refusals",
            stored,
            expected,
            unit="rows",
            met=stored == expected and not (nominal_fail or sustained_fail or burst_fail),
            target="all, once",
            note=f"non-200: {nominal_fail + sustained_fail + burst_fail}",
        ),
    ]
    report(rows, title=f"Field position ingest ({machine_text})")


if __name__ == "__main__":
    main()
