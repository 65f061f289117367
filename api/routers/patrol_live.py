"""The teams' positions live and a day's tracks replayed, for the dashboard's patrol panel.

- ``GET /api/v1/patrols/positions/stream``: Server-Sent Events, ``event: position`` with a
  team's latest position (a GeoJSON Feature) each time its phone's positions are committed;
- ``GET /api/v1/patrols/replay?day=``: one WIB day of every team's track with a time per
  vertex, thinned to one position per ``step_s`` seconds.

Officers' movements are personal data: only roles that manage patrols (``patrols:plan``) get
either, every read is audited (each streamed position too), and an open stream ends when its
token is revoked (docs/field.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import GeoJSON
from api.routing import client_address
from geo import access, audit
from geo.db import Database
from geo.errors import DatabaseUnavailableError
from geo.field import patrolled
from geo.field.live import PositionHub
from geo.times import WIB
from geo.users import Principal, principal_for_hash

router = APIRouter(prefix="/api/v1/patrols", tags=["field"])

PatrolManager = Annotated[Principal, Depends(require(access.PLAN_PATROLS))]
# EventSource cannot send headers: the stream also takes ?access_token= (api/auth.py).
PatrolStreamReader = Annotated[Principal, Depends(require(access.PLAN_PATROLS, query_token=True))]
KEEPALIVE_S: Final = 15.0
REVALIDATE_S: Final = 5.0  # an open stream re-checks its token this often


def start_position_services(app: FastAPI) -> None:
    hub = PositionHub(app.state.database.engine)
    app.state.position_hub = hub
    hub.start()


def stop_position_services(app: FastAPI) -> None:
    hub: PositionHub | None = getattr(app.state, "position_hub", None)
    if hub is not None:
        hub.stop()


class PositionWatch:
    """What an open stream does in the database: re-check its token, audit what it sends."""

    def __init__(
        self, *, database: Database, principal: Principal, token_hash: str, client: str | None
    ) -> None:
        self.database = database
        self.principal = principal
        self.token_hash = token_hash
        self.client = client

    def token_still_valid(self) -> bool:
        with self.database.session() as session:
            now = principal_for_hash(session=session, token_hash=self.token_hash)
        return now == self.principal

    def audit(self) -> None:
        with self.database.session() as session:
            audit.record(
                session=session,
                principal=self.principal,
                action="read",
                resource="patrols/positions/stream",
                record_count=1,
                client=self.client,
            )


@router.get(
    "/positions/stream",
    summary="Each team's latest position as it arrives (Server-Sent Events, event: position)",
)
async def stream_positions(
    request: Request, session: SessionDep, principal: PatrolStreamReader
) -> Any:
    hub: PositionHub | None = getattr(request.app.state, "position_hub", None)
    if hub is None:
        raise DatabaseUnavailableError("the position stream is not running in this process")
    await run_in_threadpool(session.close)  # the token check is done: free the connection
    watch = PositionWatch(
        database=request.app.state.database,
        principal=principal,
        token_hash=request.state.token_hash,
        client=client_address(request),
    )
    sub = hub.subscribe(principal.role)

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        checked = sent = loop.time()
        try:
            yield b"retry: 3000\n: connected\n\n"
            while True:
                try:
                    feature = await asyncio.wait_for(sub.queue.get(), REVALIDATE_S)
                    idle = False
                except TimeoutError:
                    feature, idle = None, True
                if loop.time() - checked >= REVALIDATE_S:
                    if not await run_in_threadpool(watch.token_still_valid):
                        yield b"event: revoked\ndata: {}\n\n"
                        return
                    checked = loop.time()
                if idle:
                    if loop.time() - sent >= KEEPALIVE_S:
                        sent = loop.time()
                        yield b": keepalive\n\n"
                    continue
                if feature is None:  # the hub stopped
                    return
                await run_in_threadpool(watch.audit)
                sent = loop.time()
                yield b"event: position\ndata: %s\n\n" % orjson.dumps(feature)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/replay",
    response_class=GeoJSON,
    summary="One day (WIB) of each team's track with a time per position, for a replay",
)
def get_replay(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PatrolManager,
    day: Annotated[
        str | None, Query(description="YYYY-MM-DD in WIB (default today); one day at most")
    ] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    step_s: Annotated[
        int,
        Query(
            ge=patrolled.REPLAY_STEP_S[0],
            le=patrolled.REPLAY_STEP_S[1],
            description="at most one position per device per this many seconds",
        ),
    ] = patrolled.DEFAULT_REPLAY_STEP_S,
) -> GeoJSON:
    collection = patrolled.replay_day(
        session=session,
        day=day or dt.datetime.now(WIB).date(),
        team=team,
        step_s=step_s,
        gap_s=settings.field.field_track_gap_s,
        max_accuracy_m=settings.field.field_max_accuracy_m,
    )
    audit.record(
        session=session,
        principal=principal,
        action="read",
        resource="patrols/replay",
        record_count=len(collection["features"]),
        client=client_address(request),
        details={"day": collection["day"]},
    )
    return GeoJSON(collection)
