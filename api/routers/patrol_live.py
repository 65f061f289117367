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

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import GeoJSON
from api.routing import client_address
from api.sse import event_stream
from geo import access, audit
from geo.errors import DatabaseUnavailableError
from geo.field import patrolled
from geo.field.live import PositionHub
from geo.times import WIB
from geo.users import Principal

router = APIRouter(prefix="/api/v1/patrols", tags=["field"])

PatrolManager = Annotated[Principal, Depends(require(access.PLAN_PATROLS))]
# EventSource cannot send headers: the stream also takes ?access_token= (api/auth.py).
PatrolStreamReader = Annotated[Principal, Depends(require(access.PLAN_PATROLS, query_token=True))]


def start_position_services(app: FastAPI) -> None:
    hub = PositionHub(app.state.database.engine)
    app.state.position_hub = hub
    hub.start()


def stop_position_services(app: FastAPI) -> None:
    hub: PositionHub | None = getattr(app.state, "position_hub", None)
    if hub is not None:
        hub.stop()


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
    return event_stream(
        request,
        hub=hub,
        principal=principal,
        frame=lambda feature: b"event: position\ndata: %s\n\n" % orjson.dumps(feature),
        audit=_audit_streamed_position,
    )


def _audit_streamed_position(
    *, session: Session, principal: Principal, item: Any, client: str | None
) -> None:
    audit.record(
        session=session,
        principal=principal,
        action="read",
        resource="patrols/positions/stream",
        record_count=1,
        client=client,
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
