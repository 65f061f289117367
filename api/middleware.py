"""Cross-cutting HTTP concerns as plain ASGI middleware (no per-request Python objects beyond
what Starlette makes): request ids, body size limit (413), rate limit per accepted token or
else per client address (429 with ``Retry-After``), security headers, and CORS from settings.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import orjson
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api.auth import token_cache
from geo.settings import Settings
from geo.users import hash_token

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Nothing may be fetched from another origin, and no inline script runs: a page with inline
# scripts (the map views, the dashboard) sets its own policy with a per-response nonce
# (``nonce_policy``). Inline styles stay allowed: folium and Leaflet style elements inline.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)


def new_nonce() -> str:
    """A fresh script nonce for one response."""
    return secrets.token_urlsafe(18)


def nonce_policy(
    nonce: str, *, tile_url: str | None = None, frame_ancestors: str = "'self'"
) -> str:
    """The policy of a page whose scripts all carry ``nonce``: no other script runs, inline or
    not, and no event-handler attribute or ``javascript:`` URL. Images may also come from the
    origin of the configured tile server."""
    if not (nonce.isascii() and nonce.replace("-", "").replace("_", "").isalnum()):
        raise ValueError("a nonce is letters, digits, - and _ (secrets.token_urlsafe)")
    # Tile templates look like https://tiles.example/{z}/{x}/{y}.png: allow their origin only.
    tiles = " " + "/".join(tile_url.split("/")[:3]) if tile_url else ""
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}; font-src 'self' data:; connect-src 'self'; "
        f"worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        f"frame-ancestors {frame_ancestors}"
    )


SECURITY_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
REQUEST_ID_HEADER: Final = b"x-request-id"
STREAM_PATH: Final = "/api/v1/alerts/stream"  # the event streams take ?access_token=
STREAM_PATHS: Final = frozenset({STREAM_PATH, "/api/v1/patrols/positions/stream"})


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestIdMiddleware:
    """Echo a sane ``X-Request-ID`` or make one; it is on ``scope['state']['request_id']``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER, b"")
        ok = 0 < len(given) <= 64 and all(chr(c).isalnum() or chr(c) in "-_." for c in given)
        request_id = given if ok else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS:
                    if key not in present:
                        headers.append((key, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """413 for a declared or streamed body above ``max_body_bytes``."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes or max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # File imports (POST /api/v1/{layer}/import) have a cap of their own.
        upload = scope.get("method") == "POST" and str(scope.get("path", "")).endswith("/import")
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        setting = "TIMPORA_IMPORT_MAX_UPLOAD_BYTES" if upload else "TIMPORA_MAX_BODY_BYTES"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        too_large = {
            "detail": f"request body larger than {limit} bytes ({setting})",
            "field": "body",
            "value": limit,
        }
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_json(send, 400, {"detail": "invalid Content-Length"}, [])
                return
            if size > limit:
                await _send_json(send, 413, too_large, [])
                return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read up to the limit first, then replay the body.
        # The framework would turn an exception raised while it reads into a 400.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _send_json(send, 413, too_large, [])
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class TokenBucket:
    """A token bucket per client key: ``per_minute`` requests a minute, bursts up to that."""

    def __init__(self, per_minute: int, *, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed, else the seconds until the next request would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                if len(self._buckets) >= self.max_clients and key not in self._buckets:
                    self._buckets.clear()  # bounded memory: forget everyone, rarely
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


# Load balancers poll /healthz; a team's phones behind one carrier address send /osmand positions
# (a device identifier must be registered, and refusals are counted, not stored).
RATE_LIMIT_EXEMPT: Final = frozenset({"/healthz", "/osmand"})


class RateLimitMiddleware:
    """429 with ``Retry-After``: a bucket per known token, else per client address.

    A token gets its own bucket only once it has been accepted (it is in the app's token cache,
    ``api/auth.py``). Requests without a token, and with a token not (yet) known to be valid,
    share their client address's bucket: sending random tokens cannot buy fresh buckets, each
    costing a user lookup. Keys are hashes, so no token is kept in memory in clear. ``/healthz``
    is exempt (load balancers poll it).
    """

    def __init__(self, app: ASGIApp, *, per_minute: int) -> None:
        self.app = app
        self.bucket = TokenBucket(per_minute)

    @staticmethod
    def client_key(scope: Scope) -> str:
        token = _presented_token(scope)
        application = scope.get("app")
        if token and application is not None:
            key = hash_token(token.decode("latin-1"))
            if token_cache(application).get(key) is not None:
                return "t:" + key[:32]
        client = scope.get("client")
        return "a:" + (client[0] if client else "unknown")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in RATE_LIMIT_EXEMPT:
            await self.app(scope, receive, send)
            return
        wait_s = self.bucket.take(self.client_key(scope))
        if wait_s > 0:
            retry = str(max(1, math.ceil(wait_s))).encode()
            await _send_json(
                send,
                429,
                {"detail": "too many requests from this token or address; retry later"},
                [(b"retry-after", retry)],
            )
            return
        await self.app(scope, receive, send)


def _presented_token(scope: Scope) -> bytes | None:
    """The bearer token of the header, or of ``?access_token=`` on an event stream."""
    auth = dict(scope.get("headers", [])).get(b"authorization", b"")
    if auth[:7].lower() == b"bearer ":
        return auth[7:].strip() or None
    if scope.get("path") in STREAM_PATHS:
        for part in scope.get("query_string", b"").split(b"&"):
            if part.startswith(b"access_token="):
                return unquote_to_bytes(part[13:]) or None
    return None


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Install the middleware stack; the last added runs first (outermost)."""
    service = settings.service
    if service.rate_limit_per_minute > 0:
        app.add_middleware(RateLimitMiddleware, per_minute=service.rate_limit_per_minute)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=service.max_body_bytes,
        max_upload_bytes=settings.imports.import_max_upload_bytes,
    )
    if service.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=service.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "Location"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=service.environment == "production")
    app.add_middleware(RequestIdMiddleware)
