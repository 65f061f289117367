"""CLI output: tables fit a terminal and keep whole lines when piped; ``--format json|csv`` gives
every record and field; every time shown is WIB."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.times import WIB
from geo.users import create_user, list_users
from tests.geo.alert_synth import T0, add_incident, add_workplace, offset

TIMPORA = str(Path(sys.executable).parent / "timpora")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LONG_NAME = "petugas-" + "sangat-panjang-" * 5 + "sambas"  # 89 characters


@pytest.fixture
def env(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The test database for in-process and subprocess commands, with one long-named user."""
    with Session(committed) as session:
        create_user(session=session, name=LONG_NAME, role="viewer")
        create_user(session=session, name="kasi", role="coordinator")
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    child = {k: v for k, v in os.environ.items() if not k.startswith("TIMPORA_")}
    child.pop("COLUMNS", None)
    child.pop("LINES", None)
    child["TIMPORA_DATABASE_URL"] = database_url
    yield child


def _in_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """Run ``timpora`` with its stdout on a pseudo-terminal ``columns`` wide; what it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [TIMPORA, *args],
        stdin=subprocess.DEVNULL,  # else rich measures the terminal pytest was started from
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


def test_a_piped_table_keeps_whole_lines(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [TIMPORA, "users", "list"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    row = next(line for line in lines if LONG_NAME[:20] in line)
    assert LONG_NAME in row and "viewer" in row  # the whole cell on one line, not cut at 80
    assert max(len(line) for line in lines) > 80
    assert "created (WIB)" in proc.stdout


def test_a_table_fits_its_terminal(env: dict[str, str]) -> None:
    shown = _in_terminal(["users", "list"], env, columns=60)
    lines = [line for line in shown.splitlines() if line.strip()]
    assert any("kasi" in line for line in lines)
    assert max(len(line) for line in lines) <= 60, shown


def test_users_list_as_json_and_csv_with_times_in_wib(
    env: dict[str, str], committed: Engine
) -> None:
    with Session(committed) as session:
        created = {u.name: u.created_at for u in list_users(session=session)}
    runner = CliRunner()
    result = runner.invoke(app, ["users", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    users = {u["name"]: u for u in json.loads(result.stdout)}
    assert set(users) == {LONG_NAME, "kasi"}
    for name, user in users.items():
        assert user["created_at"] == created[name].astimezone(WIB).isoformat()
        assert user["created_at"].endswith("+07:00") and user["revoked_at"] is None
    result = runner.invoke(app, ["users", "list", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == [LONG_NAME, "kasi"]
    assert rows[1]["created_at"] == users["kasi"]["created_at"] and rows[1]["revoked_at"] == ""
    table = runner.invoke(app, ["users", "list"])
    assert "created (WIB)" in table.stdout and "UTC" not in table.stdout
    assert created["kasi"].astimezone(WIB).strftime("%Y-%m-%d %H:%M") in table.stdout


def test_a_bad_format_is_refused(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["users", "list", "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output and "Traceback" not in result.output


def test_patrol_log_times_are_wib(env: dict[str, str]) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["patrol", "log", "add", "--lon", "109.31", "--lat", "1.36", "--team", "[bold]Tim B",
         "--at", "2026-04-01T00:30:00+00:00"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "2026-04-01 07:30 WIB" in added.stdout and "2000 m" in added.stdout
    table = runner.invoke(app, ["patrol", "log", "list"])
    assert table.exit_code == 0, table.output
    assert "when (WIB)" in table.stdout and "2026-04-01 07:30" in table.stdout
    assert "[bold]Tim B" in table.stdout  # a team name is text, not console markup
    listed = runner.invoke(app, ["patrol", "log", "list", "--format", "json"])
    (entry,) = json.loads(listed.stdout)
    assert entry["patrolled_at"] == "2026-04-01T07:30:00+07:00"
    assert entry["radius_m"] == 2000.0 and entry["team"] == "[bold]Tim B"
    as_csv = runner.invoke(app, ["patrol", "log", "list", "--format", "csv"])
    assert as_csv.stdout.splitlines()[0] == "id,patrolled_at,ended_at,lon,lat,radius_m,team"


def test_boundaries_status_formats(env: dict[str, str]) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["boundaries", "status", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    layers = json.loads(listed.stdout)
    desa = next(x for x in layers if x["target"] == "admin_area" and x["layer"] == "desa")
    assert desa["features"] == 193 and desa["loaded_at"].endswith("+07:00")
    rows = list(
        csv.DictReader(
            io.StringIO(runner.invoke(app, ["boundaries", "status", "--format", "csv"]).stdout)
        )
    )
    assert len(rows) == len(layers) and rows[0].keys() == layers[0].keys()
    table = runner.invoke(app, ["boundaries", "status"])
    assert "loaded (WIB)" in table.stdout and "ODbL-1.0" in table.stdout


def test_alerts_list_and_purge_speak_wib(env: dict[str, str], committed: Engine) -> None:
    with Session(committed) as session:
        lon, lat = offset(session, 109.31, 1.36, 0, 0)
        add_workplace(session, lon, lat)
        add_incident(session, *offset(session, lon, lat, 200, 0))  # 08:00 WIB, 200 m away
        session.commit()
    runner = CliRunner()
    assert runner.invoke(app, ["alerts", "run"]).exit_code == 0
    # The 2025 episode is long quiet: the batch's sweep closed it as lapsed (not in the open queue).
    everything = ["--status", "open", "--status", "lapsed"]
    listed = runner.invoke(app, ["alerts", "list", "--format", "json", *everything])
    assert listed.exit_code == 0, listed.output
    (alert,) = [a for a in json.loads(listed.stdout) if a["rule"] == "incident_near_workplace"]
    assert alert["first_seen_at"] == T0.isoformat() == "2025-03-01T08:00:00+07:00"
    assert alert["last_seen_at"] == alert["first_seen_at"] and alert["occurrences"] == 1
    csv_run = runner.invoke(app, ["alerts", "list", "--format", "csv", *everything])
    as_csv = csv_run.stdout.splitlines()
    assert as_csv[0] == (
        "id,rule,severity,status,first_seen_at,last_seen_at,occurrences,kecamatan,desa,assigned_to"
    )
    table = runner.invoke(app, ["alerts", "list", *everything]).stdout
    assert "first seen (WIB)" in table and "2025-03-01 08:00" in table
    purge = runner.invoke(app, ["purge", "--older-than", "30", "--dry-run"])
    assert purge.exit_code == 0, purge.output
    assert re.search(r"observed before \d{4}-\d\d-\d\d \d\d:\d\d WIB", purge.stdout)
