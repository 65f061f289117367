"""Pooled connections are tested at checkout only after an idle spell (geo/db.py): one that
died while idle is replaced without the caller noticing; one in steady use is not pinged."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from geo import db
from geo.settings import Settings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(owner: Engine, pid: int) -> None:
    with owner.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
        conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = :p "
                "AND pg_sleep(0.05) IS NOT NULL"
            ),
            {"p": pid},
        )


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    return seen


def test_a_connection_that_died_while_idle_is_replaced(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled = db.make_engine(settings.database)  # used one at a time: one connection
    try:
        pid = _backend_pid(pooled)
        _terminate(engine, pid)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # idle long enough: pinged
        assert _backend_pid(pooled) != pid
    finally:
        pooled.dispose()


def test_a_connection_in_steady_use_is_not_pinged(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ping within the idle spell; a connection that died meanwhile fails one statement,
    reported as a disconnect (the API answers 503), and the pool then starts afresh."""
    pooled = db.make_engine(settings.database)  # used one at a time: one connection
    try:
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
        pid = _backend_pid(pooled)
        seen = _statements(pooled)
        assert _backend_pid(pooled) == pid
        assert seen == ["SELECT pg_backend_pid()"]
        _terminate(engine, pid)
        with pytest.raises(OperationalError) as failed:
            _backend_pid(pooled)
        assert failed.value.connection_invalidated
        assert _backend_pid(pooled) != pid
    finally:
        pooled.dispose()
