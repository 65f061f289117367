"""API benchmark: 1,000-feature bbox pages of 1,000,000 sightings, and vector tiles.

    .venv/bin/python bench/api.py              # the large demo set (1e6 sightings, 1e5 incidents)
    .venv/bin/python bench/api.py --quick      # the small demo set, fewer requests (< 60 s)
    .venv/bin/python bench/api.py --tiles-only # admins' against viewers' tiles, 1 and 8 clients

Data: ``geo.demo.seed`` (seed 7, twelve months ending 2025-07-01) in a PostGIS cluster of its own
under ``--dir``, one database per size, built once and reused (``--fresh`` rebuilds it; a reused
one is migrated to the current head first). The real app is served by uvicorn in a subprocess
on 127.0.0.1 (``--workers``, default 2 for 2 cores) and driven by 8 concurrent clients.

Baselines, measured in the same run against the same server and data:
- bbox page: the same page (same filters, fields, personal-data rules and audit row) built as
  plain dicts and returned through FastAPI's default encoder (``jsonable_encoder`` + JSON);
- tiles: the same tiles with every count taken from the rows at request time (no count grid).

Each workload runs ``--repeat`` times; the table shows the median of the runs' p50/p95/p99 and
throughput, then the CPU each request cost the clients, the app and the database (from /proc).
Load is bounded in count (``--requests``, ``--tiles``) and time (``--max-seconds`` per run).
The script asserts nothing. No ``from __future__ import annotations``: FastAPI must evaluate
the baseline routes' annotations, which name locals of ``bench_app``.
"""

import argparse
import datetime as dt
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import tree_cpu_s, upgrade_reused, wait_until_healthy  # noqa: E402

CLIENTS = 8
SEED = 7
END = dt.date(2025, 7, 1)
DATA_VERSION = "2"  # bump when the build changes: reused databases are rebuilt
URL_ENV = "TIMPORA_BENCH_API_URL"
PAGE_SIDE_DEG = 0.05  # ~5.5 km boxes; only boxes holding >= 1,000 sightings are used


# --- the server (runs in the uvicorn subprocess) --------------------------------------------


