"""``timpora agencies`` and ``timpora users add --agency`` / ``users move``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture
def cli(committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    yield committed
    with committed.begin() as conn:  # agency is not a run-time table: drop what the test added
        dispar = "(SELECT id FROM agency WHERE short_name = 'DISPAR')"
        conn.execute(text(f"DELETE FROM app_user WHERE agency_id = {dispar}"))
        conn.execute(text("DELETE FROM agency WHERE short_name = 'DISPAR'"))


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_agencies_and_users(cli: Engine) -> None:
    listed = json.loads(run("agencies", "list", "--format", "json"))
    assert {a["short_name"] for a in listed} >= {"IMIGRASI", "POLRES", "KODIM"}

    run(
        "agencies",
        "add",
        "dispar",
        "--name",
        "Dinas Pariwisata Kabupaten Sambas",
        "--kind",
        "other",
    )
    out = run("agencies", "edit", "DISPAR", "--personal-data")
    assert "personal_data False -> True" in out

    token = run("users", "add", "cli-polres", "--role", "coordinator", "--agency", "POLRES")
    assert token.strip().splitlines()[-1].startswith("tpm_")
    run("users", "move", "cli-polres", "--agency", "DISPAR")
    users = {u["name"]: u for u in json.loads(run("users", "list", "--format", "json"))}
    assert users["cli-polres"]["agency"] == "DISPAR"

    bad = CliRunner().invoke(app, ["users", "add", "x", "--role", "viewer", "--agency", "NOPE"])
    assert bad.exit_code != 0 and "NOPE" in bad.output
    with cli.connect() as conn:
        actions = conn.execute(
            text("SELECT resource, action FROM audit_log WHERE client = 'cli' ORDER BY id")
        ).all()
    assert [tuple(a) for a in actions] == [
        ("agencies/DISPAR", "create"),
        ("agencies/DISPAR", "update"),
        ("users/cli-polres", "update"),
    ]
