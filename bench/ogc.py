"""OGC API benchmark: a CQL2 filter selecting ~1 % of 1,000,000 sightings against the
equivalent bbox-only page (the same share of the table), first pages of 1,000 features.

    flock /tmp/timpora-bench.lock .venv/bin/python bench/ogc.py           # demo large (1e6)
    flock /tmp/timpora-bench.lock .venv/bin/python bench/ogc.py --quick   # demo small

Data and server: ``bench/api.py``'s database (built once under ``--dir`` and reused) and its
server (the real app under uvicorn, ``--workers``), an admin token (sightings are personal).
Workloads, all ``/ogc/collections/sightings/items?limit=1000``, each selecting 0.8-1.2 % of the
table, chosen from the data:

- ``bbox``: boxes holding that share (the reference);
- ``cql2 spatial``: ``S_INTERSECTS(geometry, BBOX(...))`` with the same boxes;
- ``cql2 attributes``: ``kecamatan_code = ... AND source = ...`` pairs holding that share;
- ``cql2 temporal``: ``T_DURING(observed_at, INTERVAL(...))`` windows holding that share;
- ``cql2 json``: the attribute filters as cql2-json.

With tipg installed in ``.bench-venv`` (``bench/peers-setup.sh``), tipg's ``filter`` with the
same attribute filters runs on the same table too. Each workload is driven by one client, in
turn, ``--rounds`` rounds (the order rotates); the table shows p50/p95 of the pooled latencies and
the ratio to the bbox page. Target: each CQL2 page's p50 within 2x the bbox page's. The script
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import api as ours_api  # noqa: E402
from bench.common import Row, report  # noqa: E402

SHARE = (0.008, 0.012)
PAGE = 1000


def share_boxes(url: str, total: int, n: int, rng: random.Random) -> list[str]:
    """Boxes around sampled sightings holding 0.8-1.2 % of the table."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    out: list[str] = []
    with engine.connect() as conn:
        points = list(
            conn.execute(
                text(
                    "SELECT ST_X(geom), ST_Y(geom) FROM sighting "
                    "TABLESAMPLE BERNOULLI (1) REPEATABLE (3)"
                )
            ).all()
        )
        rng.shuffle(points)
        for lon, lat in points[: n * 20]:
            low, high = 0.001, 0.5  # box side in degrees, bisected to the wanted share
            for _ in range(12):
                side = (low + high) / 2
                box = (lon - side / 2, lat - side / 2, lon + side / 2, lat + side / 2)
                rows = conn.execute(
                    text(
                        "SELECT count(*) FROM sighting "
                        "WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4326)"
                    ),
                    dict(zip("abcd", box, strict=True)),
                ).scalar_one()
                if SHARE[0] * total <= rows <= SHARE[1] * total:
                    out.append(",".join(f"{v:.5f}" for v in box))
                    break
                if rows > SHARE[1] * total:
                    high = side
                else:
                    low = side
            if len(out) == n:
                break
    engine.dispose()
    return out


