"""One Server-Sent Events loop for the live streams (alerts, patrol positions).

A stream takes what a LISTEN hub (``geo.alerts.stream.AlertHub``, ``geo.field.live.PositionHub``)
puts in its subscriber's queue and sends each item as one event. Every ``REVALIDATE_S`` it
re-checks the caller's token (a revoked or rotated token, or a changed role, ends the stream with
``event: revoked``); a quiet stream gets a comment line every ``KEEPALIVE_S`` so proxies keep it
open; each item sent is audited first (docs/privacy.md). The request's database session is closed
before streaming: an open stream holds no connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from api.routing import client_address
from geo.db import Database
from geo.users import Principal, principal_for_hash

KEEPALIVE_S: Final = 15.0
REVALIDATE_S = 5.0  # an open stream re-checks its token this often (tests shorten it)
_IDLE: Final[Any] = object()  # nothing arrived within REVALIDATE_S


class Subscription(Protocol):
    queue: asyncio.Queue[Any]


class Hub(Protocol):
    def subscribe(self, role: str) -> Any: ...

    def unsubscribe(self, sub: Any) -> None: ...


class StreamWatch:
    """What an open stream does in the database: re-check its token, audit what it sends."""

    def __init__(
        self,
        *,
        database: Database,
        principal: Principal,
        token_hash: str,
        client: str | None,
        audit: Callable[..., None],
    ) -> None:
        self.database = database
        self.principal = principal
        self.token_hash = token_hash
        self.client = client
        self._audit = audit

    def token_still_valid(self) -> bool:
        """False once the token is revoked or rotated, or its user's role changed."""
        with self.database.session() as session:
            now = principal_for_hash(session=session, token_hash=self.token_hash)
        return now == self.principal

    def audit(self, item: Any) -> None:
        with self.database.session() as session:
            self._audit(session=session, principal=self.principal, item=item, client=self.client)


def event_stream(
    request: Request,
    *,
    hub: Hub,
    principal: Principal,
    frame: Callable[[Any], bytes],
    audit: Callable[..., None],
) -> StreamingResponse:
    """The SSE response: each item of ``hub`` for ``principal.role`` as ``frame(item)``, after
    ``audit(session=, principal=, item=, client=)`` has recorded it."""
    watch = StreamWatch(
        database=request.app.state.database,
        principal=principal,
        token_hash=request.state.token_hash,
        client=client_address(request),
        audit=audit,
    )
    sub = hub.subscribe(principal.role)

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        checked = sent = loop.time()
        try:
            yield b"retry: 3000\n: connected\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), REVALIDATE_S)
                except TimeoutError:
                    item = _IDLE
                if loop.time() - checked >= REVALIDATE_S:
                    if not await run_in_threadpool(watch.token_still_valid):
                        yield b"event: revoked\ndata: {}\n\n"
                        return
                    checked = loop.time()
                if item is None:  # the hub stopped
                    return
                if item is _IDLE:
                    if loop.time() - sent >= KEEPALIVE_S:
                        sent = loop.time()
                        yield b": keepalive\n\n"
                    continue
                await run_in_threadpool(watch.audit, item)
                sent = loop.time()
                yield frame(item)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
