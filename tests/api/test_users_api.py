"""/api/v1/users: administrators add, list, rotate and revoke users; each change is audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import auth, make_tokens


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="users")


def test_add_rotate_revoke(client: TestClient, tokens: dict[str, str], session: Session) -> None:
    admin = auth(tokens["admin"])
    added = client.post(
        "/api/v1/users", json={"name": "Siti Aminah", "role": "planner"}, headers=admin
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["name"] == "Siti Aminah" and body["role"] == "planner" and body["active"]
    assert body["created_at"].endswith("+07:00")
    first = body["token"]
    assert client.get("/dashboard/meta", headers=auth(first)).json()["user"] == "Siti Aminah"

    listed = client.get("/api/v1/users", headers=admin).json()
    names = [u["name"] for u in listed["users"]]
    assert "Siti Aminah" in names and "token" not in str(listed["users"])
    assert listed["roles"] == ["admin", "analyst", "coordinator", "planner", "viewer"]

    rotated = client.post("/api/v1/users/Siti Aminah/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["token"]
    assert second != first
    assert client.get("/dashboard/meta", headers=auth(first)).status_code == 401
    assert client.get("/dashboard/meta", headers=auth(second)).status_code == 200

    revoked = client.post("/api/v1/users/Siti Aminah/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert revoked.json()["revoked_at"].endswith("+07:00") and "token" not in revoked.json()
    assert client.get("/dashboard/meta", headers=auth(second)).status_code == 401

    actions = session.execute(
        text(
            "SELECT action FROM audit_log WHERE resource = 'users/Siti Aminah' "
            "AND user_name = 'users-admin' ORDER BY id"
        )
    ).scalars()
    assert list(actions) == ["create", "rotate", "revoke"]
    # No token in any audit row.
    details = session.execute(text("SELECT details::text FROM audit_log")).scalars().all()
    assert not any(first in d or second in d for d in details)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        pytest.param({"name": "x", "role": "superuser"}, 422, "role", id="unknown-role"),
        pytest.param({"name": "   ", "role": "viewer"}, 422, "name", id="blank-name"),
        pytest.param({"name": "users-viewer", "role": "viewer"}, 409, None, id="name-taken"),
    ],
)
def test_bad_users_are_refused(
    client: TestClient, tokens: dict[str, str], body: dict[str, str], status: int, field: str | None
) -> None:
    r = client.post("/api/v1/users", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == status, r.text
    if field:
        assert field in r.text


def test_unknown_user_and_other_roles(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/users/nobody-here/rotate", headers=auth(tokens["admin"]))
    assert r.status_code == 404 and "nobody-here" in r.text
    for role in ("analyst", "coordinator", "planner", "viewer"):
        headers = auth(tokens[role])
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        made = client.post("/api/v1/users", json={"name": "x", "role": "admin"}, headers=headers)
        assert made.status_code == 403
