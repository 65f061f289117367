"""``GET /maps/{view}``: a self-contained HTML map; no request from the page leaves this server.

The token comes in the ``Authorization`` header (the dashboard fetches the page and shows it in
a sandboxed frame); ``?access_token=`` is ignored here, never echoed into the page. Leaflet and
its plugins come from ``/static/vendor/`` (cached across views), or inline with
``assets=inline`` for a page that is saved and opened elsewhere. Every script element of the
page carries a per-response nonce and the Content-Security-Policy runs no other.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep
from api.middleware import new_nonce, nonce_policy
from api.routing import Reader, client_address
from geo import audit
from geo.deadline import time_limit
from geo.errors import ValidationError
from maps.assets import NONCE_PATTERN
from maps.products import map_page

router = APIRouter(tags=["maps"])

KNOWN_PARAMS = frozenset(
    {
        "start",
        "end",
        "kind",
        "kecamatan",
        "layer",
        "lang",
        "cell_m",
        "period",
        "measure",
        "assets",
        "access_token",
    }
)

NONCE_HEADER = "X-Script-Nonce"


def script_nonce(request: Request) -> str:
    """The dashboard shows a map in a frame that keeps the dashboard's policy, so it sends its
    own nonce for the map's scripts (a header: a link or a form cannot set it); otherwise a
    fresh one."""
    sent = request.headers.get(NONCE_HEADER)
    if sent is None:
        return new_nonce()
    if not NONCE_PATTERN.fullmatch(sent):
        raise ValidationError(
            f"{NONCE_HEADER} must be 16 to 128 characters of A-Z, a-z, 0-9, _ and -",
            field=NONCE_HEADER,
            value=sent[:40],
        )
    return sent


@router.get(
    "/maps/{view}",
    response_class=HTMLResponse,
    summary="An interactive map as one HTML page (views: heatmap, overview, hexbins, timeline, …)",
)
def get_map(
    view: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    start: Annotated[str | None, Query(description="ISO date/time; WIB if no offset")] = None,
    end: Annotated[
        str | None, Query(description="ISO date/time (exclusive); WIB if no offset")
    ] = None,
    kind: Annotated[list[str] | None, Query(description="incident kind / sighting source")] = None,
    kecamatan: Annotated[list[str] | None, Query(description="Kemendagri code(s)")] = None,
    layer: Annotated[str | None, Query(description="incidents (default) or sightings")] = None,
    lang: Annotated[str | None, Query(description="id (default) or en")] = None,
    cell_m: Annotated[
        float | None, Query(description="cell size in metres (heatmap, hexbins)")
    ] = None,
    period: Annotated[str | None, Query(description="week or month (timeline)")] = None,
    measure: Annotated[
        str | None, Query(description="count, per_km2, per_foreigner (overview)")
    ] = None,
    assets: Annotated[Literal["static", "inline"], Query()] = "static",
) -> HTMLResponse:
    nonce = script_nonce(request)
    # Views run hotspots, KDE, DBSCAN and patrol plans: in this worker thread (a plain ``def``,
    # off the event loop) and under the analysis time limit (geo.deadline).
    with time_limit(settings.service.analysis_time_limit_s):
        page = map_page(
            view,
            session=session,
            settings=settings,
            role=principal.role,
            layer=layer,
            start=start,
            end=end,
            kind=kind,
            kecamatan=kecamatan,
            lang=lang,
            cell_m=cell_m,
            period=period,
            measure=measure,
            extra={k: v for k, v in request.query_params.items() if k not in KNOWN_PARAMS},
            mode=assets,
            nonce=nonce,
        )
    if view == "patrol" and "day" in request.query_params:
        # The day's tracks and visited stops are officers' movements: audited like
        # /api/v1/patrols/tracks (the view let only roles that manage patrols this far).
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource="maps/patrol?day",
            record_count=1,
            client=client_address(request),
        )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": nonce_policy(nonce, tile_url=settings.service.tile_url),
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
