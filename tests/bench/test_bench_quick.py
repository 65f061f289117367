"""The benchmark suite keeps working: ``python -m bench --quick`` runs the scripts and every
workload comes back as a row with numbers.

Three scripts have a quick run of their own in the suite, which also checks what they print, so
this test leaves them out rather than run them twice: ``scaling`` (tests/geo/test_sharding.py),
``alert_quality`` and ``risk_quality`` (tests/bench/).

It checks that the figures exist and are sane (finite, positive, ratios consistent), not that the
targets are met: quick sizes judge only size-independent targets, and the machine is shared.
The figures themselves are in docs/performance/, from full runs by hand.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import BENCHES, Outcome, summary
from bench.common import RESULTS_ENV, Row, read_results, report

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).name

# Every workload each script must report (sizes go in the row's note, not its name).
EXPECTED: dict[str, set[str]] = {
    "hotspots": {
        "Gi* vs esda.G_Local (permutations=0)",
        "Gi* incl. building hex_weights vs esda",
        "Gi*, large grid",
        "Gi* + weights + FDR bins, large grid",
        "emerging-hotspot classification",
        "max |z ours - z esda|",
    },
    "alerts": {
        "batch alerts, 5 sighting rules",
        "batch alerts again, all raised already",
        "pairs within 500 m vs planner's join",
        "pairs within 500 m vs shapely STRtree",
        "single write -> alerts committed p50",
        "single write -> alerts committed p99",
    },
    "heatmap": {
        "heatmap page gzipped vs raw-point HeatMap",
        "heatmap page gzipped size",
        "heatmap page build (query + render)",
    },
    "snapshot": {
        "PNG snapshot render vs one marker per point",
        "PNG snapshot collect (SQL cells)",
        "PNG snapshot whole request vs fetch + scatter",
        "PNG incidents layer",
        "PDF incidents layer",
        "briefing pack PDF",
    },
    "scaling": {
        "bulk insert with all indexes",
        "map page 7 d x 10 km, p50",
        "map page 7 d x 10 km, p95",
        "border rule in batch, last day",
        "Gi* counts, 28 days",
        "table + indexes",
    },
    "importer": {
        "import sightings CSV, fast path",
        "import fast path vs ORM add_all",
        "floor: bare COPY into sighting, its indexes in place",
        "import as a fraction of the floor",
        "exchange floor: bare COPY, then sighting's indexes built",
        "import as a fraction of the exchange floor",
    },
    "api": {
        "bbox page 1,000 features, p50",
        "bbox page 1,000 features, p99",
        "bbox page throughput",
        "tiles z8-14, p50",
        "tiles z8-14, p95",
        "largest tile",
        "tiles z8-14, viewer p95 vs admin",
        "tiles z8-14, viewer throughput vs admin",
        "sighting tiles z8-14, viewer p95 vs admin",
        "sighting tiles z8-14, viewer throughput vs admin",
    },
    "alert_quality": {
        "alert recall, small, batch",
        "alert precision, small, batch",
        "episodes per week, small, batch",
    },
    "risk_quality": {"planted violators in the top 10", "planted violators in the top 20"},
}


# Scripts whose quick run is a test of its own (module docstring).
RUN_ELSEWHERE = frozenset({"scaling", "alert_quality", "risk_quality"})


def test_every_script_is_run_by_a_test() -> None:
    """The scripts left out above are run by another test of the suite."""
    assert set(EXPECTED) == {b.name for b in BENCHES} >= RUN_ELSEWHERE
    others = [p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != THIS]
    for name in RUN_ELSEWHERE:
        assert any(f'"{name}.py"' in text and "--quick" in text for text in others), name


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_suite_reports_every_workload_with_numbers(tmp_path: Path) -> None:
    """``python -m bench --quick``: exit 0, every expected workload a row with figures."""
    chosen = [b for b in BENCHES if b.name not in RUN_ELSEWHERE]
    only = ",".join(b.name for b in chosen)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", only, "--logs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "machine:" in proc.stdout and "PostgreSQL 1" in proc.stdout, proc.stdout
    for bench in chosen:
        rows = read_results(tmp_path / f"{bench.name}.jsonl")
        if not bench.parsed:
            assert not rows
            continue
        assert rows, f"{bench.name} reported nothing"
        assert {r["bench"] for r in rows} == {bench.name}
        names = {r["workload"] for r in rows}
        missing = EXPECTED[bench.name] - names
        assert not missing, f"{bench.name} lacks {missing}"
        for r in rows:
            assert finite(r["ours"]), r
            if r["workload"] != "max |z ours - z esda|":
                assert r["ours"] > 0, r
            if r["baseline"] is not None:
                assert finite(r["baseline"]) and r["baseline"] > 0, r
            if r["ratio"] is not None:
                assert r["baseline"] is not None, r  # a ratio needs its baseline
                assert finite(r["ratio"]) and r["ratio"] > 0, r
            assert r["met"] in (True, False, None), r
            assert r["machine"].count("PostgreSQL") == 1, r
        # Every bench's rows appear in the one table the runner printed.
        for name in names:
            assert name in proc.stdout, name


def test_size_independent_targets_are_judged_in_quick_mode(tmp_path: Path) -> None:
    """Quick mode judges what does not depend on size (same pairs, exact z) and leaves the rest."""
    rows = [
        Row("pairs", 1.0, 2.0, 2.0, "same pairs", True, "s"),
        Row("batch", 5e4, target=">= 500,000/s", met=None, unit="sightings/s"),
    ]
    out = tmp_path / "r.jsonl"
    import os

    old = os.environ.get(RESULTS_ENV)
    os.environ[RESULTS_ENV] = str(out)
    try:
        report(rows, title="t", bench="demo", echo=False)
        report(rows[:1], title="t", bench="demo", echo=False)  # appends, never truncates
    finally:
        if old is None:
            del os.environ[RESULTS_ENV]
        else:
            os.environ[RESULTS_ENV] = old
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["workload"] for r in lines] == ["pairs", "batch", "pairs"]
    assert lines[0]["met"] is True and lines[1]["met"] is None
    assert lines[1]["baseline"] is None and lines[1]["bench"] == "demo"


def test_failed_script_shows_as_error_with_its_last_stderr_line() -> None:
    bench = BENCHES[0]
    ok = Outcome(bench, 0, 1.0, [{"workload": "w", "ours": 2.0, "met": False}], "")
    failed = Outcome(bench, 1, 1.0, [], "RuntimeError: the server did not start")
    lines = summary([ok, failed])
    assert lines[0][:3] == (bench.name, "w", "2.00")
    assert lines[0][-1] == "MISSED"
    assert lines[1][1] == "error" and lines[1][-1] == "RuntimeError: the server did not start"
