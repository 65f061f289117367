"""``timpora alerts list`` in queue order with totals, and the actions on several ids."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.users import create_user
from tests.api.queue_seed import TODAY, add_alert
from tests.conftest import SHARED_DATA


@pytest.fixture
def env(committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    with Session(committed) as session:
        ids = {
            "low": add_alert(session, "cli-a", severity=2),
            "high": add_alert(session, "cli-b", severity=5, last=TODAY - dt.timedelta(days=3)),
            "mid": add_alert(session, "cli-c", severity=3, occurrences=4),
        }
        create_user(session=session, name="Koordinator Uji", role="coordinator")
        create_user(session=session, name="Pemirsa Uji", role="viewer")
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    monkeypatch.setenv("TIMPORA_REFERENCE_DATA_DIR", str(SHARED_DATA))
    yield ids


def test_queue_and_actions(env: dict, committed: Engine) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["alerts", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^│\s*(\d+)\s*│", result.output, flags=re.MULTILINE)
    assert [int(r) for r in rows] == [env["high"], env["mid"], env["low"]]
    assert "3 of 3 in the queue" in result.output
    assert "by severity: 2 1, 3 1, 5 1" in result.output

    ids = [str(env["high"]), str(env["mid"])]
    as_ = ["--as", "Koordinator Uji"]
    result = runner.invoke(app, ["alerts", "assign", *ids, "--to", "Koordinator Uji", *as_])
    assert result.exit_code == 0, result.output
    assert "assigned 2 alert(s)" in result.output
    result = runner.invoke(app, ["alerts", "note", *ids, "--text", "cek lapangan", *as_])
    assert result.exit_code == 0, result.output
    # Resolving needs a reason; a viewer may not act; a closed alert makes the whole call fail.
    assert runner.invoke(app, ["alerts", "resolve", *ids, *as_]).exit_code != 0
    viewer = runner.invoke(
        app, ["alerts", "resolve", *ids, "--reason", "explained", "--as", "Pemirsa Uji"]
    )
    assert viewer.exit_code != 0 and "may not" in viewer.output
    result = runner.invoke(app, ["alerts", "resolve", ids[0], "--reason", "explained", *as_])
    assert result.exit_code == 0, result.output
    both = runner.invoke(app, ["alerts", "resolve", *ids, "--reason", "duplicate", *as_])
    assert both.exit_code != 0 and f"{env['high']} is resolved" in both.output

    listed = runner.invoke(
        app,
        ["alerts", "list", "--assignee", "Koordinator Uji", "--as", "Koordinator Uji"],
        terminal_width=200,
    )
    assert listed.exit_code == 0, listed.output
    assert "1 of 1 in the queue" in listed.output
    assert re.findall(r"^│\s*(\d+)\s*│", listed.output, flags=re.MULTILINE) == [str(env["mid"])]
    with committed.connect() as conn:
        notes = conn.execute(
            text("SELECT alert_id, action FROM alert_note WHERE alert_id = ANY(:i) ORDER BY id"),
            {"i": [env["high"], env["mid"]]},
        ).all()
        audit = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE resource = ANY(:r) AND client = 'cli'"),
            {"r": [f"alerts/{env['high']}", f"alerts/{env['mid']}"]},
        ).scalar_one()
    assert [a for i, a in notes if i == env["mid"]] == ["assign", "note"]
    assert [a for i, a in notes if i == env["high"]] == ["assign", "note", "resolve"]
    assert audit == 5
