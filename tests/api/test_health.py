from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from geo.db import Database
from geo.settings import DatabaseSettings, ServiceSettings, Settings


def test_healthz_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_503_when_database_down() -> None:
    # A port where nothing listens: the app must answer 503 with a clear body, not crash.
    from geo.cluster import free_port_from

    port = free_port_from(59990)
    db_settings = DatabaseSettings(
        database_url=f"postgresql://timpora:hunter2-secret@127.0.0.1:{port}/timpora",
        connect_timeout_s=1,
    )
    settings = Settings(database=db_settings, service=ServiceSettings(environment="test"))
    database = Database.from_settings(db_settings)
    with TestClient(create_app(settings, database)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "unreachable"
    assert "hunter2" not in response.text
    assert response.headers["retry-after"]
