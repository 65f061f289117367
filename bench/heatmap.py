"""Benchmark: the heatmap page for 1,000,000 incidents vs a folium HeatMap of the raw points.

Targets: our page <= 1 MB gzipped, built in <= 1 s, >= 50x smaller (gzipped) than the
raw-point folium HeatMap. Runs on a throwaway PostGIS cluster (or TIMPORA_BENCH_DATABASE_URL):

    .venv/bin/python bench/heatmap.py [--points 1000000] [--repeat 3]
    .venv/bin/python bench/heatmap.py --quick     # 20,000 incidents, one build (the suite)

The targets are judged at 1,000,000 incidents or more; smaller runs are measured only.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.common import Row, bench_settings, database_url, machine, report  # noqa: E402
from geo.migrate import upgrade  # noqa: E402

# Three clusters (illegal crossings near Aruk, Temajuk, a plantation) over a uniform background.
SEED_SQL = """
SET LOCAL timpora.defer_locate = 'on';
SELECT setseed(0.42);
INSERT INTO incident (kind, severity, status, occurred_at, geom)
SELECT (ARRAY['illegal_entry','illegal_work','overstay','smuggling'])[1 + (g % 4)],
       1 + (g % 5), 'open',
       timestamptz '2024-01-01' + (g % 525600) * interval '1 minute',
       ST_SetSRID(ST_MakePoint(
           CASE WHEN g % 10 < 6 THEN 108.95 + random() * 0.9
                ELSE (ARRAY[109.64, 109.30, 109.20])[1 + g % 3] + (random() - 0.5) * 0.08 END,
           CASE WHEN g % 10 < 6 THEN 0.95 + random() * 1.1
                ELSE (ARRAY[1.79, 1.98, 1.35])[1 + g % 3] + (random() - 0.5) * 0.08 END), 4326)
  FROM generate_series(1, :n) AS g;
"""


def gz(data: str) -> int:
    return len(gzip.compress(data.encode(), compresslevel=6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print where one build spends time")
    parser.add_argument("--quick", action="store_true", help="20,000 incidents, one build")
    args = parser.parse_args()
    if args.quick:
        args.points, args.repeat = 20_000, 1

    import folium
    from folium.plugins import HeatMap

    from maps.assets import render_html
    from maps.common import parse_params
    from maps.heatmap import build_heatmap

    with database_url(56432) as url:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
        upgrade(engine)
        settings = bench_settings(url)
        try:
            from geo.boundaries import load_reference_data

            with Session(engine) as session:
                load_reference_data(session=session, settings=settings)
                session.commit()
        except Exception as exc:  # the page is still measured, without a basemap
            print(f"(no reference basemap: {exc})")
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE incident RESTART IDENTITY CASCADE"))
            for stmt in SEED_SQL.strip().split(";\n"):
                if stmt.strip():
                    conn.execute(text(stmt), {"n": args.points})
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE incident")
            )
        print(f"seeded {args.points:,} incidents in {time.perf_counter() - t0:.1f} s")

        params = parse_params()
        ours_s: list[float] = []
        page = ""
        for _ in range(args.repeat):
            with Session(engine) as session:
                t0 = time.perf_counter()
                m = build_heatmap(
                    session=session, principal_role="analyst", params=params, settings=settings
                )
                page = render_html(m, mode="inline")
                ours_s.append(time.perf_counter() - t0)
        ours_bytes, ours_gz = len(page.encode()), gz(page)
        if args.profile:
            import cProfile
            import pstats

            with Session(engine) as session:
                prof = cProfile.Profile()
                prof.enable()
                render_html(
                    build_heatmap(
                        session=session, principal_role="analyst", params=params, settings=settings
                    )
                )
                prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)

        t0 = time.perf_counter()
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT ST_Y(geom), ST_X(geom) FROM incident")).all()
        raw = folium.Map(location=[1.5, 109.4], zoom_start=9, tiles=None)
        HeatMap([[lat, lon] for lat, lon in rows]).add_to(raw)  # type: ignore[no-untyped-call]
        raw_page = raw.get_root().render()
        raw_s = time.perf_counter() - t0
        raw_bytes, raw_gz = len(raw_page.encode()), gz(raw_page)
        machine_text = machine(engine)
        engine.dispose()

    build = statistics.median(ours_s)
    print()
    print(f"{'page':<34}{'bytes':>14}{'gzipped':>14}{'build s':>10}")
    print(f"{'ours: cells, Leaflet inlined':<34}{ours_bytes:>14,}{ours_gz:>14,}{build:>10.3f}")
    print(f"{'folium HeatMap of raw points*':<34}{raw_bytes:>14,}{raw_gz:>14,}{raw_s:>10.3f}")
    print(
        f"{'ratio (raw / ours)':<34}{raw_bytes / ours_bytes:>13.1f}x{raw_gz / ours_gz:>13.1f}x"
        f"{raw_s / build:>9.1f}x"
    )
    print("* CDN-linked (Leaflet not inlined), so the comparison favours the raw page.")
    print(f"builds: {', '.join(f'{s:.3f}' for s in ours_s)} s")
    judged = args.points >= 1_000_000

    def met(ok: bool) -> bool | None:
        return ok if judged else None

    note = f"{args.points:,} incidents"
    smaller = raw_gz / ours_gz
    report(
        [
            Row(
                "heatmap page gzipped vs raw-point HeatMap",
                ours_gz / 1e3,
                raw_gz / 1e3,
                smaller,
                ">= 50x smaller",
                met(smaller >= 50),
                "kB",
                note,
            ),
            Row(
                "heatmap page gzipped size",
                ours_gz / 1e3,
                target="<= 1,000 kB",
                met=met(ours_gz <= 1_000_000),
                unit="kB",
                note=note,
            ),
            Row(
                "heatmap page build (query + render)",
                build,
                raw_s,
                raw_s / build,
                "<= 1 s",
                met(build <= 1.0),
                "s",
                note,
            ),
        ],
        title=f"heatmap: {note}, median of {args.repeat} builds",
        machine_text=machine_text,
    )


if __name__ == "__main__":
    main()
