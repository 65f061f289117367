"""``timpora risk``: the ranking as a table, JSON or CSV, against committed hand-built sites."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo import risk
from tests.geo.test_risk import AS_OF, build_sites


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
    return CliRunner().invoke(app, ["risk", "--as-of", AS_OF.isoformat(), *args])


def test_risk_json_csv_and_table(sites: dict[str, Any]) -> None:
    ids = sites["ids"]
    result = run("--limit", str(risk.MAX_LIMIT), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["workplace_id"]: r for r in json.loads(result.stdout)}
    assert rows[ids["quota"]]["over_quota"] == 3
    assert "Hidden Worker" in rows[ids["hidden"]]["reasons"]
    assert rows[ids["plain"]]["reasons"] == ""
    scores = [r["score"] for r in json.loads(result.stdout)]
    assert scores == sorted(scores, reverse=True)
    result = run("--limit", "3", "--format", "csv")
    assert result.exit_code == 0, result.output
    parsed = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(parsed) == 3 and "sighted_elsewhere" in parsed[0]
    table = run("--limit", "5")
    assert table.exit_code == 0 and "score" in table.stdout


def test_risk_rejects_a_limit_over_the_cap(sites: dict[str, Any]) -> None:
    result = run("--limit", str(risk.MAX_LIMIT + 1))
    assert result.exit_code != 0
    assert "limit" in result.output
