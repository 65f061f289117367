"""``timpora boundaries`` from the shell, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Polygon

TIMPORA = str(Path(sys.executable).parent / "timpora")


def run(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMPORA_")}
    env.update({"TIMPORA_DATABASE_URL": database_url, "COLUMNS": "200"})
    return subprocess.run([TIMPORA, *args], capture_output=True, text=True, env=env, timeout=120)


def test_status_and_idempotent_load(engine, database_url: str) -> None:  # type: ignore[no-untyped-def]
    status = run(["boundaries", "status"], database_url)
    assert status.returncode == 0, status.stderr
    assert "desa" in status.stdout and "193" in status.stdout and "ODbL-1.0" in status.stdout
    load = run(["boundaries", "load"], database_url)
    assert load.returncode == 0, load.stderr
    assert "nothing changed" in load.stdout


def test_rejected_import_prints_the_per_feature_report(
    engine, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    frame = gpd.GeoDataFrame(
        {"kode": ["61.01.01", "61.01.01"], "nama": ["A", "B"]},
        geometry=[Polygon([(109.3, 1.3), (109.4, 1.3), (109.4, 1.4)])] * 2,
        crs=4326,
    )
    path = tmp_path / "kec.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    proc = run(["boundaries", "import", str(path), "--level", "kecamatan"], database_url)
    assert proc.returncode == 1
    assert "duplicate code" in proc.stderr and "nothing written" in proc.stderr
    assert "Traceback" not in proc.stderr
