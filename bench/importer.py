"""Benchmark: import of a sightings CSV through the fast path vs an ORM ``add_all`` baseline.

    .venv/bin/python bench/importer.py          # 1,000,000 rows (>= 150,000 rows/s, >= 10x)
    .venv/bin/python bench/importer.py --quick    # 20,000 rows

Uses TIMPORA_DATABASE_URL if set, else a throwaway PostGIS cluster of its own (never the
development database). Both paths write the same kind of rows into an empty ``sighting`` table
and fill the derived location columns (the ORM path through the per-row trigger). The baseline
runs on a tenth of the rows (at most 50,000) and is compared in rows per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geoalchemy2.shape import from_shape  # noqa: E402
from shapely.geometry import Point  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from geo.boundaries import load_reference_data  # noqa: E402
from geo.cluster import EmbeddedCluster, free_port_from  # noqa: E402
from geo.io import import_file  # noqa: E402
from geo.io.derive import location_index  # noqa: E402
from geo.migrate import upgrade  # noqa: E402
from geo.models import Sighting  # noqa: E402
from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings  # noqa: E402

TARGET_ROWS_PER_S = 150_000
TARGET_RATIO = 10.0


def make_csv(session: Session, n: int, path: Path, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kab = location_index(session).kabupaten
    lon = np.empty(0)
    lat = np.empty(0)
    while len(lon) < n:
        x = rng.uniform(108.95, 109.9, 2 * n)
        y = rng.uniform(0.95, 2.1, 2 * n)
        ok = shapely.contains_xy(kab, x, y)
        lon, lat = np.concatenate([lon, x[ok]]), np.concatenate([lat, y[ok]])
    seconds = rng.integers(0, 86400 * 365, n)
    stamps = pd.Timestamp("2025-01-01") + pd.to_timedelta(seconds, "s")
    frame = pd.DataFrame(
        {
            "external_ref": [f"B-{i:07d}" for i in range(n)],
            "observed_at": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
            "source": rng.choice(["patrol", "lodging", "checkpoint"], n),
            "lon": lon[:n].round(6),
            "lat": lat[:n].round(6),
        }
    )
    frame.to_csv(path, index=False)
    return frame


def fast_path(engine, settings: Settings, path: Path) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    stages: dict[str, float] = defaultdict(float)
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 0 or stage not in marks:
            marks[stage] = now
        if done >= total:
            stages[stage] = now - marks[stage]

    with Session(engine) as session:
        session.execute(text("TRUNCATE sighting"))
        session.commit()
        started = time.perf_counter()
        import_file(
            session=session, layer="sightings", path=path, area=settings.area, progress=progress
        )
        session.commit()
        return time.perf_counter() - started, dict(stages)


def orm_baseline(engine, frame: pd.DataFrame) -> float:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        session.execute(text("TRUNCATE sighting"))
        session.commit()
        started = time.perf_counter()
        stamps = pd.to_datetime(frame["observed_at"]).dt.tz_localize("Asia/Pontianak")
        session.add_all(
            Sighting(
                external_ref=r.external_ref,
                observed_at=t.to_pydatetime(),
                source=r.source,
                geom=from_shape(Point(r.lon, r.lat), srid=4326),
            )
            for r, t in zip(frame.itertuples(index=False), stamps, strict=True)
        )
        session.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    n = args.rows or (20_000 if args.quick else 1_000_000)
    n_orm = min(max(n // 10, 2_000), 50_000)
    cluster = None
    url = os.environ.get("TIMPORA_DATABASE_URL")
    if not url:
        base = Path(tempfile.mkdtemp(prefix="timpora-bench-"))
        base.chmod(0o755)
        cluster = EmbeddedCluster(base, preferred_port=free_port_from(57432), ephemeral=True)
        cluster.init()
        cluster.start()
        url = cluster.url()
    try:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
        settings = Settings(
            database=DatabaseSettings(database_url=url),
            area=AreaSettings(reference_data_dir=ROOT.parent / "shared" / "data"),
            service=ServiceSettings(environment="test"),
        )
        upgrade(engine)
        with Session(engine) as session:
            load_reference_data(session=session, settings=settings)
            session.commit()
            with tempfile.TemporaryDirectory() as tmp:
                csv_path = Path(tmp) / "sightings.csv"
                frame = make_csv(session, n, csv_path)
                size_mb = csv_path.stat().st_size / 1e6
                fast_s, stages = fast_path(engine, settings, csv_path)
        orm_s = orm_baseline(engine, frame.iloc[:n_orm])
        with engine.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar_one()
        fast_rate = n / fast_s
        orm_rate = n_orm / orm_s
        ratio = fast_rate / orm_rate
        print(
            f"\nimport of sightings CSV ({n:,} rows, {size_mb:.0f} MB); PostgreSQL {pg}; "
            f"{os.cpu_count()} cores"
        )
        print(f"{'workload':<34}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'target':>10}  met")
        print(
            f"{'fast path (COPY + upsert)':<34}{n:>11,}{fast_s:>9.2f}{fast_rate:>10,.0f}"
            f"{TARGET_ROWS_PER_S:>10,}  {'yes' if fast_rate >= TARGET_ROWS_PER_S else 'NO'}"
        )
        print(f"{'ORM add_all (baseline)':<34}{n_orm:>11,}{orm_s:>9.2f}{orm_rate:>10,.0f}")
        print(
            f"{'ratio fast / ORM':<34}{'':>11}{'':>9}{ratio:>9.1f}x{TARGET_RATIO:>9.0f}x  "
            f"{'yes' if ratio >= TARGET_RATIO else 'NO'}"
        )
        print("fast-path stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
        # For python -m bench (bench/common.py); targets are stated for 1,000,000 rows.
        from bench.common import Row, machine, report

        judged = n >= 1_000_000
        report(
            [
                Row(
                    "import sightings CSV, fast path",
                    fast_rate,
                    target=">= 150,000 rows/s",
                    met=fast_rate >= TARGET_ROWS_PER_S if judged else None,
                    unit="rows/s",
                    note=f"{n:,} rows",
                ),
                Row(
                    "import fast path vs ORM add_all",
                    fast_rate,
                    orm_rate,
                    ratio,
                    ">= 10x",
                    ratio >= TARGET_RATIO if judged else None,
                    "rows/s",
                    f"ORM on {n_orm:,} rows",
                ),
            ],
            title="importer",
            echo=False,
            machine_text=machine(engine),
        )
        engine.dispose()
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    main()
