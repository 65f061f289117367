"""API benchmark: a 1,000-feature bbox page from 1,000,000 sightings, and vector tiles.

    .venv/bin/python bench/api.py [--rows 1000000] [--requests 400] [--tiles 300]

Builds its own throwaway PostGIS cluster (reference geography loaded, sightings made with SQL
``generate_series``), serves the real app with uvicorn in a subprocess on 127.0.0.1, and drives
it with 8 concurrent clients. The baseline is the same page returned as plain dicts through
FastAPI's default encoder (``jsonable_encoder`` + ``JSONResponse``), measured in the same run.
Prints a table with ratios; it asserts nothing.
"""

import argparse
import math
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = 8
AREA = (108.95, 0.85, 109.85, 2.05)  # where the synthetic sightings are


def build_database(rows: int) -> tuple[Any, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from geo.boundaries import load_reference_data
    from geo.cluster import EmbeddedCluster, free_port_from
    from geo.migrate import upgrade
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    base = Path(tempfile.mkdtemp(prefix="timpora-bench-"))
    base.chmod(0o755)
    cluster = EmbeddedCluster(base, preferred_port=free_port_from(56432), ephemeral=True)
    cluster.init()
    cluster.start()
    url = cluster.url()
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
    upgrade(engine)
    settings = Settings(
        database=DatabaseSettings(database_url=url),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test", rate_limit_per_minute=0),
    )
    t0 = time.perf_counter()
    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
        session.execute(
            text(
                """
                INSERT INTO sighting (observed_at, source, geom, external_ref)
                SELECT timestamptz '2025-01-01' + (g * interval '31 seconds'),
                       (ARRAY['patrol','lodging','checkpoint','public_report','other'])[1 + g % 5],
                       ST_SetSRID(ST_MakePoint(:minx + random() * (:maxx - :minx),
                                               :miny + random() * (:maxy - :miny)), 4326),
                       'bench-' || g
                FROM generate_series(1, :n) AS g
                """
            ),
            {"n": rows, "minx": AREA[0], "miny": AREA[1], "maxx": AREA[2], "maxy": AREA[3]},
        )
        session.commit()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE sighting")
        )
    print(f"built {rows:,} sightings in {time.perf_counter() - t0:.1f} s", flush=True)
    with Session(engine) as session:
        from geo.users import create_user

        _, token = create_user(session=session, name="bench", role="admin")
        session.commit()
    engine.dispose()
    return cluster, f"{url}|{token}"


def make_app(url: str) -> Any:
    """The real app plus one baseline route (bench only): plain dicts, FastAPI's encoder."""
    from fastapi import Depends
    from fastapi.responses import JSONResponse
    from sqlalchemy import text

    from api.app import create_app
    from api.auth import require
    from api.deps import SessionDep
    from geo.access import READ
    from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

    settings = Settings(
        database=DatabaseSettings(database_url=url, pool_size=10),
        area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
        service=ServiceSettings(environment="test", rate_limit_per_minute=0),
    )
    app = create_app(settings)

    @app.get("/bench/baseline", response_class=JSONResponse, dependencies=[Depends(require(READ))])
    def baseline(session: SessionDep, bbox: str, limit: int = 1000) -> dict[str, Any]:
        minx, miny, maxx, maxy = (float(v) for v in bbox.split(","))
        rows = session.execute(
            text(
                "SELECT t.*, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat FROM sighting t "
                "WHERE t.geom && ST_MakeEnvelope(:a, :b, :c, :d, 4326) ORDER BY t.id LIMIT :n"
            ),
            {"a": minx, "b": miny, "c": maxx, "d": maxy, "n": limit},
        ).mappings()
        skip = {"geom", "geom_utm", "lon", "lat"}
        features = [
            {
                "type": "Feature",
                "id": r["id"],
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {k: v for k, v in r.items() if k not in skip},
            }
            for r in rows
        ]
        return {"type": "FeatureCollection", "features": features}

    return app


def serve(url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(make_app(url), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drive(base: str, token: str, paths: list[str]) -> tuple[list[float], float, list[int]]:
    """Run ``paths`` over 8 concurrent clients; (latencies s, wall s, body sizes)."""
    import httpx

    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()
    queue = list(paths)

    def worker() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
            while True:
                with lock:
                    if not queue:
                        return
                    path = queue.pop()
                t0 = time.perf_counter()
                r = c.get(path, timeout=60)
                dt = time.perf_counter() - t0
                if r.status_code not in (200, 204):
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
                with lock:
                    latencies.append(dt)
                    sizes.append(len(r.content))

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0, sizes


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def tile_paths(n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        z = rng.choice([8, 9, 10, 11, 12, 13, 14])
        lon = rng.uniform(AREA[0], AREA[2])
        lat = rng.uniform(AREA[1], AREA[3])
        x = int((lon + 180) / 360 * 2**z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
        out.append(f"/tiles/{rng.choice(['sightings', 'admin-areas', 'zones'])}/{z}/{x}/{y}.mvt")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--tiles", type=int, default=300)
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    cluster, packed = build_database(args.rows)
    url, token = packed.split("|")
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", url, str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        rng = random.Random(5)
        side = 0.05  # ~5.5 km: ~2,300 points at this density, so every page is full
        boxes = []
        for _ in range(args.requests):
            x = rng.uniform(AREA[0], AREA[2] - side)
            y = rng.uniform(AREA[1], AREA[3] - side)
            boxes.append(f"{x:.5f},{y:.5f},{x + side:.5f},{y + side:.5f}")
        ours = [f"/api/v1/sightings?bbox={b}&limit=1000" for b in boxes]
        base_paths = [f"/bench/baseline?bbox={b}&limit=1000" for b in boxes]
        drive(base, token, ours[:40] + base_paths[:40])  # warm up
        lat_ours, wall_ours, size_ours = drive(base, token, ours)
        lat_base, wall_base, _ = drive(base, token, base_paths)
        tiles = tile_paths(args.tiles, rng)
        drive(base, token, tiles[:30])
        lat_tiles, _, size_tiles = drive(base, token, tiles)
        check = httpx.get(f"{base}{ours[0]}", headers={"Authorization": f"Bearer {token}"}).json()
        print()
        print(
            f"{args.rows:,} sightings; {CLIENTS} concurrent clients; {args.requests} pages of "
            f"{check['numberReturned']} features (mean {statistics.mean(size_ours) / 1e3:.0f} kB)"
        )
        print(f"{'':32}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}")
        rps_ours = len(lat_ours) / wall_ours
        rps_base = len(lat_base) / wall_base
        for name, lat, rps in (
            ("bbox page (GeoJSON in PostGIS)", lat_ours, rps_ours),
            ("baseline (dicts, FastAPI enc.)", lat_base, rps_base),
        ):
            print(f"{name:32}{pct(lat, 0.5) * 1e3:9.1f}{pct(lat, 0.99) * 1e3:9.1f}{rps:9.1f}")
        print(
            f"throughput ratio ours/baseline: {rps_ours / rps_base:.1f}x  (target >= 5x); "
            f"p99 {pct(lat_ours, 0.99) * 1e3:.1f} ms (target <= 50 ms)"
        )
        print(
            f"tiles: {len(lat_tiles)} at z8-14, p50 {pct(lat_tiles, 0.5) * 1e3:.1f} ms, "
            f"p95 {pct(lat_tiles, 0.95) * 1e3:.1f} ms (target <= 50), "
            f"max {max(size_tiles) / 1e3:.1f} kB (target <= 500)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        cluster.destroy()


if __name__ == "__main__":
    main()
