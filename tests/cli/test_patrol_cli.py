"""``timpora patrol``: logging and planning agree on what "patrolled" means, so a patrol logged
at a plan's stop changes the next plan (docs/hotspots.md, "Patrol planning")."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.patrol import DEFAULT_RADIUS_M, to_utm
from tests.geo.hotspot_synth import SHARED_DATA, insert_incidents, planted


@pytest.fixture
def env(committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with Session(committed) as session:
        insert_incidents(session, planted(seed=7, per_cluster=30, background=100))
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    monkeypatch.setenv("TIMPORA_REFERENCE_DATA_DIR", str(SHARED_DATA))
    yield
    with committed.begin() as conn:  # `committed` does not know this table
        conn.execute(text("DELETE FROM patrol_log"))


def _plan(runner: CliRunner, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["patrol", "plan", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    stops: list[dict[str, Any]] = json.loads(result.stdout)
    return stops


def _metres(a: dict[str, Any], b: dict[str, Any]) -> float:
    (ax, ay), (bx, by) = to_utm(a["lon"], a["lat"]), to_utm(b["lon"], b["lat"])
    return math.hypot(ax - bx, ay - by)


def test_a_patrol_logged_at_stop_1_changes_the_next_plan(env: None) -> None:
    runner = CliRunner()
    (stop,) = _plan(runner, "--k", "1")
    assert stop["demand"] == stop["covered_weight"] > 0
    assert stop["recently_patrolled_cells"] == 0
    added = runner.invoke(
        app, ["patrol", "log", "add", "--lon", str(stop["lon"]), "--lat", str(stop["lat"])]
    )
    assert added.exit_code == 0, added.output
    assert f"{DEFAULT_RADIUS_M:g} m around" in added.stdout  # the plan's reach, not another

    # Its area now weighs half: the next single stop is another cluster, kilometres away.
    (first,) = _plan(runner, "--k", "1")
    assert _metres(first, stop) > 4 * DEFAULT_RADIUS_M
    assert first["recently_patrolled_cells"] == 0

    # A plan that still goes there shows every cell of that stop discounted, and says so.
    result = runner.invoke(app, ["patrol", "plan", "--k", "5", "--format", "csv"])
    assert result.exit_code == 0, result.output
    stops = list(csv.DictReader(io.StringIO(result.stdout)))
    near = min(stops, key=lambda s: _metres({k: float(s[k]) for k in ("lon", "lat")}, stop))
    assert _metres({k: float(near[k]) for k in ("lon", "lat")}, stop) <= DEFAULT_RADIUS_M
    assert int(near["recently_patrolled_cells"]) > 0
    assert float(near["demand"]) < float(near["covered_weight"])
    assert "patrolled in the last 7 days count 0.5x" in result.stderr


def test_without_the_recency_discount_the_plan_returns(env: None) -> None:
    runner = CliRunner()
    (stop,) = _plan(runner, "--k", "1")
    added = runner.invoke(
        app, ["patrol", "log", "add", "--lon", str(stop["lon"]), "--lat", str(stop["lat"])]
    )
    assert added.exit_code == 0, added.output
    (again,) = _plan(runner, "--k", "1", "--avoid-recent-days", "0")
    assert _metres(again, stop) < 1.0 and again["demand"] == stop["demand"]


def test_hotspots_summary_formats(env: None) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["hotspots", "--top", "5", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 5 and list(rows[0]) == [
        "cell_id", "lon", "lat", "count", "gi_z", "p_fdr", "confidence", "trend",
    ]  # fmt: skip
    assert rows[0]["confidence"] == "hot_99"
    assert "cells of 1000 m" in result.stderr and "cells of" not in result.stdout
    as_json = json.loads(runner.invoke(app, ["hotspots", "--top", "5", "--format", "json"]).stdout)
    assert [c["cell_id"] for c in as_json] == [r["cell_id"] for r in rows]
    assert all(isinstance(c["count"], int) and isinstance(c["gi_z"], float) for c in as_json)