def bench_app() -> Any:
    """The real app plus the two baseline routes (bench only); uvicorn calls this factory."""
    from fastapi import Depends, Request
    from fastapi.responses import JSONResponse, Response
    from sqlalchemy import text

    from api.app import create_app
    from api.auth import require
    from api.deps import SessionDep
    from geo import tiles
    from geo.access import READ
    from geo.registry import LAYERS, parse_filters, visible_fields, where_clause
    from geo.registry.reads import audit_personal_read
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings
    from geo.users import Principal

    settings = Settings(
        # 8 clients over the workers: every request finds a connection without waiting.
        database=DatabaseSettings(database_url=os.environ[URL_ENV], pool_size=CLIENTS),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test", rate_limit_per_minute=0),
    )
    app = create_app(settings)
    layer = LAYERS["sightings"]
    wib = dt.timezone(dt.timedelta(hours=7))

    @app.get("/bench/baseline/sightings", response_class=JSONResponse)
    def baseline_page(
        request: Request,
        session: SessionDep,
        principal: Principal = Depends(require(READ)),
        bbox: str = "",
        limit: int = 1000,
    ) -> dict[str, Any]:
        """The page as plain dicts: rows from the driver, FastAPI's default encoder."""
        filters = parse_filters(layer=layer, bbox=bbox, limit=limit)
        where = where_clause(layer, filters, session=session)
        fields = visible_fields(layer, principal.role)
        names = [f.name for f in fields]
        # Fields read through an expression (the agency's short name, ...): the same expression
        # under a name of its own; datetimes are converted below, in Python.
        derived = [f for f in fields if f.sql and f.kind != "datetime"]
        extra = "".join(f", {f.sql} AS derived_{f.name}" for f in derived)
        rows = session.execute(
            text(
                f"SELECT t.*, f.full_name AS foreigner_name, ST_X(t.geom) AS lon, "
                f"ST_Y(t.geom) AS lat{extra} FROM sighting t {layer.joins} WHERE {where.sql} "
                "ORDER BY t.id LIMIT :n"
            ),
            {**where.params, "n": filters.limit + 1},
        ).mappings()
        features = []
        for r in rows:
            props = {}
            for name in names:
                value = r[f"derived_{name}"] if f"derived_{name}" in r else r[name]
                if isinstance(value, dt.datetime):
                    value = value.astimezone(wib)
                props[name] = value
            features.append(
                {
                    "type": "Feature",
                    "id": r["id"],
                    "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                    "properties": props,
                }
            )
        has_more = len(features) > filters.limit
        features = features[: filters.limit]
        audit_personal_read(
            session=session,
            layer=layer,
            principal=principal,
            resource=layer.name,
            count=len(features),
            client=request.client.host if request.client else None,
        )
        links = [{"href": str(request.url), "rel": "self", "type": "application/geo+json"}]
        if has_more:
            links.append({"href": str(request.url), "rel": "next", "type": "application/geo+json"})
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": len(features),
            "links": links,
        }

    @app.get("/bench/baseline/tiles/{name}/{z}/{x}/{y}.mvt")
    def baseline_tile(
        session: SessionDep,
        name: str,
        z: int,
        x: int,
        y: int,
        principal: Principal = Depends(require(READ)),
    ) -> Response:
        """The same tile with point counts taken from the rows (no grid table)."""
        request = tiles.TileRequest(layer=name, z=z, x=x, y=y)
        body = tiles.render(session=session, request=request, role=principal.role, from_rows=True)
        return Response(body, media_type="application/vnd.mapbox-vector-tile")

    return app


# --- the data -----------------------------------------------------------------------------


def describe_machine(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        gis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    engine.dispose()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem_gb:.0f} GB, {platform.machine()}, "
        f"load {os.getloadavg()[0]:.1f}; PostgreSQL {pg}, PostGIS {gis}"
    )


def open_database(args: argparse.Namespace) -> tuple[str, Any]:
    """The URL of this size's database (made if missing) and the cluster started for it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from geo.cluster import EmbeddedCluster, free_port_from

    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    cluster = EmbeddedCluster(base, preferred_port=free_port_from(56632), ephemeral=True)
    cluster.init()
    if not cluster.is_running():
        cluster.start()
    admin_url = make_url(cluster.url()).set(drivername="postgresql+psycopg2")
    name = f"bench_api_{args.size}_seed{SEED}"  # built from code, not input
    admin = create_engine(admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            if args.fresh:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False), cluster


def build(url: str, size: str) -> str:
    """Migrate; seed the demo set unless this exact build is there already."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from geo.boundaries import load_reference_data
    from geo.demo import seed
    from geo.partitions import ensure_range
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    engine = create_engine(url)
    upgrade_reused(engine)  # a reused database gets new migrations (e.g. the count grids)
    key = f"{DATA_VERSION}:{size}:{SEED}:{END}"
    with Session(engine) as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS bench_meta (key text)"))
        have = session.execute(text("SELECT key FROM bench_meta")).scalar()
        session.commit()
    if have == key:
        engine.dispose()
        return "reused"
    settings = Settings(
        database=DatabaseSettings(database_url=url),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test"),
    )
    t0 = time.perf_counter()
    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        session.commit()
    with Session(engine) as session:
        # Monthly partitions for the data's year, as a running office has them.
        start = dt.datetime.combine(END, dt.time(), dt.UTC) - dt.timedelta(days=400)
        ensure_range(session=session, start=start, end=dt.datetime.combine(END, dt.time(), dt.UTC))
        # Committed first: the import loads months in sessions of its own, which would wait
        # forever on the locks this transaction's new partitions hold.
        session.commit()
        seed(session=session, seed=SEED, size=size, end=END, area=settings.area)
        session.execute(text("DELETE FROM bench_meta"))
        session.execute(text("INSERT INTO bench_meta VALUES (:k)"), {"k": key})
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return f"built in {time.perf_counter() - t0:.0f} s"


