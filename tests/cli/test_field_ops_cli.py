"""``timpora purge`` says what it removed of the field's traces; ``timpora briefing
--patrol-coverage`` adds the coverage page for an author whose role manages patrols."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.field import devices, tracks
from geo.field.osmand import Position
from geo.users import create_user
from tests.conftest import SHARED_DATA
from tests.maps.briefing_seed import pdf_text

ARUK = (109.6467, 1.4133)


@pytest.fixture
def env(committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    monkeypatch.setenv("TIMPORA_REFERENCE_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("TIMPORA_FIELD_TRACK_RETENTION_DAYS", "30")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Session(committed) as session:
        devices.register_device(
            session=session, name="HP Uji", team="Tim Uji", kind="traccar", identifier="uji"
        )
        walk = [  # 40 days ago (past the 30-day retention), then the last hour
            Position("uji", at, ARUK[0] + 0.001 * i, ARUK[1], 5.0)
            for start in (now - dt.timedelta(days=40), now - dt.timedelta(hours=1))
            for i, at in enumerate(start + dt.timedelta(minutes=m) for m in range(10))
        ]
        tracks.record_positions(session=session, positions=walk, margin_m=10_000.0)
        create_user(session=session, name="Perencana", role="planner")
        create_user(session=session, name="Pemantau", role="viewer")
        session.commit()
    yield committed


def test_purge_prints_what_it_removed_of_the_field(env: Engine) -> None:
    runner = CliRunner()
    dry = runner.invoke(app, ["purge", "--older-than", "365", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 10 track position(s) recorded before" in dry.output
    assert "would delete 0 field photo(s)" in dry.output
    done = runner.invoke(app, ["purge", "--older-than", "365"])
    assert done.exit_code == 0, done.output
    assert "deleted 0 sighting(s)" in done.output
    assert "deleted 10 track position(s)" in done.output
    with env.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM track_position")).scalar_one() == 10


def test_briefing_with_patrol_coverage(env: Engine, artifacts_dir: Path) -> None:
    runner = CliRunner()
    pdf = artifacts_dir / "briefing_patrol_coverage.pdf"  # kept to look at
    args = ["briefing", "--out", str(pdf), "--lang", "en", "--patrol-coverage"]
    result = runner.invoke(app, [*args, "--author", "Perencana"])
    assert result.exit_code == 0, result.output
    pages, body = pdf_text(pdf.read_bytes())
    # Seven pages, eight when a coordination meeting is on record, and the coverage page.
    assert f"{pages} pages" in result.output and pages in (8, 9)
    assert "Patrol coverage" in body and "Tim Uji" in body
    refused = runner.invoke(app, [*args, "--author", "Pemantau"])
    assert refused.exit_code != 0
    assert "patrols:plan" in refused.output
