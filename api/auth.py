"""Authentication (bearer tokens) and authorisation (``geo.access`` table) as dependencies.

Every route except ``/healthz`` (and the dashboard's static shell) declares
``Depends(require(PERMISSION))``; ``tests/api/test_access.py`` walks every route × every role.

A token that was valid is remembered for ``TOKEN_CACHE_S`` seconds per process (by its SHA-256,
never in clear), so a burst of requests (a map fetching tiles, a client paging) costs one user
lookup, not one each. ``timpora users revoke`` runs in another process and cannot reach this
cache: a revoked token (or a changed role) keeps its old standing for at most ``TOKEN_CACHE_S``
seconds, then is refused. A revoke or rotation through ``/api/v1/users`` forgets the user's
tokens in the process that served it at once (other worker processes: the same bound).
Unknown and revoked tokens are never cached. The alert stream, which outlives any cache, checks
its token again while it runs (``api/routers/alerts.py``).

``?access_token=`` is accepted by the alert stream alone (``require(..., query_token=True)``):
``EventSource`` cannot send a header; every other route needs ``Authorization: Bearer``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, enter_database_role
from geo import access
from geo.errors import AuthenticationError
from geo.users import Principal, authenticate, hash_token

bearer = HTTPBearer(auto_error=False, description="A token from `timpora users add`.")

TOKEN_CACHE_S: Final = 5.0  # how long a revoked token may still be honoured by a process
TOKEN_CACHE_MAX: Final = 10_000  # entries; all are dropped at once when it is full (rare)
QUERY_TOKEN: Final = "access_token"  # noqa: S105 - a parameter name the stream accepts


class TokenCache:
    """Principals of recently authenticated tokens, keyed by token hash, for ``ttl_s`` seconds."""

    def __init__(
        self,
        ttl_s: float = TOKEN_CACHE_S,
        *,
        max_entries: int = TOKEN_CACHE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            if self.clock() >= entry[0]:
                del self._entries[token_hash]
                return None
            return entry[1]

    def put(self, token_hash: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # bounded memory: forget everyone, rarely
            self._entries[token_hash] = (self.clock() + self.ttl_s, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget_user(self, name: str) -> None:
        """Drop every remembered token of user ``name`` (revoked or rotated here)."""
        with self._lock:
            for key in [k for k, (_, p) in self._entries.items() if p.name == name]:
                del self._entries[key]


_CACHE_LOCK = threading.Lock()


def token_cache(app: FastAPI) -> TokenCache:
    """The app's token cache (made on first use; tests may set ``app.state.token_cache``)."""
    cache: TokenCache | None = getattr(app.state, "token_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(app.state, "token_cache", None)
            if cache is None:
                cache = TokenCache()
                app.state.token_cache = cache
    return cache


async def _principal_of(request: Request, session: Session, token: str | None) -> Principal:
    if not token:
        raise AuthenticationError("missing bearer token (Authorization: Bearer <token>)")
    cache = token_cache(request.app)
    key = hash_token(token)
    principal = cache.get(key)
    if principal is None:
        # The lookup blocks on the database: in the thread pool (on a hit, no thread is needed,
        # which is why this dependency and the permission check are ``async``).
        principal = await run_in_threadpool(authenticate, session=session, token=token)
        if principal is None:
            raise AuthenticationError("invalid or revoked token")
        cache.put(key, principal)
    await enter_database_role(session, principal.role, principal.agency_id)
    request.state.principal = principal
    request.state.token_hash = key
    return principal


async def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller named by the ``Authorization: Bearer`` header (never by the query string)."""
    return await _principal_of(request, session, credentials.credentials if credentials else None)


async def stream_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """As :func:`current_principal`, or ``?access_token=``: ``EventSource`` cannot send headers.

    Only the alert stream takes it: a token in a URL ends up in logs and browser history, so no
    route that can do with a header accepts one.
    """
    token = credentials.credentials if credentials else request.query_params.get(QUERY_TOKEN)
    return await _principal_of(request, session, token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
StreamPrincipalDep = Annotated[Principal, Depends(stream_principal)]


def require(
    permission: str, *, query_token: bool = False
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the request through only if the caller's role has ``permission``.

    ``query_token`` also accepts ``?access_token=`` (the event streams only).
    """
    if permission not in access.PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    if query_token:

        async def dependency(principal: StreamPrincipalDep) -> Principal:
            access.check(principal.role, permission)
            return principal

    else:

        async def dependency(principal: PrincipalDep) -> Principal:
            access.check(principal.role, permission)
            return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the access test
    return dependency
