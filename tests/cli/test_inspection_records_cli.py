"""``timpora inspections record|list``: findings from JSON and CSV files, a refused file writes
nothing, the list as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from tests.geo.test_inspections import LATER, add_agency
from tests.geo.test_risk import add_worker, add_workplace


@pytest.fixture
def site(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    with Session(committed) as session:
        built = {"site": add_workplace(session, "hidden", quota=5)}
        built["workers"] = [
            add_worker(session, built["site"], LATER, f"Cli Insp Worker {i}") for i in range(3)
        ]
        add_agency(session, "CLI-IMI")
        add_agency(session, "CLI-POL")
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    yield built
    with committed.begin() as conn:
        conn.execute(text("TRUNCATE inspection_finding, inspection_agency, inspection"))
        conn.execute(text("DELETE FROM agency WHERE short_name LIKE 'CLI-%'"))


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["inspections", *args])


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM inspection")).scalar_one())


def test_record_from_json_and_csv_then_list(
    site: dict[str, Any], committed: Engine, tmp_path: Path
) -> None:
    a, b, c = site["workers"]
    as_json = tmp_path / "findings.json"
    as_json.write_text(
        json.dumps(
            [
                {"foreigner_id": a, "finding": "in_order", "action_taken": "none"},
                {
                    "foreigner_id": b,
                    "finding": "overstay",
                    "action_taken": "deportation_process",
                    "permit_expires_on": "2025-01-31",
                },
            ]
        )
    )
    base = ("--workplace", str(site["site"]), "--led-by", "CLI-IMI", "--agency", "CLI-POL")
    result = run("record", "--findings", str(as_json), "--on", "2025-05-20", *base)
    assert result.exit_code == 0, result.output
    assert "Cli Insp Worker 1: overstay/deportation_process" in result.stdout
    as_csv = tmp_path / "findings.csv"
    as_csv.write_text(
        "foreigner_id,finding,action_taken,note\n"
        f"{c},working_outside_sponsor,warning,Bekerja di kebun tetangga\n"
    )
    result = run("record", "--findings", str(as_csv), "--on", "2025-05-25", *base)
    assert result.exit_code == 0, result.output
    with committed.connect() as conn:
        expiry = conn.execute(
            text("SELECT permit_expires_on::text FROM foreigner WHERE id = :b"), {"b": b}
        ).scalar_one()
        sightings = conn.execute(
            text("SELECT count(*) FROM sighting WHERE source = 'inspection'")
        ).scalar_one()
    assert (expiry, sightings) == ("2025-01-31", 3)
    listed = run("list", "--workplace", str(site["site"]), "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["inspected_on"] for r in rows] == ["2025-05-25", "2025-05-20"]
    assert rows[0]["agencies"] == "CLI-IMI, CLI-POL" and rows[0]["led_by"] == "CLI-IMI"
    listed = run("list", "--agency", "CLI-POL", "--start", "2025-05-21", "--format", "csv")
    assert listed.exit_code == 0, listed.output
    parsed = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert len(parsed) == 1 and "working_outside_sponsor" in parsed[0]["findings"]


def test_a_bad_file_is_named_and_writes_nothing(
    site: dict[str, Any], committed: Engine, tmp_path: Path
) -> None:
    a, b, _ = site["workers"]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"foreigner_id,finding,action_taken\n{a},in_order,none\n{b},in_order,flogging\n")
    result = run(
        "record", "--findings", str(bad), "--workplace", str(site["site"]),
        "--on", "2025-05-20", "--led-by", "CLI-IMI",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "findings[1].action_taken" in result.output and "flogging" in result.output
    assert count(committed) == 0
    listed = run("list", "--limit", "0")
    assert listed.exit_code != 0 and "limit" in listed.output
