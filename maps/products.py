"""What the faces hand out: map pages, snapshots and briefing packs, parsed, rendered and
audited in one place.

``GET /maps/{view}``, ``GET /maps/snapshot.{png,pdf}`` and ``GET /maps/briefing.pdf`` call these
functions, and so do ``timpora map``, ``timpora snapshot`` and ``timpora briefing``: the same raw
values give the same checks, the same file and the same audit row (docs/privacy.md) whichever face
asked. Snapshots and packs hold aggregates only, for every role; each leaves an ``export`` row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session

from geo import audit
from geo.settings import Settings
from geo.users import Principal
from maps import briefing, snapshot
from maps.assets import AssetMode
from maps.common import parse_params
from maps.risk_snapshot import RiskLayer
from maps.views import render_view

MEDIA_TYPES: Final = {"png": "image/png", "pdf": "application/pdf"}


@dataclass(frozen=True)
class MapFile:
    """A rendered snapshot or pack and what its audit row says about it."""

    content: bytes
    media_type: str
    file_name: str
    resource: str
    record_count: int
    details: dict[str, Any]


def _audited(
    *, session: Session, principal: Principal, client: str | None, made: MapFile
) -> MapFile:
    audit.record(
        session=session,
        principal=principal,
        action="export",
        resource=made.resource,
        record_count=made.record_count,
        client=client,
        details=made.details,
    )
    return made


def snapshot_file(
    fmt: str,
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    client: str | None,
    layer: str | None = None,
    source: str | None = None,
    start: str | None = None,
    end: str | None = None,
    kind: Sequence[str] | None = None,
    kecamatan: Sequence[str] | None = None,
    lang: str | None = None,
    cell_m: float | None = None,
    as_of: str | None = None,
    limit: int | str | None = None,
) -> MapFile:
    """An A4 map snapshot (PNG or PDF) from raw filter values; audited as ``export``
    (``as_of`` and ``limit``: the ``risk`` layer's ranking, as the ``risk`` view takes them)."""
    params = snapshot.parse_snapshot_params(
        layer=layer,
        source=source,
        start=start,
        end=end,
        kind=kind or None,
        kecamatan=kecamatan or None,
        lang=lang,
        cell_m=cell_m,
        as_of=as_of,
        limit=limit,
        default_lang=settings.service.default_lang,
    )
    content, snap = snapshot.render_snapshot(
        session=session, params=params, settings=settings, principal=principal, fmt=fmt
    )
    details: dict[str, Any] = {"layer": params.layer, "lang": params.lang}
    if isinstance(snap.layer, RiskLayer):
        # record_count: the workplaces drawn; the ranking's date and size
        details |= {"as_of": snap.layer.as_of.isoformat(), "limit": snap.layer.limit}
    else:
        details["source"] = params.filters.layer
    made = MapFile(
        content=content,
        media_type=MEDIA_TYPES[fmt],
        file_name=snapshot.file_name(params, fmt),
        resource=f"maps/snapshot.{fmt}",
        record_count=snap.layer.total,
        details=details,
    )
    return _audited(session=session, principal=principal, client=client, made=made)


def briefing_file(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    client: str | None,
    start: str | None = None,
    end: str | None = None,
    kind: Sequence[str] | None = None,
    kecamatan: Sequence[str] | None = None,
    lang: str | None = None,
    patrol_coverage: bool = False,
) -> MapFile:
    """The briefing pack (PDF, one page per part of ``briefing.page_names``); audited as
    ``export``. ``patrol_coverage`` adds the teams' coverage page (roles that manage patrols)."""
    params = briefing.parse_briefing_params(
        start=start,
        end=end,
        kind=kind or None,
        kecamatan=kecamatan or None,
        lang=lang,
        default_lang=settings.service.default_lang,
        patrol_coverage=patrol_coverage,
    )
    content, pack = briefing.render_briefing(
        session=session, params=params, settings=settings, principal=principal
    )
    made = MapFile(
        content=content,
        media_type=MEDIA_TYPES["pdf"],
        file_name=briefing.file_name(params),
        resource="maps/briefing.pdf",
        record_count=sum(s.count for s in pack.incidents),
        details={"lang": params.lang, "pages": len(briefing.page_names(pack))},
    )
    return _audited(session=session, principal=principal, client=client, made=made)


def map_page(
    view: str,
    *,
    session: Session,
    settings: Settings,
    role: str,
    layer: str | None = None,
    start: str | None = None,
    end: str | None = None,
    kind: Sequence[str] | None = None,
    kecamatan: Sequence[str] | None = None,
    lang: str | None = None,
    cell_m: float | None = None,
    period: str | None = None,
    measure: str | None = None,
    extra: Mapping[str, str] | None = None,
    mode: AssetMode = "inline",
    nonce: str | None = None,
) -> str:
    """One interactive map view as a self-contained HTML page, as ``role`` may see it (with
    ``nonce`` on its scripts: ``maps.assets.render_html``).

    Views draw aggregates (small person counts suppressed for roles without personal data), so
    a page is not audited. ``extra`` carries a view's own options as text.
    """
    params = parse_params(
        layer=layer,
        start=start,
        end=end,
        kind=kind or None,
        kecamatan=kecamatan or None,
        lang=lang,
        cell_m=cell_m,
        period=period,
        measure=measure,
        default_lang=settings.service.default_lang,
        extra=extra,
    )
    return render_view(
        view,
        session=session,
        principal_role=role,
        params=params,
        settings=settings,
        mode=mode,
        nonce=nonce,
    )
