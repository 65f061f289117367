"""``bench/risk_quality.py --quick``: the ranking's top 10 and 20 against the planted violators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import RESULTS_ENV, read_results
from bench.risk_quality import TARGET_TOP10

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_finds_the_planted_violators(tmp_path: Path) -> None:
    results = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "risk_quality.py"), "--quick"],
        cwd=ROOT,
        env={**os.environ, RESULTS_ENV: str(results)},
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["workload"]: r for r in read_results(results)}
    assert set(rows) == {"planted violators in the top 10", "planted violators in the top 20"}
    top10, top20 = rows["planted violators in the top 10"], rows["planted violators in the top 20"]
    assert top10["ours"] >= TARGET_TOP10 and top10["met"] is True, proc.stdout[-3000:]
    assert top20["ours"] >= top10["ours"]
    assert "top 20 by incidents" in proc.stdout and "PostgreSQL" in top10["machine"]
    assert json.dumps(rows)
