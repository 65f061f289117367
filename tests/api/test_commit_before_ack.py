"""A write is acknowledged only after its commit: a failing commit answers 503, never 201."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.app import create_app
from geo.db import Database
from geo.settings import Settings
from geo.users import create_user


class CommitFails(Database):
    """A database whose commits fail the way they do when the server goes away mid-request."""

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessionmaker() as session:
            try:
                yield session
                raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
            except BaseException:
                session.rollback()
                raise


def test_failing_commit_is_not_acknowledged(committed: Engine, settings: Settings) -> None:
    with Session(committed) as session:
        _, token = create_user(session=session, name="commit-check", role="analyst")
        session.commit()
    base = Database.from_settings(settings.database, committed.url)
    failing = CommitFails(engine=base.engine, sessionmaker=base.sessionmaker)
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.31, 1.36]},
        "properties": {
            "observed_at": "2026-05-01T08:00:00+07:00",
            "source": "patrol",
            "external_ref": "commit-check-1",
        },
    }
    with TestClient(create_app(settings, failing)) as client:
        response = client.post(
            "/api/v1/sightings", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    with committed.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM sighting WHERE external_ref = 'commit-check-1'")
        ).scalar_one()
    assert stored == 0
    base.dispose()
