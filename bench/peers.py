"""Peers: our API against tipg and pygeoapi serving the same ``sighting`` table.

    bench/peers-setup.sh                        # once: tipg and pygeoapi in .bench-venv
    .venv/bin/python bench/peers.py             # the large demo set, 3 rounds (~15 min here)
    .venv/bin/python bench/peers.py --quick     # the small demo set, 1 round, few requests
    .venv/bin/python bench/peers.py --markdown  # the tables as Markdown too

Data: the database of ``bench/api.py`` (demo ``large``: 1,000,000 sightings in monthly
partitions of ``sighting``, built once under ``--dir`` and reused). Three servers run at once on
127.0.0.1, one worker process each, all reading that database:

- ours: the real app under uvicorn (``bench/api.py``'s server, ``--workers 1``), with an admin
  token (every property, raw points) and a viewer token (no personal data: no sighting page,
  403; sighting tiles as grid counts);
- tipg (``tipg.main:app`` under uvicorn, ``.bench-venv``): configured as its documentation says
  for PostGIS, through environment variables: ``DATABASE_URL``, ``TIPG_DB_SCHEMAS``,
  ``TIPG_DB_TABLES=["public.sighting"]`` (the parent of the partitioned table) and the table's
  ``geomcol``/``datetimecol``/``pk``;
- pygeoapi (``pygeoapi.starlette_app:APP`` under uvicorn, ``.bench-venv``): one collection with
  its ``PostgreSQL`` feature provider on ``sighting`` (``id_field: id``, ``geom_field: geom``),
  configuration and OpenAPI document written to a temporary folder.

Workloads, all built from the data: 1,000-feature bbox pages of four boxes (the densest 5 km box,
the sparsest 5 km box still holding 1,000 sightings, the 20 km box around the densest, and the
whole regency: ``admin_area``'s kabupaten), and sighting tiles at z8-14 around four points (the
two 5 km boxes' centres, the regency's centre, PLBN Aruk). Per round and server (the order of the
servers rotates every round): each box ``--single`` times by one client, then ``--multi`` times by
8 concurrent keep-alive clients; the tiles once in turn by one client, then ``--tile-passes``
times by 8 clients. Latencies of all rounds are pooled for p50/p99; throughput is the median of
the rounds; bytes are the mean body size. The first response of each (server, workload) says
what it returned. Load is bounded in count and in time (``--max-seconds`` per 8-client run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api as ours_api  # noqa: E402
from bench.common import Row, machine, report  # noqa: E402

VENV = ROOT / ".bench-venv"
SIDE_5KM_DEG = 5_000 / 111_320  # degrees of latitude; longitude is scaled by cos(lat)
ARUK = (109.6467, 1.4133)
ZOOMS = range(8, 15)
PAGE = 1000
COUNT_SQL_TEXT = "SELECT count(*) FROM sighting WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4326)"


# --- the servers --------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    # bbox "x0,y0,x1,y1" -> path of a 1,000-feature page; None: this caller may read no page
    items: Callable[[str], str] | None
    tile: Callable[[int, int, int], str] | None  # z, x, y -> path of a sighting tile
    token: str = ""


def wait_until_up(process: subprocess.Popen[bytes], url: str, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.5)


def uvicorn(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A peer under the bench environment's uvicorn, one worker, 127.0.0.1 only."""
    command = [str(VENV / "bin" / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def peer_env(extra: dict[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}


def start_tipg(url: str, workdir: Path) -> Server:
    port = ours_api.free_port()
    env = peer_env(
        {
            "DATABASE_URL": url,
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_DB_TABLES": '["public.sighting"]',
            "TIPG_DB_FUNCTIONS": "[]",  # PostGIS's own set-returning functions otherwise
            "TIPG_TABLE_CONFIG__public_sighting__GEOMCOL": "geom",
            "TIPG_TABLE_CONFIG__public_sighting__DATETIMECOL": "observed_at",
            "TIPG_TABLE_CONFIG__public_sighting__PK": "id",
            "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        }
    )
    process = uvicorn("tipg.main:app", port, env, workdir / "tipg.log")
    base = f"http://127.0.0.1:{port}"
    wait_until_up(process, f"{base}/collections/public.sighting")
    return Server(
        "tipg",
        base,
        process,
        items=lambda b: f"/collections/public.sighting/items?bbox={b}&limit={PAGE}",
        tile=lambda z, x, y: f"/collections/public.sighting/tiles/WebMercatorQuad/{z}/{x}/{y}",
    )


PYGEOAPI_CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 10, max_items: 10000}}
  map:
    url: https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png
    attribution: OpenStreetMap
logging:
  level: ERROR
metadata:
  identification:
    title: bench
    description: bench
    keywords: [bench]
    keywords_type: theme
    terms_of_service: https://example.org
    url: https://example.org
  license: {{name: CC-BY 4.0, url: https://creativecommons.org/licenses/by/4.0/}}
  provider: {{name: bench, url: https://example.org}}
  contact: {{name: bench, position: bench, address: bench, city: bench, stateorprovince: bench,
            postalcode: "0", country: ID, phone: "0", fax: "0", email: bench@example.org,
            url: https://example.org, hours: "0", instructions: bench, role: pointOfContact}}
resources:
  sightings:
    type: collection
    title: sightings
    description: the sighting table (parent of the monthly partitions)
    keywords: [sightings]
    extents:
      spatial:
        bbox: [108.5, 0.5, 110.5, 2.5]
        crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84
    providers:
      - type: feature
        name: PostgreSQL
        data:
          host: {host}
          port: {db_port}
          dbname: {dbname}
          user: {user}
          password: {password}
          search_path: [public]
        id_field: id
        table: sighting
        geom_field: geom
"""


def scalar_columns(url: str) -> list[str]:
    """``sighting``'s columns other than its two geometries, in table order."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'sighting'::regclass "
                "AND attnum > 0 AND NOT attisdropped "
                "AND atttypid <> 'geometry'::regtype ORDER BY attnum"
            )
        ).scalars()
        columns = [str(n) for n in names]
    engine.dispose()
    return columns


def start_pygeoapi(url: str, workdir: Path) -> Server:
    from sqlalchemy.engine import make_url

    # pygeoapi's PostgreSQL provider returns every column as a property, and cannot encode the
    # second geometry (geom_utm, EPSG:32649): a 500 for every page. Its own ``properties=``
    # parameter asks for the other columns, which is what tipg returns.
    properties = ",".join(c for c in scalar_columns(url) if c != "id")
    parts = make_url(url)
    port = ours_api.free_port()
    config = workdir / "pygeoapi.yml"
    config.write_text(
        PYGEOAPI_CONFIG.format(
            port=port,
            host=parts.host,
            db_port=parts.port,
            dbname=parts.database,
            user=parts.username,
            password=json.dumps(parts.password),
        )
    )
    openapi = workdir / "pygeoapi-openapi.yml"
    env = peer_env({"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)})
    subprocess.run(
        [str(VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config), "--output-file",
         str(openapi)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    process = uvicorn("pygeoapi.starlette_app:APP", port, env, workdir / "pygeoapi.log")
    base = f"http://127.0.0.1:{port}"
    wait_until_up(process, f"{base}/collections/sightings?f=json")
    return Server(
        "pygeoapi",
        base,
        process,
        items=lambda b: (
            f"/collections/sightings/items?bbox={b}&limit={PAGE}&properties={properties}&f=json"
        ),
        tile=None,  # no tile provider configured: the issue compares tiles with tipg only
    )


def start_ours(url: str, token: str, name: str = "ours") -> Server:
    process, base = ours_api.start_server(url, workers=1)
    return Server(
        name,
        base,
        process,
        items=lambda b: f"/api/v1/sightings?bbox={b}&limit={PAGE}",
        tile=lambda z, x, y: f"/tiles/sightings/{z}/{x}/{y}.mvt",
        token=token,
    )


# --- the workloads ------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    name: str
    bbox: tuple[float, float, float, float]
    rows: int

    @property
    def text(self) -> str:
        return ",".join(f"{v:.6f}" for v in self.bbox)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2


def square(lon: float, lat: float, side_m: float) -> tuple[float, float, float, float]:
    half_lat = side_m / 2 / 111_320
    half_lon = half_lat / math.cos(math.radians(lat))
    return (lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)


def boxes(url: str) -> list[Box]:
    """The four boxes, chosen from the data: 5 km squares on a lattice over the sightings,
    counted exactly; the densest, the sparsest holding >= 1.5 pages, the 20 km around the
    densest, and the regency (the kabupaten's extent)."""
    from sqlalchemy import create_engine, text

    count_sql = text(COUNT_SQL_TEXT)
    engine = create_engine(url)
    with engine.connect() as conn:
        regency = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                "ST_Extent(geom) AS e FROM admin_area WHERE level = 'kabupaten') s"
            )
        ).one()
        x0, y0, x1, y1 = (float(v) for v in regency)
        lat_step = SIDE_5KM_DEG
        lon_step = SIDE_5KM_DEG / math.cos(math.radians((y0 + y1) / 2))
        # Sightings per 5 km lattice square (one pass over the table).
        counts = conn.execute(
            text(
                "SELECT floor((ST_X(geom) - :x0) / :dx)::int AS i, "
                "floor((ST_Y(geom) - :y0) / :dy)::int AS j, count(*) FROM sighting "
                "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) GROUP BY 1, 2"
            ),
            {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "dx": lon_step, "dy": lat_step},
        ).all()
        total = conn.execute(
            count_sql,
            {"a": x0, "b": y0, "c": x1, "d": y1},
        ).scalar_one()

        def lattice(i: int, j: int) -> tuple[float, float, float, float]:
            return (x0 + i * lon_step, y0 + j * lat_step, x0 + (i + 1) * lon_step,
                    y0 + (j + 1) * lat_step)  # fmt: skip

        dense = max(counts, key=lambda r: r[2])
        sparse = min((r for r in counts if r[2] >= PAGE * 3 // 2), key=lambda r: r[2])
        d_box = lattice(dense[0], dense[1])
        centre = ((d_box[0] + d_box[2]) / 2, (d_box[1] + d_box[3]) / 2)
        wide = square(*centre, 20_000)
        wide_rows = conn.execute(
            count_sql,
            dict(zip("abcd", wide, strict=True)),
        ).scalar_one()
    engine.dispose()
    return [
        Box("dense 5 km box", d_box, int(dense[2])),
        Box("sparse 5 km box", lattice(sparse[0], sparse[1]), int(sparse[2])),
        Box("20 km box", wide, int(wide_rows)),
        Box("whole regency", (x0, y0, x1, y1), int(total)),
    ]


def tile_set(points: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
    seen: list[tuple[int, int, int]] = []
    for z in ZOOMS:
        for lon, lat in points:
            x, y = ours_api.tile_of(lon, lat, z)
            if (z, x, y) not in seen:
                seen.append((z, x, y))
    return seen


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Figures:
    single: list[float] = field(default_factory=list)  # seconds, all rounds
    rps: list[float] = field(default_factory=list)  # one per round
    sizes: list[int] = field(default_factory=list)
    returns: str = ""

    def p(self, q: float) -> float:
        ordered = sorted(self.single)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1e3


def sequential(base: str, token: str, paths: list[str]) -> tuple[list[float], list[bytes]]:
    """One keep-alive client, one request after the other."""
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    times, bodies = [], []
    try:
        for path in paths:
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append(time.perf_counter() - t0)
            if response.status not in (200, 204):
                raise RuntimeError(f"{base}{path}: {response.status} {body[:300]!r}")
            bodies.append(body)
    finally:
        conn.close()
    return times, bodies


def describe_page(body: bytes) -> str:
    doc = json.loads(body)
    features = doc.get("features", [])
    props = sorted(features[0].get("properties", {})) if features else []
    counts = [k for k in ("numberMatched",) if k in doc]
    extra = f", {', '.join(counts)}" if counts else ""
    return f"{len(features)} features, {len(props)} properties ({', '.join(props)}){extra}"


def describe_tiles(bodies: list[bytes]) -> str:
    empty = sum(1 for b in bodies if not b)
    return f"{len(bodies) - empty} tiles with data, {empty} empty (204 or 0 bytes)"


def measure_round(
    servers: list[Server],
    box_list: list[Box],
    tiles: list[tuple[int, int, int]],
    figures: dict[tuple[str, str], Figures],
    args: argparse.Namespace,
) -> None:
    for server in servers:
        items = server.items
        for box in box_list:
            if items is None:  # a caller that may read no page
                break
            f = figures.setdefault((server.name, box.name), Figures())
            path = items(box.text)
            times, bodies = sequential(server.base, server.token, [path] * args.single)
            f.single += times
            f.sizes += [len(b) for b in bodies]
            f.returns = f.returns or describe_page(bodies[0])
            run = ours_api.drive(server.base, server.token, [path] * args.multi, args.max_seconds)
            f.rps.append(run.rps)
        if server.tile is None:
            continue
        tile_fn = server.tile
        paths = [tile_fn(z, x, y) for z, x, y in tiles]
        f = figures.setdefault((server.name, "tiles"), Figures())
        times, bodies = sequential(server.base, server.token, paths)
        f.single += times
        f.sizes += [len(b) for b in bodies]
        f.returns = f.returns or describe_tiles(bodies)
        run = ours_api.drive(server.base, server.token, paths * args.tile_passes, args.max_seconds)
        f.rps.append(run.rps)


# --- reporting ----------------------------------------------------------------------------


def cell(f: Figures | None) -> str:
    if f is None:
        return "-"
    return f"{f.p(0.5):.0f} / {f.p(0.99):.0f} ms, {statistics.median(f.rps):.1f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small demo set, 1 round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (servers alternated)")
    parser.add_argument("--single", type=int, help="single-client requests a box a round (20)")
    parser.add_argument("--multi", type=int, help="8-client requests a box a round (48)")
    parser.add_argument("--tile-passes", type=int, default=4, help="8-client passes over tiles")
    parser.add_argument("--max-seconds", type=float, default=60, help="bound of an 8-client run")
    parser.add_argument("--dir", default="/tmp/timpora-bench-api", help="cluster directory")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data set")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables too")
    args = parser.parse_args()
    if not (VENV / "bin" / "tipg").exists() and not (VENV / "bin" / "uvicorn").exists():
        sys.exit(f"{VENV} is missing: run bench/peers-setup.sh first")
    args.size = "small" if args.quick else "large"
    args.single = args.single or (5 if args.quick else 20)
    args.multi = args.multi or (16 if args.quick else 48)
    if args.quick:
        args.rounds, args.tile_passes = 1, 1

    load_start = Path("/proc/loadavg").read_text().strip()
    url, cluster = ours_api.open_database(args)
    print(f"data: demo {args.size}: {ours_api.build(url, args.size)}", flush=True)
    box_list = boxes(url)
    tiles = tile_set([box_list[0].centre, box_list[1].centre, box_list[3].centre, ARUK])
    from sqlalchemy import create_engine

    engine = create_engine(url)
    where = machine(engine)
    engine.dispose()
    admin, viewer = ours_api.make_token(url), ours_api.make_token(url, "viewer")
    plain_url = url.replace("postgresql+psycopg2://", "postgresql://")
    workdir = Path(tempfile.mkdtemp(prefix="timpora-peers-"))
    servers: list[Server] = []
    figures: dict[tuple[str, str], Figures] = {}
    try:
        ours = start_ours(url, admin)
        servers.append(ours)
        # A viewer reads no sighting page (sightings are personal: 403), only the tiles, which
        # are counts for it at every zoom.
        servers.append(Server("ours (viewer)", ours.base, ours.process, None, ours.tile,
                              viewer))  # fmt: skip
        servers.append(start_tipg(plain_url, workdir))
        servers.append(start_pygeoapi(url, workdir))
        order = [s for s in servers]
        print(f"warm-up: {len(box_list)} boxes, {len(tiles)} tiles", flush=True)
        warm = argparse.Namespace(**{**vars(args), "single": 1, "multi": 8, "tile_passes": 1})
        measure_round(order, box_list, tiles, {}, warm)
        for r in range(args.rounds):
            rotated = order[r % len(order) :] + order[: r % len(order)]
            print(f"round {r + 1}: {', '.join(s.name for s in rotated)}", flush=True)
            measure_round(rotated, box_list, tiles, figures, args)
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
                server.process.wait(timeout=30)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    load_end = Path("/proc/loadavg").read_text().strip()
    print_report(box_list, tiles, figures, args, where, load_start, load_end)


def print_report(
    box_list: list[Box],
    tiles: list[tuple[int, int, int]],
    figures: dict[tuple[str, str], Figures],
    args: argparse.Namespace,
    where: str,
    load_start: str,
    load_end: str,
) -> None:
    names = ["ours", "ours (viewer)", "tipg", "pygeoapi"]
    print()
    print(f"{where}; /proc/loadavg at start: {load_start}; at end: {load_end}")
    print(
        f"demo {args.size}; {args.rounds} rounds, servers rotated; one worker each; per round a "
        f"box {args.single}x by 1 client, {args.multi}x by 8 clients; {len(tiles)} tiles "
        f"z{ZOOMS[0]}-{ZOOMS[-1]} once by 1 client, {args.tile_passes}x by 8 clients"
    )
    workloads = [(b.name, f"{b.name} ({b.rows:,} rows; bbox {b.text})") for b in box_list]
    workloads.append(("tiles", f"sighting tiles, {len(tiles)} tiles z8-14"))
    header = ["workload", *(f"{n}: p50 / p99, 8-client" for n in names)]
    lines = []
    for key, label in workloads:
        lines.append([label, *(cell(figures.get((n, key))) for n in names)])
    sizes = []
    for key, label in workloads:
        row = [label]
        for n in names:
            f = figures.get((n, key))
            row.append("-" if f is None else f"{statistics.mean(f.sizes) / 1e3:,.1f} kB")
        sizes.append(row)
    returns = []
    for key, label in workloads:
        for n in names:
            f = figures.get((n, key))
            if f is not None:
                returns.append([label.split(" (")[0], n, f.returns])
    verdicts = []
    for key, _ in workloads:
        ours = figures.get(("ours", key))
        if ours is None:
            continue
        peers = ["tipg"] if key == "tiles" else ["tipg", "pygeoapi"]
        for peer in peers:
            other = figures.get((peer, key))
            if other is None:
                continue
            ratio = statistics.median(ours.rps) / statistics.median(other.rps)
            verdict = f"{ratio:.1f}x throughput (target >= 5x: {'met' if ratio >= 5 else 'MISSED'})"
            if key != "tiles":
                ok = ours.p(0.5) <= other.p(0.5)
                verdict += (
                    f"; p50 {ours.p(0.5):.0f} vs {other.p(0.5):.0f} ms "
                    f"(target <=: {'met' if ok else 'MISSED'})"
                )
            verdicts.append([key, f"ours vs {peer}", verdict])
    for title, head, body in (
        ("latency and throughput", header, lines),
        ("mean response size", ["workload", *names], sizes),
        ("what each returned (first response)", ["workload", "server", "returned"], returns),
        ("targets", ["workload", "comparison", "result"], verdicts),
    ):
        print()
        print(title)
        widths = [max(len(str(r[k])) for r in [head, *body]) for k in range(len(head))]
        for r in [head, *body]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if args.markdown:
            print()
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            for r in body:
                print("| " + " | ".join(str(c) for c in r) + " |")
    rows = []
    for key, _ in workloads:
        ours = figures.get(("ours", key))
        tipg = figures.get(("tipg", key))
        if ours and tipg:
            rows.append(
                Row(
                    f"{key}: throughput vs tipg",
                    statistics.median(ours.rps),
                    statistics.median(tipg.rps),
                    statistics.median(ours.rps) / statistics.median(tipg.rps),
                    ">= 5x",
                    None
                    if args.quick
                    else statistics.median(ours.rps) >= 5 * statistics.median(tipg.rps),
                    "req/s",
                    f"demo {args.size}, 8 clients, 1 worker each",
                )
            )
    report(rows, title="peers", echo=False, machine_text=where)


if __name__ == "__main__":
    main()
