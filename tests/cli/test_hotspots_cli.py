"""``timpora hotspots`` and ``timpora patrol plan | log`` against committed synthetic incidents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from tests.geo.hotspot_synth import SHARED_DATA, insert_incidents, planted


@pytest.fixture
def env(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    with Session(committed) as session:
        insert_incidents(session, planted(seed=7, per_cluster=30, background=100))
        session.commit()
    values = {"TIMPORA_DATABASE_URL": database_url, "TIMPORA_REFERENCE_DATA_DIR": str(SHARED_DATA)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield values
    with committed.begin() as conn:  # `committed` does not know this table
        conn.execute(text("DELETE FROM patrol_log"))


def test_hotspots_command(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "cells.geojson"
    result = CliRunner().invoke(app, ["hotspots", "--cell-m", "1500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "hot_99" in result.output
    assert json.loads(out.read_text())["metadata"]["n_points"] == 250


def test_hotspots_command_rejects_bad_cell_size(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["hotspots", "--cell-m", "3"])
    assert result.exit_code == 1
    assert "cell_m" in result.output and "Traceback" not in result.output


def test_patrol_plan_and_log(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "plan.geojson"
    result = runner.invoke(
        app, ["patrol", "plan", "--k", "5", "--radius-m", "2500", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "covered share" in result.output
    assert json.loads(out.read_text())["covered_share"] >= 0.9
    added = runner.invoke(
        app, ["patrol", "log", "add", "--lon", "109.31", "--lat", "1.36", "--team", "Tim C"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["patrol", "log", "list"])
    assert listed.exit_code == 0 and "Tim C" in listed.output
