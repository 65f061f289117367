"""Long CLI and maintenance jobs are not cut by the API requests' statement timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from geo.db import Database
from geo.settings import DatabaseSettings
from tests.conftest import SHARED_DATA

TIMPORA = str(Path(sys.executable).parent / "timpora")


def _settings(url: str, **kwargs: int) -> DatabaseSettings:
    return DatabaseSettings(database_url=url, pool_size=1, **kwargs)


def _sleep(db: Database, seconds: float) -> None:
    with db.session() as session:
        session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})


def test_requests_keep_their_timeout_and_maintenance_sessions_get_their_own(
    engine: Engine,
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    settings = _settings(url, statement_timeout_ms=100, maintenance_statement_timeout_ms=0)
    request = Database.from_settings(settings, engine.url)
    maintenance = Database.from_settings(settings, engine.url, maintenance=True)
    try:
        with pytest.raises(OperationalError, match="statement timeout"):
            _sleep(request, 0.3)
        _sleep(maintenance, 0.3)
        with maintenance.session() as session:
            assert session.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        request.dispose()
        maintenance.dispose()
    bounded = Database.from_settings(
        _settings(url, statement_timeout_ms=0, maintenance_statement_timeout_ms=100),
        engine.url,
        maintenance=True,
    )
    try:
        with pytest.raises(OperationalError, match="statement timeout"):
            _sleep(bounded, 0.3)
    finally:
        bounded.dispose()


def test_cli_migrates_and_loads_boundaries_under_a_1_ms_request_timeout(
    empty_database: Engine,
) -> None:
    """Every statement of a migration and of loading the reference geography takes more
    than 1 ms: with the request timeout applied to commands, both would be cancelled."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMPORA_")}
    env.update(
        TIMPORA_DATABASE_URL=empty_database.url.render_as_string(hide_password=False),
        TIMPORA_STATEMENT_TIMEOUT_MS="1",
        TIMPORA_REFERENCE_DATA_DIR=str(SHARED_DATA),
        COLUMNS="200",
    )
    for args in (["db", "upgrade"], ["boundaries", "load"]):
        proc = subprocess.run(
            [TIMPORA, *args], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        assert "statement timeout" not in proc.stderr
    with empty_database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM admin_area")).scalar_one() > 200
