"""Rate limit, body limit, CORS, security headers, request ids, offline docs, audit endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.middleware import TokenBucket
from geo.db import Database
from geo.settings import ServiceSettings, Settings
from tests.api.helpers import SAMPLES, auth, make_tokens
from tests.conftest import request_session


@pytest.fixture
def strict_client(settings: Settings, database: Database, session: Session) -> Iterator[TestClient]:
    from api.app import create_app
    from api.deps import get_session

    strict = Settings(
        database=settings.database,
        area=settings.area,
        service=ServiceSettings(
            environment="test",
            rate_limit_per_minute=5,
            max_body_bytes=2048,
            cors_origins=["https://dashboard.example"],
        ),
    )
    app = create_app(strict, database)
    app.dependency_overrides[get_session] = request_session(session)
    with TestClient(app) as c:
        yield c


def test_rate_limit_per_token_429_with_retry_after(
    strict_client: TestClient, session: Session
) -> None:
    tokens = make_tokens(session, prefix="rl")
    codes = [
        strict_client.get("/api/v1/zones", headers=auth(tokens["viewer"])).status_code
        for _ in range(8)
    ]
    # The first request counts against the address (the token is not known yet), then five.
    assert codes[:6] == [200] * 6 and codes[6:] == [429, 429]
    limited = strict_client.get("/api/v1/zones", headers=auth(tokens["viewer"]))
    assert int(limited.headers["retry-after"]) >= 1
    # Another token has its own budget; /healthz is never limited.
    assert strict_client.get("/api/v1/zones", headers=auth(tokens["planner"])).status_code == 200
    assert all(strict_client.get("/healthz").status_code == 200 for _ in range(8))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda i: {}, id="no-token"),
        pytest.param(lambda i: auth(f"tpm_random{i}"), id="random-tokens"),
        pytest.param(lambda i: {"Authorization": f"Basic x{i}"}, id="other-scheme"),
    ],
)
def test_unknown_tokens_share_their_address_budget(
    strict_client: TestClient, session: Session, headers: Any
) -> None:
    codes = [strict_client.get("/api/v1/zones", headers=headers(i)).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    # A valid token not yet accepted by this process shares that address too ...
    tokens = make_tokens(session, prefix="addr")
    assert strict_client.get("/api/v1/zones", headers=auth(tokens["viewer"])).status_code == 429


def test_accepted_token_gets_its_own_bucket(strict_client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="own")
    assert strict_client.get("/api/v1/zones", headers=auth(tokens["viewer"])).status_code == 200
    # ... but once accepted, a token's budget is its own: address exhaustion does not stop it.
    for i in range(6):
        strict_client.get("/api/v1/zones", headers=auth(f"tpm_bad{i}"))
    assert strict_client.get("/api/v1/zones", headers=auth("tpm_bad")).status_code == 429
    assert strict_client.get("/api/v1/zones", headers=auth(tokens["viewer"])).status_code == 200


def test_query_token_counts_only_on_the_stream() -> None:
    from api.middleware import STREAM_PATH, _presented_token

    scope = {"path": "/maps/heatmap", "query_string": b"access_token=abc", "headers": []}
    assert _presented_token(scope) is None
    assert _presented_token({**scope, "path": STREAM_PATH}) == b"abc"


def test_token_bucket_refills() -> None:
    bucket = TokenBucket(60)
    assert all(bucket.take("k", now=0.0) == 0 for _ in range(60))
    assert bucket.take("k", now=0.0) > 0
    assert bucket.take("k", now=1.01) == 0


def test_body_limit_413(strict_client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="bl")
    big = dict(SAMPLES["incidents"])
    big["properties"] = {**big["properties"], "description": "x" * 5000}
    response = strict_client.post("/api/v1/incidents", json=big, headers=auth(tokens["analyst"]))
    assert response.status_code == 413
    chunked = strict_client.post(
        "/api/v1/incidents",
        content=iter([b"{" + b" " * 3000 + b"}"]),
        headers={**auth(tokens["analyst"]), "content-type": "application/json"},
    )
    assert chunked.status_code == 413


def test_cors_and_security_headers(strict_client: TestClient) -> None:
    pre = strict_client.options(
        "/api/v1/zones",
        headers={"Origin": "https://dashboard.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.headers["access-control-allow-origin"] == "https://dashboard.example"
    other = strict_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["x-content-type-options"] == "nosniff"
    assert other.headers["x-frame-options"] == "SAMEORIGIN"
    assert other.headers["referrer-policy"] == "no-referrer"
    csp = other.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert len(other.headers["x-request-id"]) == 32
    echoed = strict_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


def test_docs_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text.split("<body>")[0]
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and '<redoc spec-url="/openapi.json">' in redoc.text
    bundle = client.get("/docs/redoc.standalone.js")
    assert bundle.status_code == 200 and "cdn.redoc.ly" not in bundle.text
    assert "<script>" not in page.text and "<script>" not in redoc.text  # no inline script
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/incidents"]["post"]
    body = post["requestBody"]["content"]["application/json"]
    assert body["example"]["properties"]["kind"] == "illegal_work"
    assert "kind" in body["schema"]["properties"]["properties"]["required"]
    assert "/ogc/collections/{collection_id}/items" in spec["paths"]


def test_audit_endpoint_admin_only(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="au")
    client.post("/api/v1/incidents", json=SAMPLES["incidents"], headers=auth(tokens["analyst"]))
    for role in ("analyst", "coordinator", "planner", "viewer"):
        assert client.get("/api/v1/audit", headers=auth(tokens[role])).status_code == 403
    log = client.get("/api/v1/audit?action=create", headers=auth(tokens["admin"])).json()
    entry = log["entries"][0]
    assert entry["user_name"] == "au-analyst" and entry["resource"].startswith("incidents/")
    assert entry["record_count"] == 1 and entry["client"]


def test_no_internals_in_errors(client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="er")
    for url in (
        "/api/v1/incidents?bbox=1,1,1,nan",
        "/api/v1/incidents?start=2025-13-45",
        "/api/v1/incidents/0",
    ):
        response = client.get(url, headers=auth(tokens["viewer"]))
        assert response.status_code in (404, 422)
        text = response.text.lower()
        assert "select" not in text and "postgresql://" not in text and "traceback" not in text