def make_token(url: str, role: str = "admin") -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.users import create_user

    engine = create_engine(url)
    with Session(engine) as session:
        _, token = create_user(
            session=session, name=f"bench-{role}-{os.getpid()}-{time.time_ns()}", role=role
        )
        session.commit()
    engine.dispose()
    return token


def page_boxes(url: str, n: int, rng: random.Random) -> list[str]:
    """``n`` boxes of PAGE_SIDE_DEG around sampled sightings, each holding >= 1,000 of them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    boxes: list[str] = []
    with engine.connect() as conn:
        points = list(
            conn.execute(
                text(
                    "SELECT ST_X(geom), ST_Y(geom) FROM sighting "
                    "TABLESAMPLE SYSTEM (1) REPEATABLE (7)"
                )
            ).all()
        )
        rng.shuffle(points)
        for lon, lat in points[: n * 4]:
            x0 = round(lon - PAGE_SIDE_DEG / 2, 5)
            y0 = round(lat - PAGE_SIDE_DEG / 2, 5)
            full = conn.execute(
                text(
                    "SELECT count(*) >= 1000 FROM (SELECT 1 FROM sighting WHERE geom && "
                    "ST_MakeEnvelope(:a, :b, :c, :d, 4326) LIMIT 1000) s"
                ),
                {"a": x0, "b": y0, "c": x0 + PAGE_SIDE_DEG, "d": y0 + PAGE_SIDE_DEG},
            ).scalar_one()
            if full:
                boxes.append(f"{x0},{y0},{x0 + PAGE_SIDE_DEG:.5f},{y0 + PAGE_SIDE_DEG:.5f}")
            if len(boxes) == n:
                break
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM sighting) s"
            )
        ).one()
    engine.dispose()
    if not boxes:
        raise RuntimeError("no bbox holds 1,000 sightings: is the data set there?")
    global AREA
    AREA = tuple(float(v) for v in extent)
    return boxes


AREA: tuple[float, ...] = (108.95, 1.0, 109.8, 2.1)


TILE_LAYERS = ("sightings", "incidents", "admin-areas", "zones")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return x, y


def tile_paths(
    n: int, rng: random.Random, layers: tuple[str, ...] = TILE_LAYERS, near: Sequence[str] = ()
) -> list[str]:
    """``n`` tiles at z8-14 of ``layers``: around random points of the data's extent, or, with
    ``near`` (bbox strings), half of them around the boxes' centres, where the data is dense."""
    out = []
    for i in range(n):
        z = rng.choice([8, 9, 10, 11, 12, 13, 14])
        if near and i % 2:
            x0, y0, x1, y1 = (float(v) for v in rng.choice(near).split(","))
            lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
        else:
            lon = rng.uniform(AREA[0], AREA[2])
            lat = rng.uniform(AREA[1], AREA[3])
        x, y = tile_of(lon, lat, z)
        out.append(f"{rng.choice(layers)}/{z}/{x}/{y}.mvt")
    return out


# --- load ---------------------------------------------------------------------------------


# Whose CPU a run is charged to: the bench process alone (the clients; uvicorn is its child),
# uvicorn and its workers (the app) and the cluster's postmaster with its backends (the
# database); set once both are up.
CPU_ROOTS: dict[str, int] = {}


def part_cpu_s(part: str) -> float:
    return tree_cpu_s(CPU_ROOTS[part], descendants=part != "clients")