def attribute_filters(url: str, total: int) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        groups = conn.execute(
            text(
                "SELECT kecamatan_code, source, count(*) FROM sighting "
                "WHERE kecamatan_code IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ).all()
    engine.dispose()
    return [
        f"kecamatan_code = '{k}' AND source = '{s}'"
        for k, s, c in groups
        if SHARE[0] * total <= c <= SHARE[1] * total
    ]


def temporal_filters(url: str, total: int, n: int) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    out: list[str] = []
    with engine.connect() as conn:
        first, last = conn.execute(
            text("SELECT min(observed_at), max(observed_at) FROM sighting")
        ).one()
        span = (last - first).total_seconds()
        for i in range(n * 4):
            start = first + (last - first) * ((i * 0.37) % 0.9)
            window = span * 0.01
            for _ in range(6):
                end = start + (last - first) * (window / span)
                rows = conn.execute(
                    text(
                        "SELECT count(*) FROM sighting WHERE observed_at > :s AND observed_at < :e"
                    ),
                    {"s": start, "e": end},
                ).scalar_one()
                if SHARE[0] * total <= rows <= SHARE[1] * total:
                    interval = f"INTERVAL('{start.isoformat()}', '{end.isoformat()}')"
                    out.append(f"T_DURING(observed_at, {interval})")
                    break
                window *= 0.01 * total / max(rows, 1)
            if len(out) == n:
                break
    engine.dispose()
    return out


def as_json(cql: str) -> str:
    import cql2

    return json.dumps(cql2.Expr(cql).to_json())


def timed(base: str, token: str, path: str) -> float:
    import http.client

    host = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=120)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t0
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    returned = json.loads(body).get("numberReturned")
    if returned is None or returned < 1:
        raise RuntimeError(f"{path}: no features")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small demo set, fewer requests")
    parser.add_argument("--filters", type=int, default=8, help="filters per workload")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (each filter once)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--dir", default="/tmp/timpora-bench-api", help="cluster directory")
    parser.add_argument("--fresh", action="store_true", help="rebuild the data set")
    args = parser.parse_args()
    args.size = "small" if args.quick else "large"
    if args.quick:
        args.rounds = min(args.rounds, 2)

    url, cluster = ours_api.open_database(args)
    print(f"data: demo {args.size}: {ours_api.build(url, args.size)}", flush=True)
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        total = int(conn.execute(text("SELECT count(*) FROM sighting")).scalar_one())
    engine.dispose()
    rng = random.Random(11)
    boxes = share_boxes(url, total, args.filters, rng)
    attributes = attribute_filters(url, total)
    rng.shuffle(attributes)
    attributes = attributes[: args.filters]
    temporal = temporal_filters(url, total, args.filters)
    token = ours_api.make_token(url)
    machine = ours_api.describe_machine(url)
    items = "/ogc/collections/sightings/items"

    def cql(f: str, lang: str = "cql2-text") -> str:
        return (
            f"{items}?{urllib.parse.urlencode({'filter': f, 'filter-lang': lang, 'limit': PAGE})}"
        )

    workloads: dict[str, list[tuple[str, str]]] = {
        "bbox": [("ours", f"{items}?bbox={b}&limit={PAGE}") for b in boxes],
        "cql2 spatial": [("ours", cql(f"S_INTERSECTS(geometry, BBOX({b}))")) for b in boxes],
        "cql2 attributes": [("ours", cql(f)) for f in attributes],
        "cql2 temporal": [("ours", cql(f)) for f in temporal],
        "cql2 json": [("ours", cql(as_json(f), "cql2-json")) for f in attributes],
    }
    print(
        f"{total:,} sightings; per workload: {len(boxes)} boxes, {len(attributes)} attribute "
        f"and {len(temporal)} temporal filters, each holding {SHARE[0]:.1%}-{SHARE[1]:.1%}",
        flush=True,
    )
    servers: dict[str, tuple[str, str]] = {}
    processes = []
    tipg = ROOT / ".bench-venv" / "bin" / "uvicorn"
    workdir = Path(tempfile.mkdtemp(prefix="timpora-bench-ogc-"))
    try:
        process, base = ours_api.start_server(url, args.workers)
        processes.append(process)
        servers["ours"] = (base, token)
        if tipg.exists():
            from bench import peers

            plain_url = url.replace("postgresql+psycopg2://", "postgresql://")
            peer = peers.start_tipg(plain_url, workdir)
            processes.append(peer.process)
            servers["tipg"] = (peer.base, "")
            tipg_items = "/collections/public.sighting/items"
            workloads["tipg bbox"] = [
                ("tipg", f"{tipg_items}?bbox={b}&limit={PAGE}") for b in boxes
            ]
            workloads["tipg cql2 attributes"] = [
                ("tipg", f"{tipg_items}?{urllib.parse.urlencode(query)}")
                for query in (
                    {"filter": f, "filter-lang": "cql2-text", "limit": PAGE} for f in attributes
                )
            ]
        for paths in workloads.values():  # warm up
            for server, path in paths[:2]:
                timed(*servers[server], path)
        latencies: dict[str, list[float]] = {name: [] for name in workloads}
        names = list(workloads)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                for server, path in workloads[name]:
                    latencies[name].append(timed(*servers[server], path))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        cluster.stop()

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    ref = statistics.median(latencies["bbox"]) * 1e3
    print()
    print(f"{machine}; one client, {args.rounds} rounds; first pages of {PAGE:,} features")
    print(f"{'workload':24s}{'p50 ms':>9s}{'p95 ms':>9s}{'vs bbox':>9s}  target")
    rows = []
    for name, values in latencies.items():
        if not values:
            continue
        p50 = statistics.median(values) * 1e3
        ratio = p50 / ref
        ok = ratio <= 2 if name.startswith("cql2") else None
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        print(f"{name:24s}{p50:9.1f}{pct(values, 0.95):9.1f}{ratio:8.2f}x  {verdict}")
        rows.append(
            Row(
                f"first page, {name}",
                p50,
                ref,
                ratio,
                "<= 2x bbox" if ok is not None else "",
                None if args.quick or ok is None else ok,
                "ms",
                f"demo {args.size}, 1 client",
            )
        )
    if "tipg bbox" not in latencies:
        print("tipg: not installed (bench/peers-setup.sh), its filter was not measured")
    report(rows, title="ogc", echo=False, machine_text=machine)


if __name__ == "__main__":
    main()
