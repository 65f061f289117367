"""Schemathesis against the service's own OpenAPI document, over real HTTP: no 5xx, and every
response conforms to the schema.

Bounded for CI: ``TIMPORA_FUZZ_EXAMPLES`` examples per operation (default 4); run more by hand,
e.g. ``TIMPORA_FUZZ_EXAMPLES=200 ./scripts/test tests/hardening/test_fuzz.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from geo.db import Database
from geo.settings import DatabaseSettings, ServiceSettings, Settings
from geo.users import create_user

EXAMPLES = int(os.environ.get("TIMPORA_FUZZ_EXAMPLES", "4"))

# Streams never end by themselves; they are tested in tests/api/test_alerts_api.py and
# tests/api/test_patrol_live_api.py.
EXCLUDED_PATHS = ["/api/v1/alerts/stream", "/api/v1/patrols/positions/stream"]

# Checked: no 5xx, status codes, content types, response bodies and headers as documented, and
# 405 with a true Allow header for undeclared methods. Not checked: whether the server is
# exactly as strict as the schema in either direction (positive_data_acceptance,
# negative_data_rejection): the area of interest, referenced ids and ISO 8601 times are
# validated by the service with 422s naming the value, which OpenAPI cannot express, and
# pydantic's lax mode accepts e.g. ``false`` for a 0.0 factor, which is harmless.
EXCLUDED_CHECKS = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.negative_data_rejection,
]


def _spec() -> dict[str, Any]:
    # The OpenAPI document does not depend on the database: build it without connecting.
    db_settings = DatabaseSettings(database_url="postgresql://fuzz@127.0.0.1:9/fuzz")
    app = create_app(
        Settings(database=db_settings, service=ServiceSettings(environment="test")),
        Database.from_settings(db_settings),
    )
    return app.openapi()


schema = schemathesis.openapi.from_dict(_spec())


@pytest.fixture(scope="module")
def fuzz_token(engine: Engine) -> Iterator[str]:
    with Session(engine) as session:
        _, token = create_user(session=session, name="fuzz-admin", role="admin")
        session.commit()
    yield token


@pytest.fixture(scope="module")
def fuzz_cleanup(engine: Engine) -> Iterator[None]:
    """Fuzzing writes through a real server: empty the run-time tables afterwards."""
    from sqlalchemy import text

    from tests.conftest import RUNTIME_TABLES

    yield
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(RUNTIME_TABLES)} RESTART IDENTITY CASCADE"))


@schema.exclude(path=EXCLUDED_PATHS).parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_schema(
    case: Any, live_server: str, fuzz_token: str, fuzz_cleanup: None
) -> None:
    headers = {"Authorization": f"Bearer {fuzz_token}"}
    response = case.call(base_url=live_server, headers=headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
    case.validate_response(response, headers=headers, excluded_checks=EXCLUDED_CHECKS)