class Run:
    def __init__(self, latencies: list[float], wall_s: float, sizes: list[int]) -> None:
        self.latencies = latencies
        self.wall_s = wall_s
        self.sizes = sizes
        self.cpu_ms: dict[str, float] = {}  # CPU per request by part (see CPU_ROOTS)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def drive(
    base: str, token: str, paths: list[str], max_seconds: float, clients: int = CLIENTS
) -> Run:
    """``paths`` over ``clients`` concurrent keep-alive clients, stopping at ``max_seconds``.

    Each client is a plain ``http.client`` connection: it reads a response with one
    ``Content-Length`` read, so a 600 kB page costs the client ~0.3 ms of CPU (httpx, parsing
    with h11 in Python, took CPU that the 2 cores then lacked for the server: the baseline
    page went from 39 to 55 req/s when it was dropped). Ours and the baselines are driven by
    the same client.
    """
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(base)
    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()
    queue = list(reversed(paths))
    deadline = time.monotonic() + max_seconds
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}

    def worker() -> None:
        conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=60)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if not queue or errors:
                        return
                    path = queue.pop()
                t0 = time.perf_counter()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - t0
                if response.status not in (200, 204):
                    with lock:
                        errors.append(f"{path}: {response.status} {body[:200]!r}")
                    return
                with lock:
                    latencies.append(elapsed)
                    sizes.append(len(body))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    cpu0 = {part: part_cpu_s(part) for part in CPU_ROOTS}
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - t0
    if errors:
        raise RuntimeError(errors[0])
    run = Run(latencies, wall_s, sizes)
    if latencies:
        run.cpu_ms = {
            part: (part_cpu_s(part) - cpu0[part]) * 1e3 / len(latencies) for part in CPU_ROOTS
        }
    return run


def tiles_by_role(
    base: str,
    admin: str,
    viewer: str,
    boxes: list[str],
    rng: random.Random,
    n_tiles: int,
    args: argparse.Namespace,
    machine: str,
) -> None:
    """Admins' against viewers' tiles, alternated in rounds, with one client (latency without
    queueing) and with CLIENTS (throughput): the mixed tile set, and sighting tiles alone."""
    mixed = [f"/tiles/{t}" for t in tile_paths(n_tiles, rng)]
    sighting = [f"/tiles/{t}" for t in tile_paths(n_tiles, rng, ("sightings",), near=boxes)]
    drive(base, admin, mixed[:40] + sighting[:40], args.max_seconds)
    drive(base, viewer, mixed[:40] + sighting[:40], args.max_seconds)

    def make(paths: list[str], token: str, clients: int) -> Callable[[], Run]:
        return lambda: drive(base, token, paths, args.max_seconds, clients)

    makers = {
        f"{set_name} {role} {clients}": make(paths, token, clients)
        for set_name, paths in (("mixed", mixed), ("sightings", sighting))
        for role, token in (("admin", admin), ("viewer", viewer))
        for clients in (1, CLIENTS)
    }
    figs = rounds(makers, args.repeat)
    print(f"\n{machine}; uvicorn {args.workers} workers; median of {args.repeat} rounds")
    print(f"{'tiles (z8-14)':34s}{'p50 ms':>8s}{'p95 ms':>8s}{'tiles/s':>9s}{'viewer/admin':>14s}")
    for name, fig in figs.items():
        set_name, role, n = name.split()
        ratio = fig["rps"] / figs[f"{set_name} admin {n}"]["rps"]
        label = f"{set_name}, {role}, {n} client{'s' if n != '1' else ''}"
        print(
            f"{label:34s}{fig['p50']:8.1f}{fig['p95']:8.1f}{fig['rps']:9.1f}"
            + (f"{ratio:13.2f}x" if role == "viewer" else "")
        )


def median_runs(make: Callable[[], Run], repeat: int) -> dict[str, float]:
    return summarise([make() for _ in range(repeat)])


