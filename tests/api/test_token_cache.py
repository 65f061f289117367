"""The per-process token cache (``api/auth.py``): a revoked token stops working within its TTL."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.auth import TOKEN_CACHE_S, TokenCache
from geo.users import Principal, create_user, revoke_user
from tests.api.helpers import auth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_ttl() -> None:
    clock = Clock()
    cache = TokenCache(5.0, clock=clock)
    who = Principal(name="a", role="admin")
    cache.put("h", who)
    clock.now += 4.9
    assert cache.get("h") == who
    clock.now += 0.2
    assert cache.get("h") is None


def test_bounded_and_can_be_disabled() -> None:
    cache = TokenCache(5.0, max_entries=2)
    for key in ("a", "b", "c"):
        cache.put(key, Principal(name=key, role="viewer"))
    assert cache.get("c") is not None
    assert cache.get("a") is None  # dropped when full
    off = TokenCache(0)
    off.put("a", Principal(name="a", role="viewer"))
    assert off.get("a") is None


def test_ttl_is_short() -> None:
    # "Promptly": a revoked token must not outlive a few seconds in any worker.
    assert 0 < TOKEN_CACHE_S <= 10


def test_revoked_token_refused_once_the_cache_expires(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    clock = Clock()
    app.state.token_cache = TokenCache(TOKEN_CACHE_S, clock=clock)
    _, token = create_user(session=session, name="cache-revoke", role="analyst")
    session.flush()
    assert client.get("/api/v1/zones", headers=auth(token)).status_code == 200

    # Revoked by another process (``timpora users revoke``): this one still has it cached ...
    revoke_user(session=session, name="cache-revoke")
    session.flush()
    clock.now += TOKEN_CACHE_S / 2
    assert client.get("/api/v1/zones", headers=auth(token)).status_code == 200
    # ... and refuses it as soon as the entry expires, asking the database again.
    clock.now += TOKEN_CACHE_S / 2 + 0.01
    refused = client.get("/api/v1/zones", headers=auth(token))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    # A refused token is not cached: it stays refused.
    assert client.get("/api/v1/zones", headers=auth(token)).status_code == 401


def test_cached_token_skips_the_user_lookup(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    _, token = create_user(session=session, name="cache-hit", role="viewer")
    session.flush()
    assert client.get("/api/v1/zones", headers=auth(token)).status_code == 200
    # The principal comes from memory until the entry expires (the same bound as a revocation).
    session.execute(text("UPDATE app_user SET role = 'admin' WHERE name = 'cache-hit'"))
    session.expire_all()
    assert client.get("/api/v1/audit", headers=auth(token)).status_code == 403  # still viewer
    app.state.token_cache.clear()
    assert client.get("/api/v1/audit", headers=auth(token)).status_code == 200


def test_unknown_token_never_cached(app: FastAPI, client: TestClient) -> None:
    assert client.get("/api/v1/zones", headers=auth("tpm_nope")).status_code == 401
    assert not getattr(app.state, "token_cache", TokenCache())._entries
