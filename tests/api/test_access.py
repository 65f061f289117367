"""Every route × every role against the access table of ``geo/access.py``.

Each route's dependency tree must carry ``require(PERMISSION)`` (``api/auth.py`` marks the
dependency with ``.permission``). A route without one fails, unless it is one of the few public
routes listed in ``PUBLIC`` below. Then every role calls every route: a role without the
permission gets 403, one with it gets past authorisation (no 401/403, and never a 5xx), and a
request without a token gets 401. The faces (``geo.access.FACES``: the role a user of an agency
without personal data acts with) are called as such a user.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.routing import Mount, Route

from geo import access
from tests.api.helpers import FACE_USERS, ROLES, auth, make_tokens

# Public on purpose: liveness, the API description and its offline viewer.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/swagger-ui-init.js"),
    ("GET", "/docs/redoc.standalone.js"),
    ("GET", "/redoc"),
    # The dashboard's static HTML shell: no data in it; everything it shows comes from
    # routes with rules (/dashboard/meta, /api/v1/...).
    ("GET", "/"),
    # Traccar Client positions: the registered device identifier is the credential, as in
    # Traccar itself (unknown ones are refused and counted; docs/field.md).
    ("GET", "/osmand"),
    ("POST", "/osmand"),
    # The field form's shell and what it caches offline (outlines, vocabularies): no data.
    ("GET", "/field/"),
    ("GET", "/field/{filename}"),
    ("GET", "/field/api/context"),
    # The office's basemap archive and its tiles: public map data (OpenStreetMap), asked for by
    # <img> elements and the sandboxed map frame, which carry no token (docs/maps.md).
    ("GET", "/basemap/metadata"),
    ("GET", "/basemap/archive"),
    ("GET", "/basemap/tiles/{z}/{x}/{y}"),
}
# Signed in with a field device's token, not a user's: no role reaches them.
DEVICE_ROUTES = {("GET", "/field/api/whoami"), ("POST", "/field/api/reports")}
# Static files (no data): mounted directories and file routes, no per-request authorisation.
PUBLIC_MOUNTS = {"/docs/assets", "/static"}
PUBLIC_PREFIXES = ("/static/",)


def permission_of(dependant: Any) -> str | None:
    """The permission that ``require(...)`` puts somewhere in a dependency tree."""
    found = getattr(dependant.call, "permission", None) if dependant.call else None
    if found:
        return str(found)
    for sub in dependant.dependencies:
        got = permission_of(sub)
        if got:
            return got
    return None


def route_table(app: FastAPI) -> list[tuple[str, str, str | None, Any]]:
    """(method, path, permission, route) of every route, included routers flattened."""
    table = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if isinstance(route, Mount):
            assert path in PUBLIC_MOUNTS, f"unexpected mount {path}"
            continue
        effective = context._effective_route
        dependant = getattr(effective, "dependant", None)
        perm = permission_of(dependant) if dependant is not None else None
        if isinstance(route, APIRoute | Route):
            for method in sorted(context.methods or ()):
                if method != "HEAD":
                    table.append((method, path, perm, route))
    assert len(table) > 10
    return table


def concrete(path: str) -> str:
    """A concrete URL for a path template: ids become 1, names a harmless word."""
    path = re.sub(r"\{[^}]*id[^}]*\}", "1", path)
    path = re.sub(r"\{z\}|\{x\}|\{y\}", "0", path)
    return re.sub(r"\{[^}]+\}", "zz", path)


def test_every_route_has_a_rule(app: FastAPI) -> None:
    missing = [
        f"{method} {path}"
        for method, path, perm, _ in route_table(app)
        if perm is None
        and (method, path) not in PUBLIC | DEVICE_ROUTES
        and not path.startswith(PUBLIC_PREFIXES)
    ]
    assert not missing, f"routes without require(...): {missing}"
    for _, _, perm, _ in route_table(app):
        assert perm is None or perm in access.PERMISSIONS


def test_every_route_every_role(app: FastAPI, client: TestClient, session: Session) -> None:
    tokens = make_tokens(session, prefix="acc", faces=True)
    assert set(FACE_USERS) == access.FACES
    failures = []
    checked = 0
    for method, path, perm, _ in route_table(app):
        if method == "HEAD":
            continue
        url = concrete(path)
        body = {} if method in ("POST", "PATCH", "PUT") else None
        if (method, path) in DEVICE_ROUTES:
            for headers in ({}, auth(tokens["admin"])):  # a user's token is no device token
                code = client.request(method, url, json=body, headers=headers).status_code
                if code != 401:
                    failures.append(f"device route {method} {path} {headers and 'admin'}: {code}")
            continue
        if perm is None:
            response = client.request(method, url, json=body)
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(f"public {method} {path}: {response.status_code}")
            continue
        if path.endswith("/stream"):
            # Server-sent events never end: check the denial, not the open stream.
            roles = [r for r in tokens if not access.allowed(r, perm)]
        else:
            roles = list(tokens)
        anonymous = client.request(method, url, json=body)
        if anonymous.status_code != 401:
            failures.append(f"no token {method} {path}: {anonymous.status_code}")
        for role in roles:
            response = client.request(method, url, json=body, headers=auth(tokens[role]))
            code = response.status_code
            checked += 1
            if access.allowed(role, perm):
                if code in (401, 403) or code >= 500:
                    failures.append(
                        f"{role} {method} {path} ({perm}): {code} {response.text[:120]}"
                    )
            elif code != 403:
                failures.append(f"{role} {method} {path} ({perm}) should be 403, got {code}")
    assert not failures, "\n".join(failures)
    assert checked > 50


@pytest.mark.parametrize("role", ROLES)
def test_revoked_token_is_401(client: TestClient, session: Session, role: str) -> None:
    from geo.users import revoke_user

    tokens = make_tokens(session, prefix=f"rv{role}")
    revoke_user(session=session, name=f"rv{role}-{role}")
    response = client.get("/api/v1/incidents", headers=auth(tokens[role]))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