def rounds(makers: dict[str, Callable[[], Run]], repeat: int) -> dict[str, dict[str, float]]:
    """Each workload once per round, ``repeat`` rounds: workloads compared with each other
    see the same machine (the load moves between rounds, not between workloads)."""
    runs: dict[str, list[Run]] = {name: [] for name in makers}
    for _ in range(repeat):
        for name, make in makers.items():
            runs[name].append(make())
    return {name: summarise(r) for name, r in runs.items()}


def summarise(runs: list[Run]) -> dict[str, float]:
    """Medians over runs of each run's percentiles and throughput; sizes over all runs."""
    return {
        "p50": statistics.median(r.pct(0.50) for r in runs) * 1e3,
        "p95": statistics.median(r.pct(0.95) for r in runs) * 1e3,
        "p99": statistics.median(r.pct(0.99) for r in runs) * 1e3,
        "rps": statistics.median(r.rps for r in runs),
        "max_kb": max(max(r.sizes) for r in runs) / 1e3,
        "mean_kb": statistics.mean(statistics.mean(r.sizes) for r in runs) / 1e3,
        "n": sum(len(r.latencies) for r in runs),
        **{
            f"cpu_{part}": statistics.median(r.cpu_ms.get(part, 0.0) for r in runs)
            for part in CPU_ROOTS
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, workers: int) -> None:
    """Run uvicorn's multi-worker supervisor on a listening socket made here (in the server
    subprocess).

    ``uvicorn --workers N`` binds its listener with ``proto`` 0; accepted sockets inherit it
    and asyncio then leaves Nagle's algorithm on (it sets TCP_NODELAY only for
    ``IPPROTO_TCP``), so every small keep-alive response after the first waits ~40 ms for
    the client's delayed ACK (Kludex/uvicorn#3149; ``timpora serve`` runs one process and is
    not affected). Binding with ``IPPROTO_TCP`` here measures the app, not that artefact.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "bench.api:bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, URL_ENV: url}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(server, base)
    return server, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small demo set, fewer requests")
    parser.add_argument("--requests", type=int, help="bbox pages per run (default 400)")
    parser.add_argument("--tiles", type=int, help="tiles per run (default 400)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (one per core)")
    parser.add_argument("--max-seconds", type=float, default=120, help="time bound per run")
    parser.add_argument(
        "--dir",
        help="cluster directory (default /tmp/timpora-bench-api, -quick added for --quick: "
        "the suite's quick run never starts a cluster in the folder of a full run by hand)",
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the data set")
    parser.add_argument(
        "--tiles-only", action="store_true", help="only admins' against viewers' tiles (minutes)"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dir = args.dir or "/tmp/timpora-bench-api" + ("-quick" if args.quick else "")
    if args.serve:
        serve(args.serve, args.workers)
        return
    args.size = "small" if args.quick else "large"
    requests = args.requests or (60 if args.quick else 400)
    n_tiles = args.tiles or (60 if args.quick else 400)
    if args.quick:
        args.max_seconds = min(args.max_seconds, 15)

    url, cluster = open_database(args)
    print(f"data: demo {args.size} (seed {SEED}, to {END}): {build(url, args.size)}", flush=True)
    rng = random.Random(5)
    boxes = page_boxes(url, requests, rng)
    token = make_token(url)
    viewer = make_token(url, "viewer")  # no personal data: sightings always as grid counts
    machine = describe_machine(url)
    server, base = start_server(url, args.workers)
    CPU_ROOTS.update(clients=os.getpid(), app=server.pid)
    postmaster = Path(cluster.pgdata) / "postmaster.pid"
    if postmaster.exists():
        CPU_ROOTS["database"] = int(postmaster.read_text().split()[0])
    try:
        if args.tiles_only:
            tiles_by_role(base, token, viewer, boxes, rng, n_tiles, args, machine)
            return
        ours = [f"/api/v1/sightings?bbox={b}&limit=1000" for b in boxes]
        plain = [f"/bench/baseline/sightings?bbox={b}&limit=1000" for b in boxes]
        tiles = tile_paths(n_tiles, rng)
        tiles_ours = [f"/tiles/{t}" for t in tiles]
        tiles_rows = [f"/bench/baseline/tiles/{t}" for t in tiles]
        warm = min(40, len(boxes))
        drive(base, token, ours[:warm] + plain[:warm] + tiles_ours[:warm], args.max_seconds)
        page = median_runs(lambda: drive(base, token, ours, args.max_seconds), args.repeat)
        base_page = median_runs(lambda: drive(base, token, plain, args.max_seconds), args.repeat)
        base_tile = median_runs(
            lambda: drive(base, token, tiles_rows, args.max_seconds), args.repeat
        )
        # Admins and viewers on the same tiles, alternated in rounds: the mixed set above, and
        # sighting tiles alone (half of them where the bbox pages are: dense), where the roles
        # differ (viewers get grid counts at every zoom, admins raw points from z12).
        sighting_tiles = [
            f"/tiles/{t}" for t in tile_paths(n_tiles, rng, ("sightings",), near=boxes)
        ]
        by_role = rounds(
            {
                "tile": lambda: drive(base, token, tiles_ours, args.max_seconds),
                "tile_viewer": lambda: drive(base, viewer, tiles_ours, args.max_seconds),
                "sight": lambda: drive(base, token, sighting_tiles, args.max_seconds),
                "sight_viewer": lambda: drive(base, viewer, sighting_tiles, args.max_seconds),
            },
            args.repeat,
        )
        tile, tile_viewer = by_role["tile"], by_role["tile_viewer"]
        sight, sight_viewer = by_role["sight"], by_role["sight_viewer"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        cluster.stop()

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows = [
        (
            "bbox page p50 / p99 ms",
            f"{page['p50']:.0f} / {page['p99']:.0f}",
            f"{base_page['p50']:.0f} / {base_page['p99']:.0f}",
            f"{base_page['p99'] / page['p99']:.1f}x",
            "p99 <= 50",
            met(page["p99"] <= 50),
        ),
        (
            "bbox page throughput req/s",
            f"{page['rps']:.1f}",
            f"{base_page['rps']:.1f}",
            f"{page['rps'] / base_page['rps']:.1f}x",
            ">= 5x",
            met(page["rps"] / base_page["rps"] >= 5),
        ),
        (
            "bbox page size kB (mean)",
            f"{page['mean_kb']:.0f}",
            f"{base_page['mean_kb']:.0f}",
            f"{base_page['mean_kb'] / page['mean_kb']:.2f}x",
            "-",
            "-",
        ),
        (
            "tiles z8-14 p50 / p95 ms",
            f"{tile['p50']:.0f} / {tile['p95']:.0f}",
            f"{base_tile['p50']:.0f} / {base_tile['p95']:.0f}",
            f"{base_tile['p95'] / tile['p95']:.1f}x",
            "p95 <= 50",
            met(tile["p95"] <= 50),
        ),
        (
            "largest tile kB",
            f"{tile['max_kb']:.0f}",
            f"{base_tile['max_kb']:.0f}",
            "-",
            "<= 500",
            met(tile["max_kb"] <= 500),
        ),
    ]
    # Viewers against admins on the same tiles (ours in both columns: the "baseline" is admin).
    for label, v, a in (
        ("tiles", tile_viewer, tile),
        ("sighting tiles", sight_viewer, sight),
    ):
        rows += [
            (
                f"{label} viewer p50 / p95 ms",
                f"{v['p50']:.0f} / {v['p95']:.0f}",
                f"{a['p50']:.0f} / {a['p95']:.0f} (admin)",
                "-",
                "p95 <= 50",
                met(v["p95"] <= 50),
            ),
            (
                f"{label} viewer tiles/s",
                f"{v['rps']:.1f}",
                f"{a['rps']:.1f} (admin)",
                f"{v['rps'] / a['rps']:.2f}x",
                ">= 0.5x",
                met(v["rps"] / a["rps"] >= 0.5),
            ),
        ]
    print()
    print(
        f"{machine}; uvicorn {args.workers} workers, {CLIENTS} concurrent clients; "
        f"median of {args.repeat} runs; {len(ours)} pages of 1,000 features, {len(tiles)} tiles "
        f"(sightings, incidents, admin areas, zones; admin role)"
    )
    head = ("workload", "ours", "baseline", "ratio", "target", "")
    widths = (32, 14, 22, 8, 11, 6)
    print("".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for row in rows:
        print("".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        "baselines: bbox = same page as plain dicts through FastAPI's default encoder; "
        "tiles = same tiles counted from the rows (no count grid)"
    )
    if CPU_ROOTS:
        print("CPU ms per request (median of runs):")
        for label, fig in (
            ("bbox page", page),
            ("bbox baseline", base_page),
            ("tiles", tile),
            ("tiles baseline", base_tile),
            ("tiles viewer", tile_viewer),
            ("sighting admin", sight),
            ("sighting viewer", sight_viewer),
        ):
            parts = ", ".join(f"{part} {fig.get(f'cpu_{part}', 0.0):.1f}" for part in CPU_ROOTS)
            total = sum(fig.get(f"cpu_{part}", 0.0) for part in CPU_ROOTS)
            print(f"  {label:15s} {parts}; total {total:.1f}")
    # For python -m bench (bench/common.py); targets are judged on the large set only.
    from bench.common import Row, report

    def judged(ok: bool) -> bool | None:
        return None if args.quick else ok

    note = f"demo {args.size}, {CLIENTS} clients"
    report(
        [
            Row(
                "bbox page 1,000 features, p50",
                page["p50"],
                base_page["p50"],
                base_page["p50"] / page["p50"],
                unit="ms",
                note=note,
            ),
            Row(
                "bbox page 1,000 features, p99",
                page["p99"],
                base_page["p99"],
                base_page["p99"] / page["p99"],
                "<= 50 ms",
                judged(page["p99"] <= 50),
                "ms",
                note,
            ),
            Row(
                "bbox page throughput",
                page["rps"],
                base_page["rps"],
                page["rps"] / base_page["rps"],
                ">= 5x",
                judged(page["rps"] / base_page["rps"] >= 5),
                "req/s",
                note,
            ),
            Row(
                "tiles z8-14, p50",
                tile["p50"],
                base_tile["p50"],
                base_tile["p50"] / tile["p50"],
                unit="ms",
                note=note,
            ),
            Row(
                "tiles z8-14, p95",
                tile["p95"],
                base_tile["p95"],
                base_tile["p95"] / tile["p95"],
                "<= 50 ms",
                judged(tile["p95"] <= 50),
                "ms",
                note,
            ),
            Row(
                "largest tile",
                tile["max_kb"],
                base_tile["max_kb"],
                target="<= 500 kB",
                met=judged(tile["max_kb"] <= 500),
                unit="kB",
                note=note,
            ),
            *(
                row
                for label, v, a in (
                    ("tiles z8-14", tile_viewer, tile),
                    ("sighting tiles z8-14", sight_viewer, sight),
                )
                for row in (
                    Row(
                        f"{label}, viewer p95 vs admin",
                        v["p95"],
                        a["p95"],
                        a["p95"] / v["p95"],
                        "<= 50 ms",
                        judged(v["p95"] <= 50),
                        "ms",
                        note,
                    ),
                    Row(
                        f"{label}, viewer throughput vs admin",
                        v["rps"],
                        a["rps"],
                        v["rps"] / a["rps"],
                        ">= 0.5x",
                        judged(v["rps"] / a["rps"] >= 0.5),
                        "tiles/s",
                        note,
                    ),
                )
            ),
        ],
        title="api",
        echo=False,
        machine_text=machine,
    )


if __name__ == "__main__":
    main()
