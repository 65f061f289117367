"""``timpora snapshot`` and ``timpora briefing`` against committed synthetic data."""

from __future__ import annotations

import getpass
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from tests.conftest import SHARED_DATA
from tests.maps.briefing_seed import add_export_data, assert_no_secrets, pdf_text
from tests.maps.seed import seed_map_data


@pytest.fixture
def env(committed: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    with Session(committed) as session:
        add_export_data(session, seed_map_data(session))
        session.commit()
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    monkeypatch.setenv("TIMPORA_REFERENCE_DATA_DIR", str(SHARED_DATA))
    yield committed


def test_snapshot_and_briefing_commands(env: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    png = tmp_path / "peta.png"
    result = runner.invoke(
        app, ["snapshot", "--out", str(png), "--layer", "choropleth", "--author", "Tim Uji"]
    )
    assert result.exit_code == 0, result.output
    assert "layer choropleth, 35 incidents" in result.output
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert round(image.info["dpi"][0]) == 200 and image.size[0] > image.size[1]

    pdf = tmp_path / "briefing.pdf"
    result = runner.invoke(app, ["briefing", "--out", str(pdf), "--lang", "en"])
    assert result.exit_code == 0, result.output
    pages, body = pdf_text(pdf.read_bytes())
    assert pages == 6 and "Timpora briefing pack" in body
    assert_no_secrets(body)
    with env.connect() as conn:
        rows = conn.execute(
            text("SELECT user_name, resource, client FROM audit_log ORDER BY id")
        ).all()
    assert [(r.user_name, r.resource, r.client) for r in rows] == [
        ("Tim Uji", "maps/snapshot.png", "cli"),
        (getpass.getuser(), "maps/briefing.pdf", "cli"),  # --author defaults to the OS user
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["snapshot", "--out", "x.png", "--layer", "volcano"], "volcano", id="layer"),
        pytest.param(["snapshot", "--out", "x.txt"], "x.txt", id="suffix"),
        pytest.param(["briefing", "--out", "x.png"], "x.png", id="pack-is-pdf"),
        pytest.param(["briefing", "--out", "x.pdf", "--start", "kemarin"], "kemarin", id="start"),
    ],
)
def test_bad_options_fail_in_one_line(
    env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())
