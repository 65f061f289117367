"""Authentication (bearer tokens) and authorisation (``geo.access`` table) as dependencies.

Every route except ``/healthz`` (and the dashboard's static shell) declares
``Depends(require(PERMISSION))``; ``tests/api/test_access.py`` walks every route × every role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep
from geo import access
from geo.errors import AuthenticationError
from geo.users import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="A token from `timpora users add`.")


def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    if token is None:
        # EventSource (SSE) and <img> cannot set headers; allow ?access_token= there.
        token = request.query_params.get("access_token")
    if not token:
        raise AuthenticationError("missing bearer token (Authorization: Bearer <token>)")
    principal = authenticate(session=session, token=token)
    if principal is None:
        raise AuthenticationError("invalid or revoked token")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(permission: str) -> Callable[[Principal], Principal]:
    """A dependency that lets the request through only if the caller's role has ``permission``."""
    if permission not in access.PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def dependency(principal: PrincipalDep) -> Principal:
        access.check(principal.role, permission)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the access test
    return dependency
