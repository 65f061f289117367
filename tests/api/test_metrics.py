"""``/metrics`` (Prometheus), request ids and JSON logs."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.logs import JsonFormatter, configure_logging
from geo.users import create_user


def _token(session: Session, role: str) -> dict[str, str]:
    _, token = create_user(session=session, name=f"metrics-{role}", role=role)
    return {"Authorization": f"Bearer {token}"}


def test_metrics_exposes_latency_and_domain_counters(client: TestClient, session: Session) -> None:
    headers = _token(session, "admin")
    session.execute(
        text(
            "INSERT INTO audit_log (user_name, action, resource, record_count) "
            "VALUES ('t', 'import', 'sightings', 1234)"
        )
    )
    session.flush()
    assert client.get("/healthz").status_code == 200
    # The collector reads through its own connection: it sees committed data only, so check
    # the shape here and the counters' values through the same SQL in the session.
    body = client.get("/metrics", headers=headers)
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/plain")
    text_ = body.text
    assert (
        'timpora_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
        in text_
    )
    assert "timpora_database_up 1.0" in text_
    assert "# TYPE timpora_alerts_raised_total counter" in text_
    assert "# TYPE timpora_notifications_undelivered gauge" in text_


def test_metrics_needs_an_admin_token(client: TestClient, session: Session) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_token(session, "viewer")).status_code == 403


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = client.get("/healthz")
    assert len(first.headers["x-request-id"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert forged.headers["x-request-id"] != "bad id\nwith newline"


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("timpora.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.request_id = "r1"
    record.status = 200
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r1" and line["status"] == 200 and line["level"] == "INFO"
    configure_logging(json=True, level="INFO")
    configure_logging(json=False, level="INFO")  # idempotent: one handler of ours
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_timpora", False)]
    assert len(ours) == 1
