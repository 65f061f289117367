"""/api/v1/agencies and the users' agencies: every role lists them, administrators add, edit,
retire (never delete) and move users between them; each change is audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.helpers import ROLES, auth, make_tokens

SEEDED = {
    "IMIGRASI",
    "POLRES",
    "KODIM",
    "KEJARI",
    "KESBANGPOL",
    "DISNAKERTRANS",
    "DISDUKCAPIL",
    "SATPOLPP",
    "BINDA",
    "BEACUKAI",
}


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    return make_tokens(session, prefix="agency")


def audit_rows(session: Session, resource: str) -> list[Any]:
    return session.execute(
        text("SELECT action, user_name, details FROM audit_log WHERE resource = :r ORDER BY id"),
        {"r": resource},
    ).all()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_lists_the_seeded_agencies(
    client: TestClient, tokens: dict[str, str], role: str
) -> None:
    r = client.get("/api/v1/agencies", headers=auth(tokens[role]))
    assert r.status_code == 200, r.text
    agencies = {a["short_name"]: a for a in r.json()["agencies"]}
    assert set(agencies) >= SEEDED
    # Only the immigration office's function needs personal data, by default.
    assert [s for s, a in agencies.items() if a["personal_data"]] == ["IMIGRASI"]
    assert agencies["KODIM"]["kind"] == "military" and agencies["POLRES"]["active"]
    assert "civil_registry" in r.json()["kinds"]


def test_admin_adds_edits_and_retires_an_agency(
    client: TestClient, tokens: dict[str, str], session: Session
) -> None:
    admin = auth(tokens["admin"])
    body = {"name": "Dinas Pariwisata Kabupaten Sambas", "short_name": "dispar", "kind": "other"}
    made = client.post("/api/v1/agencies", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["short_name"] == "DISPAR" and made.json()["personal_data"] is False

    edited = client.patch(
        "/api/v1/agencies/DISPAR", json={"personal_data": True, "kind": "other"}, headers=admin
    )
    assert edited.status_code == 200 and edited.json()["personal_data"] is True
    retired = client.patch("/api/v1/agencies/dispar", json={"active": False}, headers=admin)
    assert retired.status_code == 200 and retired.json()["active"] is False
    # Still listed (never deleted), and there is no DELETE route.
    listed = client.get("/api/v1/agencies", headers=admin).json()["agencies"]
    assert any(a["short_name"] == "DISPAR" and not a["active"] for a in listed)
    assert client.delete("/api/v1/agencies/DISPAR", headers=admin).status_code == 405

    rows = audit_rows(session, "agencies/DISPAR")
    assert [r.action for r in rows] == ["create", "update", "update"]
    assert rows[1].details == {"changed": {"personal_data": [False, True]}}
    assert rows[2].details == {"changed": {"active": [True, False]}}
    assert {r.user_name for r in rows} == {"agency-admin"}

    # A retired agency takes no new users.
    r = client.post(
        "/api/v1/users", json={"name": "late", "role": "viewer", "agency": "DISPAR"}, headers=admin
    )
    assert r.status_code == 422 and "DISPAR" in r.text


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "named"),
    [
        pytest.param(
            "POST",
            "/api/v1/agencies",
            {"name": "X", "short_name": "X", "kind": "navy"},
            422,
            "navy",
            id="unknown-kind",
        ),
        pytest.param(
            "POST",
            "/api/v1/agencies",
            {"name": "X", "short_name": "no spaces", "kind": "other"},
            422,
            "no spaces",
            id="bad-short-name",
        ),
        pytest.param(
            "POST",
            "/api/v1/agencies",
            {"name": "Polres Lain", "short_name": "polres", "kind": "police"},
            409,
            "POLRES",
            id="short-name-taken",
        ),
        pytest.param(
            "POST",
            "/api/v1/agencies",
            {"name": "kepolisian resor sambas", "short_name": "P2", "kind": "police"},
            409,
            "kepolisian resor sambas",
            id="name-taken-any-case",
        ),
        pytest.param(
            "PATCH", "/api/v1/agencies/NOPE", {"active": False}, 404, "NOPE", id="unknown-agency"
        ),
        pytest.param(
            "PATCH",
            "/api/v1/agencies/IMIGRASI",
            {"active": False},
            409,
            "active user",
            id="retire-with-users",
        ),
    ],
)
def test_bad_agency_writes_are_refused(
    client: TestClient,
    tokens: dict[str, str],
    method: str,
    url: str,
    body: dict[str, Any],
    status: int,
    named: str,
) -> None:
    r = client.request(method, url, json=body, headers=auth(tokens["admin"]))
    assert r.status_code == status, r.text
    assert named in r.text


@pytest.mark.parametrize("role", ["analyst", "coordinator", "planner", "viewer"])
def test_only_admins_write_agencies(client: TestClient, tokens: dict[str, str], role: str) -> None:
    headers = auth(tokens[role])
    body = {"name": "Y", "short_name": "Y", "kind": "other"}
    assert client.post("/api/v1/agencies", json=body, headers=headers).status_code == 403
    patch = client.patch("/api/v1/agencies/POLRES", json={"active": False}, headers=headers)
    assert patch.status_code == 403
    moved = client.patch("/api/v1/users/x", json={"agency": "POLRES"}, headers=headers)
    assert moved.status_code == 403


def test_users_belong_to_an_agency_and_move(
    client: TestClient, tokens: dict[str, str], session: Session
) -> None:
    admin = auth(tokens["admin"])
    made = client.post(
        "/api/v1/users",
        json={"name": "Bripka Uji", "role": "coordinator", "agency": "polres"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json()["agency"] == "POLRES"
    assert made.json()["agency_name"] == "Kepolisian Resor Sambas"
    default = client.post("/api/v1/users", json={"name": "Staf", "role": "viewer"}, headers=admin)
    assert default.json()["agency"] == "IMIGRASI"

    moved = client.patch("/api/v1/users/Bripka Uji", json={"agency": "KODIM"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["agency"] == "KODIM"
    listed = {u["name"]: u for u in client.get("/api/v1/users", headers=admin).json()["users"]}
    assert listed["Bripka Uji"]["agency"] == "KODIM" and listed["Staf"]["agency"] == "IMIGRASI"

    rows = audit_rows(session, "users/Bripka Uji")
    assert [(r.action, r.details) for r in rows] == [
        ("create", {"role": "coordinator", "agency": "POLRES"}),
        ("update", {"agency": ["POLRES", "KODIM"]}),
    ]
    r = client.patch("/api/v1/users/Bripka Uji", json={"agency": "NOWHERE"}, headers=admin)
    assert r.status_code == 404 and "NOWHERE" in r.text
    r = client.post(
        "/api/v1/users", json={"name": "z", "role": "viewer", "agency": "NOWHERE"}, headers=admin
    )
    assert r.status_code == 404 and "NOWHERE" in r.text
