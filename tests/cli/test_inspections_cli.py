"""``timpora inspections plan`` / ``plans``: a plan as a table, JSON or CSV, and its PDF."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from tests.geo.test_risk import AS_OF, SITES, build_sites


@pytest.fixture
def sites(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    with Session(committed) as session:
        built = build_sites(session)
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    yield built


def run(*args: str) -> Any:
    lon, lat = SITES["hidden"]
    return CliRunner().invoke(
        app,
        [
            "inspections",
            "plan",
            "--start-lon",
            str(lon),
            "--start-lat",
            str(lat - 0.0001),
            "--date",
            AS_OF.isoformat(),
            *args,
        ],
    )


def test_plan_json_csv_table_and_list(sites: dict[str, Any], tmp_path: Path) -> None:
    ids = sites["ids"]
    result = run("--max-route-km", "30", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    by_id = {r["workplace_id"]: r for r in rows}
    assert ids["quota"] in by_id and ids["alerts"] not in by_id
    assert by_id[ids["quota"]]["agencies"] == "IMIGRASI; DISNAKERTRANS"
    assert "Hidden Worker" in by_id[ids["hidden"]]["persons"]  # the CLI acts as an administrator
    assert [r["position"] for r in rows] == list(range(1, len(rows) + 1))
    result = run("--max-route-km", "30", "--max-stops", "1", "--format", "csv")
    assert result.exit_code == 0, result.output
    (only,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert int(only["workplace_id"]) == ids["quota"]
    sheet = tmp_path / "plan.pdf"
    table = run("--max-route-km", "30", "--pdf", str(sheet), "--lang", "en")
    assert table.exit_code == 0 and "quota" in table.stdout
    assert sheet.read_bytes().startswith(b"%PDF")
    listed = CliRunner().invoke(app, ["inspections", "plans", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)) >= 3


def test_plan_refuses_values_over_their_caps(sites: dict[str, Any]) -> None:
    result = run("--max-stops", "40")
    assert result.exit_code != 0 and "max_stops" in result.output
    result = run("--period", "fortnight")
    assert result.exit_code != 0 and "period" in result.output
