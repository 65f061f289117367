"""``timpora import`` / ``export`` / ``demo seed`` from the shell, against the test database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, text

from tests.cli.test_boundaries_cli import run

DATA = Path(__file__).resolve().parent.parent / "data" / "io"


def test_import_report_table_and_export(
    committed: Engine, database_url: str, tmp_path: Path
) -> None:
    for layer, name in (("workplaces", "workplaces_id.csv"), ("foreigners", "foreigners_id.csv")):
        r = run(["import", layer, str(DATA / name)], database_url)
        assert r.returncode == 0, r.stderr
        assert "new" in r.stdout
    dry = run(["import", "sightings", str(DATA / "sightings_id.csv"), "--dry-run"], database_url)
    assert dry.returncode == 0 and "would import 4 rows" in dry.stdout
    bad = run(["import", "sightings", str(DATA / "sightings_bad.csv")], database_url)
    assert bad.returncode == 1
    assert "rejected rows" in bad.stdout and "UJI-F-404" in bad.stdout
    assert "nothing was imported" in bad.stderr
    with committed.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sighting")).scalar_one() == 0
    out = tmp_path / "people.csv"
    r = run(
        [
            "export",
            "foreigners",
            "--format",
            "csv",
            "--out",
            str(out),
            "--role",
            "viewer",
            "--nationality",
            "MYS",
        ],
        database_url,
    )
    # People are not exported for a viewer at all, not even their areas and row ids
    # (docs/privacy.md): the same refusal as the API's 403.
    assert r.returncode != 0
    assert "may not export foreigners" in r.stderr + r.stdout
    assert not out.exists()
    analyst_out = tmp_path / "people_analyst.csv"
    r = run(
        [
            "export",
            "foreigners",
            "--format",
            "csv",
            "--out",
            str(analyst_out),
            "--role",
            "analyst",
            "--nationality",
            "MYS",
        ],
        database_url,
    )
    assert r.returncode == 0, r.stderr
    text_out = analyst_out.read_text()
    assert "UJI-F-1" in text_out and "UJI-F-2" not in text_out


def test_demo_seed_writes_ground_truth(
    committed: Engine, database_url: str, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.json"
    r = run(
        ["demo", "seed", "--seed", "3", "--end", "2025-07-01", "--ground-truth", str(truth)],
        database_url,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(truth.read_text())
    assert data["seed"] == 3 and data["size"] == "small" and len(data["hotspots"]) == 5
    with committed.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM foreigner")).scalar_one() == 300
