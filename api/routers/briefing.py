"""``GET /maps/snapshot.png``, ``GET /maps/snapshot.pdf`` and ``GET /maps/briefing.pdf``.

The same filters as the map views (``start``, ``end``, ``kind``, ``kecamatan``; ``source`` is what
the views call ``layer``: incidents or sightings), plus the map ``layer`` of a snapshot and
``lang``. Exports carry aggregates only, for every role (docs/privacy.md); each one leaves an
audit row.
This router is included before ``/maps/{view}`` so the fixed paths win.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.auth import require
from api.deps import SessionDep, SettingsDep
from geo import audit
from geo.access import READ
from geo.users import Principal
from maps import briefing, snapshot

router = APIRouter(tags=["maps"])

ReaderDep = Annotated[Principal, Depends(require(READ))]
MEDIA_TYPES = {"png": "image/png", "pdf": "application/pdf"}

Start = Annotated[str | None, Query(description="ISO date/time; WIB if no offset")]
End = Annotated[str | None, Query(description="ISO date/time (exclusive); WIB if no offset")]
Kind = Annotated[list[str] | None, Query(description="incident kind / sighting source")]
Kecamatan = Annotated[list[str] | None, Query(description="Kemendagri code(s)")]
Lang = Annotated[str | None, Query(description="id (default) or en")]
MapLayer = Annotated[
    str | None,
    Query(description="heat (default), kde, hexbins, choropleth, hotspots, incidents, patrol"),
]
Source = Annotated[str | None, Query(description="incidents (default) or sightings")]
CellM = Annotated[float | None, Query(description="cell size in metres (heat, hexbins, hotspots)")]


def _download(content: bytes, fmt: str, filename: str) -> Response:
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


def _snapshot(
    fmt: str,
    *,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Principal,
    layer: str | None,
    source: str | None,
    start: str | None,
    end: str | None,
    kind: list[str] | None,
    kecamatan: list[str] | None,
    lang: str | None,
    cell_m: float | None,
) -> Response:
    params = snapshot.parse_snapshot_params(
        layer=layer,
        source=source,
        start=start,
        end=end,
        kind=kind,
        kecamatan=kecamatan,
        lang=lang,
        cell_m=cell_m,
        default_lang=settings.service.default_lang,
    )
    content, snap = snapshot.render_snapshot(
        session=session, params=params, settings=settings, principal=principal, fmt=fmt
    )
    audit.record(
        session=session,
        principal=principal,
        action="export",
        resource=f"maps/snapshot.{fmt}",
        record_count=snap.layer.total,
        client=request.client.host if request.client else None,
        details={"layer": params.layer, "source": params.filters.layer, "lang": params.lang},
    )
    return _download(content, fmt, snapshot.file_name(params, fmt))


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
    principal: ReaderDep,
    fmt: Annotated[Literal["png", "pdf"], Path(description="png or pdf")],
    layer: MapLayer = None,
    source: Source = None,
    start: Start = None,
    end: End = None,
    kind: Kind = None,
    kecamatan: Kecamatan = None,
    lang: Lang = None,
    cell_m: CellM = None,
) -> Response:
    return _snapshot(
        fmt,
        request=request,
        session=session,
        settings=settings,
        principal=principal,
        layer=layer,
        source=source,
        start=start,
        end=end,
        kind=kind,
        kecamatan=kecamatan,
        lang=lang,
        cell_m=cell_m,
    )


@router.get(
    "/maps/briefing.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The briefing pack: six A4 landscape pages of aggregates (PDF)",
)
def get_briefing_pdf(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: ReaderDep,
    start: Start = None,
    end: End = None,
    kind: Annotated[list[str] | None, Query(description="incident kind(s)")] = None,
    kecamatan: Kecamatan = None,
    lang: Lang = None,
) -> Response:
    params = briefing.parse_briefing_params(
        start=start,
        end=end,
        kind=kind,
        kecamatan=kecamatan,
        lang=lang,
        default_lang=settings.service.default_lang,
    )
    content, pack = briefing.render_briefing(
        session=session, params=params, settings=settings, principal=principal
    )
    audit.record(
        session=session,
        principal=principal,
        action="export",
        resource="maps/briefing.pdf",
        record_count=sum(s.count for s in pack.incidents),
        client=request.client.host if request.client else None,
        details={"lang": params.lang, "pages": len(briefing.PAGES)},
    )
    return _download(content, "pdf", briefing.file_name(params))
