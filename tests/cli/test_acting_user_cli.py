"""The command line acting for a registered user writes under that user's agency (like their API
request); the operator writes without one. ``timpora import --sharing``; ``timpora devices move``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.field import devices
from geo.users import create_user

CSV = (
    "external_ref,kind,severity,status,occurred_at,lon,lat,description\n"
    "{p}-1,overstay,2,open,2026-11-02T10:00:00,109.30,1.36,satu\n"
    "{p}-2,illegal_work,3,open,2026-11-03T10:00:00,109.31,1.37,dua\n"
)


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def cli_db(
    committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """Polres with personal data (its analyst acts with the full role) and one user of it."""
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    with Session(committed) as session:
        session.execute(text("UPDATE agency SET personal_data = true WHERE short_name = 'POLRES'"))
        create_user(session=session, name="cli-polres", role="analyst", agency="POLRES")
        create_user(session=session, name="cli-polres-viewer", role="viewer", agency="POLRES")
        session.commit()
    try:
        yield committed
    finally:
        with committed.begin() as conn:
            conn.execute(
                text("UPDATE agency SET personal_data = false WHERE short_name = 'POLRES'")
            )


def rows(engine: Engine, prefix: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT external_ref, a.short_name, sharing, "
                    "(SELECT array_agg(w.short_name ORDER BY w.short_name) FROM agency w "
                    " WHERE w.id = ANY (i.shared_with)) "
                    "FROM incident i LEFT JOIN agency a ON a.id = i.agency_id "
                    "WHERE external_ref LIKE :p ORDER BY 1"
                ),
                {"p": f"{prefix}-%"},
            )
        ]


def test_import_with_author_writes_under_the_authors_agency_and_sharing(
    cli_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "razia.csv"
    path.write_text(CSV.format(p="CLA"))
    done = run(
        "import", "incidents", str(path), "--author", "cli-polres",
        "--sharing", "agencies", "--shared-with", "KODIM", "--shared-with", "kejari",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "new rows shared with: agencies (KEJARI, KODIM)" in done.output
    assert rows(cli_db, "CLA") == [
        ("CLA-1", "POLRES", "agencies", ["KEJARI", "KODIM"]),
        ("CLA-2", "POLRES", "agencies", ["KEJARI", "KODIM"]),
    ]
    with cli_db.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT user_name, a.short_name FROM audit_log l JOIN agency a ON a.id = l.agency_id "
                "WHERE action = 'import'"
            )
        ).all()
    assert [tuple(a) for a in audit] == [("cli-polres", "POLRES")]


def test_import_without_author_is_the_services_own_work(cli_db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "operator.csv"
    path.write_text(CSV.format(p="CLO"))
    refused = run("import", "incidents", str(path), "--sharing", "agency")
    assert refused.exit_code == 1
    assert "sharing 'agency' needs a reporting agency" in refused.output
    assert rows(cli_db, "CLO") == []
    done = run("import", "incidents", str(path))
    assert done.exit_code == 0, done.output
    assert rows(cli_db, "CLO") == [
        ("CLO-1", None, "timpora", None),
        ("CLO-2", None, "timpora", None),
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        pytest.param(("--sharing", "semua"), "'semua'", id="level"),
        pytest.param(("--shared-with", "NOPE"), "'NOPE'", id="agency"),
        pytest.param(("--sharing", "agency", "--shared-with", "KODIM"), "KODIM", id="names"),
    ],
)
def test_bad_sharing_writes_nothing_and_names_the_value(
    cli_db: Engine, tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV.format(p="CLB"))
    result = run("import", "incidents", str(path), "--author", "cli-polres", *args)
    assert result.exit_code == 1 and named in result.output
    assert rows(cli_db, "CLB") == []


def test_an_author_without_write_may_not_import(cli_db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "viewer.csv"
    path.write_text(CSV.format(p="CLV"))
    result = run("import", "incidents", str(path), "--author", "cli-polres-viewer")
    assert result.exit_code == 1 and "viewer" in result.output
    assert rows(cli_db, "CLV") == []


def test_writes_with_as_record_the_users_agency(cli_db: Engine) -> None:
    """A follow-up action's note written --as a Polres user: its audit row records Polres; the
    operator's records none."""
    added = run(
        "actions", "add", "Razia gabungan", "--agency", "POLRES", "--due", "2030-01-31",
        "--as", "cli-polres", "--format", "json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    noted = run("actions", "note", "1", "Dilaksanakan", "--as", "cli-polres")
    assert noted.exit_code == 0, noted.output
    by_operator = run("actions", "note", "1", "Dicatat operator")
    assert by_operator.exit_code == 0, by_operator.output
    with cli_db.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT user_name, action, a.short_name FROM audit_log l "
                "LEFT JOIN agency a ON a.id = l.agency_id "
                "WHERE resource = 'actions/1' AND action <> 'read' ORDER BY l.id"
            )
        ).all()
    assert [tuple(a) for a in audit] == [
        ("cli-polres", "create", "POLRES"),
        ("cli-polres", "note", "POLRES"),
        (audit[2][0], "note", None),
    ], audit
    assert audit[2][0] != "cli-polres"


def test_devices_move_is_audited_and_changes_the_devices_agency(cli_db: Engine) -> None:
    with Session(cli_db) as session:
        devices.register_device(session=session, name="HP Pindah", team="Tim X", kind="form")
        session.commit()
    moved = run("devices", "move", "HP Pindah", "--agency", "KODIM")
    assert moved.exit_code == 0, moved.output
    assert "IMIGRASI → KODIM" in moved.output
    again = run("devices", "move", "HP Pindah", "--agency", "KODIM")
    assert again.exit_code == 0 and "already KODIM" in again.output
    unknown = run("devices", "move", "HP Pindah", "--agency", "NOPE")
    assert unknown.exit_code == 1 and "NOPE" in unknown.output
    with Session(cli_db) as session:
        assert devices.get_device(session=session, name="HP Pindah").agency == "KODIM"
        audit = session.execute(
            text("SELECT action, details FROM audit_log WHERE resource LIKE 'field/devices/%'")
        ).all()
    assert [tuple(a) for a in audit] == [("update", {"agency": ["IMIGRASI", "KODIM"]})]


def test_devices_add_revoke_and_rotate_are_audited_as_from_the_api(cli_db: Engine) -> None:
    added = run("devices", "add", "HP Catat", "--team", "Tim Y", "--kind", "form")
    assert added.exit_code == 0, added.output
    assert run("devices", "rotate", "HP Catat").exit_code == 0
    assert run("devices", "revoke", "HP Catat").exit_code == 0
    with Session(cli_db) as session:
        device_id = devices.get_device(session=session, name="HP Catat").id
        audit = session.execute(
            text(
                "SELECT action, resource, client FROM audit_log "
                "WHERE resource LIKE 'field/devices/%' ORDER BY id"
            )
        ).all()
    assert [tuple(a) for a in audit] == [
        ("create", f"field/devices/{device_id}", "cli"),
        ("rotate", "field/devices/HP Catat", "cli"),
        ("revoke", "field/devices/HP Catat", "cli"),
    ]
