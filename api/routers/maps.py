"""``GET /maps/{view}``: a self-contained HTML map; no request from the page leaves this server.

The token comes in the ``Authorization`` header (the dashboard fetches the page and shows it);
``?access_token=`` is ignored here, never echoed into the page. Leaflet and its plugins come
from ``/static/vendor/`` (cached across views), or inline with ``assets=inline`` for a page that
is saved and opened elsewhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep
from api.routing import Reader
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

# Pages carry no third-party requests; the policy makes the browser refuse any that slip in.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:{tiles}; connect-src 'self'; frame-ancestors 'self'"
)


def content_security_policy(tile_url: str | None) -> str:
    if not tile_url:
        return CSP.format(tiles="")
    # Tile templates look like https://tiles.example/{z}/{x}/{y}.png: allow their origin only.
    origin = "/".join(tile_url.split("/")[:3])
    return CSP.format(tiles=f" {origin}")


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
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": content_security_policy(settings.service.tile_url),
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
