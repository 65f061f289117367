"""``timpora actions`` and ``timpora meetings``: overdue first in every format, status changes
and notes written and audited, bad values refused naming them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.times import today_wib


def day(offset: int) -> str:
    return (today_wib() + dt.timedelta(days=offset)).isoformat()


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def cli_db(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    yield committed


def test_actions_overdue_first_status_and_note(cli_db: Engine) -> None:
    with Session(cli_db) as session:
        agency = (
            session.execute(text("SELECT short_name FROM agency ORDER BY id")).scalars().first()
        )
    assert agency
    meeting = run("meetings", "add", "Rapat Timpora Desember", "--on", day(-1), "--format", "json")
    assert meeting.exit_code == 0, meeting.output
    meeting_id = json.loads(meeting.stdout)[0]["id"]
    ids = {}
    for name, due in (("later", 6), ("late", -2), ("soon", 1)):
        added = run(
            "actions", "add", f"Tindak lanjut {name}", "--agency", agency, "--due", day(due),
            "--meeting", str(meeting_id), "--format", "json",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        ids[name] = json.loads(added.stdout)[0]["id"]

    listed = run("actions", "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [ids["late"], ids["soon"], ids["later"]]
    assert rows[0]["overdue"] is True and rows[1]["overdue"] is False
    as_csv = list(csv.DictReader(io.StringIO(run("actions", "list", "--format", "csv").stdout)))
    assert [int(r["id"]) for r in as_csv] == [ids["late"], ids["soon"], ids["later"]]
    table = run("actions", "list")
    assert table.exit_code == 0 and "OVERDUE" in table.stdout
    assert table.stdout.index("Tindak lanjut late") < table.stdout.index("Tindak lanjut soon")

    refused = run("actions", "status", str(ids["late"]), "done")
    assert refused.exit_code != 0 and "reason" in refused.output
    closed = run(
        "actions", "status", str(ids["late"]), "done", "--reason", "completed",
        "--note", "Sudah dirazia", "--format", "json",
    )  # fmt: skip
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.stdout)[0]["status"] == "done"
    noted = run("actions", "note", str(ids["soon"]), "Koordinasi dengan Polsek", "--format", "json")
    assert noted.exit_code == 0 and json.loads(noted.stdout)[0]["note_count"] == 1
    remaining = json.loads(run("actions", "list", "--format", "json").stdout)
    assert [r["id"] for r in remaining] == [ids["soon"], ids["later"]]
    done = json.loads(run("actions", "list", "--status", "done", "--format", "json").stdout)
    assert [r["id"] for r in done] == [ids["late"]]
    listed_meetings = json.loads(run("meetings", "list", "--format", "json").stdout)
    assert listed_meetings[0]["id"] == meeting_id and listed_meetings[0]["action_count"] == 3

    with Session(cli_db) as session:
        audited = session.execute(
            text("SELECT action, client FROM audit_log WHERE resource LIKE 'actions/%' ORDER BY id")
        ).all()
    writes = [a.action for a in audited if a.action != "read"]
    assert writes == ["create", "create", "create", "status", "note"]
    assert {a.client for a in audited} == {"cli"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        pytest.param(("actions", "list", "--status", "finished"), "finished", id="status"),
        pytest.param(("actions", "list", "--agency", "Nope"), "Nope", id="agency"),
        pytest.param(("actions", "list", "--due-before", "tomorrow"), "tomorrow", id="due"),
        pytest.param(("actions", "add", "x", "--agency", "1", "--due", "2026-02-31"), "2026-02-31",
                     id="add-due"),
        pytest.param(("meetings", "list", "--from", "2026-99-01"), "2026-99-01", id="meeting-from"),
    ],
)  # fmt: skip
def test_bad_values_name_themselves(cli_db: Engine, args: tuple[str, ...], named: str) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert named in result.output
