"""``GET /maps/snapshot.png``, ``GET /maps/snapshot.pdf`` and ``GET /maps/briefing.pdf``.

The same filters as the map views (``start``, ``end``, ``kind``, ``kecamatan``; ``source`` is what
the views call ``layer``: incidents or sightings), plus the map ``layer`` of a snapshot and
``lang``; the ``risk`` layer takes the ``risk`` view's ``as_of`` and ``limit`` instead of the
period and kinds. Rendering and the audit row are ``maps.products``' (shared with the CLI):
exports carry aggregates only, for every role (docs/privacy.md).
This router is included before ``/maps/{view}`` so the fixed paths win.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.routing import Reader, client_address, download
from maps.products import MapFile, briefing_file, snapshot_file

router = APIRouter(tags=["maps"])

Start = Annotated[str | None, Query(description="ISO date/time; WIB if no offset")]
End = Annotated[str | None, Query(description="ISO date/time (exclusive); WIB if no offset")]
Kind = Annotated[list[str] | None, Query(description="incident kind / sighting source")]
Kecamatan = Annotated[list[str] | None, Query(description="Kemendagri code(s)")]
Lang = Annotated[str | None, Query(description="id (default) or en")]
MapLayer = Annotated[
    str | None,
    Query(
        description="heat (default), kde, hexbins, choropleth, hotspots, incidents, patrol, "
        "risk (the workplace risk ranking)"
    ),
]
Source = Annotated[str | None, Query(description="incidents (default) or sightings")]
CellM = Annotated[float | None, Query(description="cell size in metres (heat, hexbins, hotspots)")]
AsOf = Annotated[
    str | None, Query(description="layer risk: the ranking's date, YYYY-MM-DD (default today)")
]
Limit = Annotated[str | None, Query(description="layer risk: workplaces drawn, 1-200 (default 50)")]


def _download(made: MapFile) -> Response:
    return download(made.content, media_type=made.media_type, file_name=made.file_name)


@router.get(
    "/maps/snapshot.{fmt}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "application/pdf": {}}}},
    summary="An A4 landscape map snapshot: PNG at 200 dpi, or PDF with vector linework",
)
def get_snapshot(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    fmt: Annotated[Literal["png", "pdf"], Path(description="png or pdf")],
    layer: MapLayer = None,
    source: Source = None,
    start: Start = None,
    end: End = None,
    kind: Kind = None,
    kecamatan: Kecamatan = None,
    lang: Lang = None,
    cell_m: CellM = None,
    as_of: AsOf = None,
    limit: Limit = None,
) -> Response:
    made = snapshot_file(
        fmt,
        session=session,
        settings=settings,
        principal=principal,
        client=client_address(request),
        layer=layer,
        source=source,
        start=start,
        end=end,
        kind=kind,
        kecamatan=kecamatan,
        lang=lang,
        cell_m=cell_m,
        as_of=as_of,
        limit=limit,
    )
    return _download(made)


@router.get(
    "/maps/briefing.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The briefing pack: seven A4 landscape pages of aggregates, optionally patrol coverage",
)
def get_briefing_pdf(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    start: Start = None,
    end: End = None,
    kind: Annotated[list[str] | None, Query(description="incident kind(s)")] = None,
    kecamatan: Kecamatan = None,
    lang: Lang = None,
    patrol_coverage: Annotated[
        bool,
        Query(
            description="add the teams' patrol coverage page (roles that manage patrols; "
            "a period of at most 31 days)"
        ),
    ] = False,
) -> Response:
    made = briefing_file(
        session=session,
        settings=settings,
        principal=principal,
        client=client_address(request),
        start=start,
        end=end,
        kind=kind,
        kecamatan=kecamatan,
        lang=lang,
        patrol_coverage=patrol_coverage,
    )
    return _download(made)
