"""Benchmark: how one node grows from 1e5 to 1e7 sightings (docs/scaling.md).

At each size (reached by adding rows to the same table) it measures:

- bulk insert rate: ``INSERT ... SELECT generate_series``, one transaction per million rows,
  into the partitioned table with all its indexes; the derived location columns come from
  50,000 pre-located points (the location cost per row is measured once, on those points, and
  printed: it does not grow with the table); then ``VACUUM (ANALYZE)``, timed;
- a map page: 7-day window x 10 km bbox, first 1,000 rows by id (p50, p95 of 30 queries);
- the ``sighting_near_border`` alert rule (2 km, hysteresis, cooldown) in batch over the last
  day of data (median of 3, rolled back);
- the Gi* hotspot count query (``hotspot_cells``, 1 km hexagons, last 28 days; median of 3);
- table and index size of the partitioned ``sighting``.

Sightings spread over one year (2024, 12 monthly partitions), so the rate per day grows with the
size, as it does when offices are added: 1e7 a year is ~27,000 lodging/patrol reports a day.
80 % belong to one of 10,000 foreigners (within ~3 km of home), the rest anywhere in the regency.

The cluster is a throwaway one under ``--dir`` (fsync off: write figures are an upper bound for a
durable server); ``TIMPORA_BENCH_DATABASE_URL`` points it at another server on 127.0.0.1.

    .venv/bin/python bench/scaling.py              # 1e5, 1e6, 1e7 (tens of minutes on 2 cores)
    .venv/bin/python bench/scaling.py --quick      # 1e4, 1e5 (about a minute)
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.common import Row, bench_settings, external_url, machine, report, run_times  # noqa: E402
from geo.alerts import run_batch  # noqa: E402
from geo.cluster import EmbeddedCluster, free_port_from  # noqa: E402
from geo.hotspots import hotspot_cells  # noqa: E402
from geo.migrate import upgrade  # noqa: E402
from geo.partitions import ensure_range  # noqa: E402

DATABASE = "bench_scaling"
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
FOREIGNERS = 10_000
CHUNK = 1_000_000
SHARED_DATA = ROOT.parent / "shared" / "data"

# 50,000 points inside the regency, numbered along a geohash curve (so neighbouring numbers are
# neighbouring places), located once: a sighting takes one of them with its derived columns, so
# the insert figures measure the table and its indexes; the per-row location cost is measured
# once on the points (it does not depend on the table's size).
SEED_SQL = [
    "SELECT setseed(0.12)",
    """
    CREATE TABLE bench_point AS
    SELECT row_number() OVER (ORDER BY ST_GeoHash(ST_Transform(p.geom, 4326), 10)) AS n,
           p.geom AS pt
    FROM (SELECT ST_Union(geom_utm) AS kg FROM admin_area WHERE level = 'kabupaten') k,
         ST_Dump(ST_GeneratePoints(k.kg, 50000, 12)) p
    """,
    "CREATE UNIQUE INDEX ON bench_point (n)",
    """
    INSERT INTO foreigner (full_name, nationality, permit_type, permit_expires_on, geom)
    SELECT 'Bench Person ' || g, 'MYS', (ARRAY['KITAS','KITAP','PLB','VOA'])[1 + g % 4],
           date '2024-03-01' + (g * 37) % 1000, ST_Transform(p.pt, 4326)
    FROM generate_series(1, :foreigners) g JOIN bench_point p ON p.n = 1 + (g * 5) % 50000
    """,
]
LOCATE_SQL = """
CREATE TABLE bench_located AS
SELECT b.n, b.pt, l.* FROM bench_point b, timpora_locate(ST_Transform(b.pt, 4326)) l
"""

# g runs over the new rows; rows are spread evenly over the year, in time order. 80 % are of a
# foreigner, at one of the 41 points next to their home on the curve; the rest anywhere.
INSERT_SQL = text(
    """
    INSERT INTO sighting (foreigner_id, observed_at, source, geom, kecamatan_code,
                          kecamatan_name, desa_code, desa_name, distance_to_border_m, border_side)
    SELECT CASE WHEN g % 5 <> 0 THEN :first_foreigner + q.fidx END,
           CAST(:start AS timestamptz) + (g - 1) * (interval '366 days' / :total)
               + random() * interval '10 minutes',
           (ARRAY['lodging','lodging','lodging','patrol','checkpoint'])[1 + g % 5],
           ST_Transform(p.pt, 4326), p.kecamatan_code, p.kecamatan_name, p.desa_code,
           p.desa_name, p.distance_to_border_m, p.border_side
    FROM generate_series(CAST(:lo AS bigint) + 1, :hi) g
    CROSS JOIN LATERAL (SELECT (g * 104729) % :foreigners AS fidx) q
    JOIN bench_located p ON p.n = CASE
        WHEN g % 5 <> 0 THEN 1 + ((1 + ((q.fidx + 1) * 5) % 50000) + g % 41 - 21 + 50000) % 50000
        ELSE 1 + (g * 7919) % 50000 END
    """
)

PAGE_SQL = text(
    """
    SELECT id, observed_at, ST_AsBinary(geom) FROM sighting
    WHERE observed_at >= :t0 AND observed_at < :t1
      AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    ORDER BY id LIMIT 1000
    """
)

SIZE_SQL = text(
    """
    SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)), sum(c.reltuples)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'sighting'::regclass
    """
)


def machine_and_buffers(engine: Engine) -> str:
    with engine.connect() as conn:
        buffers = conn.execute(text("SHOW shared_buffers")).scalar_one()
    return f"{machine(engine)}, shared_buffers {buffers}"


def open_database(args: argparse.Namespace) -> tuple[Engine, EmbeddedCluster | None]:
    external = external_url()
    cluster = None
    if external is not None:
        url = external
    else:
        base = Path(args.dir or tempfile.mkdtemp(prefix="timpora-bench-scaling-"))
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        cluster = EmbeddedCluster(base, preferred_port=free_port_from(56632), ephemeral=True)
        cluster.init()
        cluster.start()
        url = make_url(cluster.url())
    url = url.set(drivername="postgresql+psycopg2")
    admin = create_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}"'))  # a throwaway database
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return create_engine(url.set(database=DATABASE)), cluster


def seed(engine: Engine) -> float:
    """Schema, reference data, points, foreigners; returns the location rate (rows/s)."""
    upgrade(engine)
    settings = bench_settings(
        engine.url.render_as_string(hide_password=False), reference_data_dir=SHARED_DATA
    )
    from geo.boundaries import load_reference_data

    with Session(engine) as session:
        load_reference_data(session=session, settings=settings)
        ensure_range(session=session, start=START, end=END - dt.timedelta(days=1))
        for sql in SEED_SQL:
            session.execute(text(sql), {"foreigners": FOREIGNERS})
        t0 = time.perf_counter()
        session.execute(text(LOCATE_SQL))
        located = session.execute(text("SELECT count(*) FROM bench_located")).scalar_one()
        locate_s = time.perf_counter() - t0
        session.execute(text("CREATE UNIQUE INDEX ON bench_located (n)"))
        session.execute(text("ANALYZE bench_located"))
        session.commit()
    return float(located) / locate_s


def grow(engine: Engine, have: int, target: int, total: int) -> dict[str, float]:
    """Add rows ``have+1 .. target`` of a year of ``total`` (in time order); returns timings."""
    insert_s = 0.0
    with Session(engine) as session:
        first_foreigner = session.execute(text("SELECT min(id) FROM foreigner")).scalar_one()
    lo = have
    while lo < target:
        hi = min(lo + CHUNK, target)
        with Session(engine) as session:
            session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
            t0 = time.perf_counter()
            session.execute(
                INSERT_SQL,
                {
                    "lo": lo,
                    "hi": hi,
                    "total": total,
                    "start": START,
                    "first_foreigner": first_foreigner,
                    "foreigners": FOREIGNERS,
                },
            )
            session.commit()
            insert_s += time.perf_counter() - t0
        lo = hi
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) sighting"))
        conn.execute(text("VACUUM (ANALYZE) foreigner"))
    vacuum_s = time.perf_counter() - t0
    return {"insert_s": insert_s, "vacuum_s": vacuum_s}


def measure(engine: Engine, rng: np.random.Generator, repeat: int) -> dict[str, Any]:
    with Session(engine) as session:
        anchors = session.execute(
            text(
                "SELECT ST_X(ST_Transform(pt, 4326)), ST_Y(ST_Transform(pt, 4326)) FROM bench_point"
            )
        ).all()
        page_times = []
        rows_returned = []
        for _ in range(30):
            lon, lat = anchors[int(rng.integers(len(anchors)))]
            day = START + dt.timedelta(days=float(rng.uniform(0, 358)))
            d = 0.045  # ~5 km each way: a 10 km bbox
            params = {
                "t0": day,
                "t1": day + dt.timedelta(days=7),
                "x0": lon - d,
                "y0": lat - d,
                "x1": lon + d,
                "y1": lat + d,
            }
            t0 = time.perf_counter()
            rows_returned.append(len(session.execute(PAGE_SQL, params).all()))
            page_times.append(time.perf_counter() - t0)

        since = END - dt.timedelta(days=1)
        border_rows = session.execute(
            text("SELECT count(*) FROM sighting WHERE observed_at >= :s"), {"s": since}
        ).scalar_one()

        def border() -> None:
            with session.begin_nested() as nested:
                run_batch(session=session, since=since, rules=("sighting_near_border",))
                nested.rollback()

        border_times = run_times(border, repeat)

        def gi() -> None:
            hotspot_cells(
                session=session,
                layer="sightings",
                cell_m=1000.0,
                start=END - dt.timedelta(days=28),
                end=END,
            )

        gi_points = int(
            session.execute(
                text("SELECT count(*) FROM sighting WHERE observed_at >= :s"),
                {"s": END - dt.timedelta(days=28)},
            ).scalar_one()
        )
        gi_times = run_times(gi, repeat)
        table_b, index_b, _ = session.execute(SIZE_SQL).one()
        session.rollback()
    return {
        "page_p50_ms": 1000 * statistics.median(page_times),
        "page_p95_ms": 1000 * float(np.percentile(page_times, 95)),
        "page_rows": statistics.median(rows_returned),
        "border_ms": 1000 * statistics.median(border_times),
        "border_rows": int(border_rows),
        "gi_ms": 1000 * statistics.median(gi_times),
        "gi_points": gi_points,
        "table_mb": float(table_b) / 2**20,
        "index_mb": float(index_b) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e4 and 1e5 rows (the suite).")
    parser.add_argument("--sizes", type=str, default=None, help="e.g. 1e5,1e6,1e7")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=str, default=None, help="Cluster folder (default: temp).")
    parser.add_argument("--keep", action="store_true", help="Leave the cluster running.")
    args = parser.parse_args()
    sizes_text = args.sizes or ("1e4,1e5" if args.quick else "1e5,1e6,1e7")
    sizes = sorted(int(float(s)) for s in sizes_text.split(","))
    engine, cluster = open_database(args)
    try:
        t0 = time.perf_counter()
        locate_rate = seed(engine)
        machine_text = machine_and_buffers(engine)
        print(f"machine: {machine_text}")
        print(
            f"schema + reference data + {FOREIGNERS:,} foreigners: "
            f"{time.perf_counter() - t0:.1f} s; location derivation (timpora_locate, per row, "
            f"independent of table size): {locate_rate:,.0f} rows/s"
        )
        rng = np.random.default_rng(12)
        rows: list[tuple[int, dict[str, float], dict[str, Any]]] = []
        for size in sizes:
            # Each size is a year of its own: the last day holds size/366 rows, 28 days 28 times
            # that, as when more offices report into one node.
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE sighting"))
            grown = grow(engine, 0, size, size)
            figures = measure(engine, rng, args.repeat)
            rows.append((size, grown, figures))
            print(_row(size, grown, figures), flush=True)
        print()
        print(_table(rows))
        report(
            [row for size, g, f in rows for row in _report_rows(size, g, f)],
            title="scaling: one node, sightings over 12 monthly partitions",
            echo=False,  # the growth table above is this script's table
            machine_text=machine_text,
        )
    finally:
        engine.dispose()
        if cluster is not None and not args.keep:
            cluster.destroy()


HEADER = (
    "| sightings | bulk insert rows/s | vacuum analyze s | page p50 / p95 ms "
    "(rows) | border rule, last day ms (rows) | Gi* counts, 28 d ms (points) | table MB | "
    "indexes MB |"
)


def _row(size: int, g: dict[str, float], f: dict[str, Any]) -> str:
    rate = size / g["insert_s"]
    return (
        f"| {size:,} | {rate:,.0f} ({g['insert_s']:.1f} s) | "
        f"{g['vacuum_s']:.1f} | {f['page_p50_ms']:.1f} / {f['page_p95_ms']:.1f} "
        f"({f['page_rows']:.0f}) | {f['border_ms']:.0f} ({f['border_rows']:,}) | "
        f"{f['gi_ms']:.0f} ({f['gi_points']:,}) | {f['table_mb']:,.0f} | {f['index_mb']:,.0f} |"
    )


def _report_rows(size: int, g: dict[str, float], f: dict[str, Any]) -> list[Row]:
    """One size's figures as report rows (no targets: what matters is the growth, not a bar)."""
    note = f"{size:,} sightings"
    return [
        Row("bulk insert with all indexes", size / g["insert_s"], unit="rows/s", note=note),
        Row("map page 7 d x 10 km, p50", f["page_p50_ms"], unit="ms", note=note),
        Row("map page 7 d x 10 km, p95", f["page_p95_ms"], unit="ms", note=note),
        Row(
            "border rule in batch, last day",
            f["border_ms"],
            unit="ms",
            note=f"{note}; {f['border_rows']:,} in the day",
        ),
        Row(
            "Gi* counts, 28 days",
            f["gi_ms"],
            unit="ms",
            note=f"{note}; {f['gi_points']:,} points",
        ),
        Row("table + indexes", f["table_mb"] + f["index_mb"], unit="MB", note=note),
    ]


def _table(rows: list[tuple[int, dict[str, float], dict[str, Any]]]) -> str:
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    lines += [_row(size, g, f) for size, g, f in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
