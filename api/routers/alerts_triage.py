"""The triage queue and what people do with alerts: assign, note, acknowledge, resolve, reopen.

Handlers call ``geo.alerts.queue`` and ``geo.alerts.triage``; the SQL and the rules (priority
order, which status each action starts from, all-or-nothing selections) live there. Included
before ``alerts.py`` so ``/alerts/queue`` and ``/alerts/actions`` are not read as an alert id.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep
from api.responses import GeoJSON
from api.routing import Reader, client_address
from geo import access
from geo.alerts import queue, service, triage
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["alerts"])

Acker = Annotated[Principal, Depends(require(access.ACK_ALERTS))]
REASONS = ", ".join(triage.RESOLVE_REASONS)


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=triage.MAX_NOTE_CHARS)


class AssignIn(NoteIn):
    user: str | None = Field(default=None, max_length=100, description="an active user's name")


class SelectionIn(BaseModel):
    action: str = Field(description=", ".join(triage.ACTIONS))
    ids: list[int] = Field(description=f"at most {triage.MAX_SELECTION} alert ids")
    user: str | None = Field(default=None, max_length=100, description="assign: the user")
    reason: str | None = Field(default=None, description=f"resolve (required): {REASONS}")
    note: str | None = Field(
        default=None, max_length=triage.MAX_NOTE_CHARS, description="note: required"
    )


def queue_links(request: Request, page: queue.QueuePage, query: queue.QueueQuery) -> list[Any]:
    """``self`` and, while more remain, ``next``: same filters, keyset ``after`` the last id."""
    base = str(request.url.replace(query=""))
    params = query.query_params()
    here: dict[str, Any] = {**params, "limit": page.limit}
    if query.after is not None:
        here["after"] = query.after
    if page.offset:
        here["offset"] = page.offset
    links = [{"href": f"{base}?{urlencode(here)}", "rel": "self", "type": "application/geo+json"}]
    if page.has_more and page.last_id is not None:
        nxt = {**params, "limit": page.limit, "after": page.last_id}
        links.append(
            {"href": f"{base}?{urlencode(nxt)}", "rel": "next", "type": "application/geo+json"}
        )
    return links


@router.get(
    "/alerts/queue",
    response_class=GeoJSON,
    summary="The triage queue: open episodes in priority order, with totals",
    description=(
        "Open alert episodes (new, acknowledged; `status` widens it) ordered by severity, "
        "then the WIB day last seen, then occurrences, then the last time seen and the id. "
        "`totals` counts the whole filtered queue by rule, severity and status; "
        "`numberMatched` is its size. Roles without personal data get rule, severity, "
        "status, area and span only, and no alert about a person (docs/alerts.md)."
    ),
)
def alert_queue(
    request: Request,
    session: SessionDep,
    principal: Reader,
    rule: Annotated[list[str] | None, Query(description="rule kind(s)")] = None,
    severity: Annotated[list[str] | None, Query(description="1 to 5")] = None,
    status: Annotated[
        list[str] | None, Query(description="open (default), new, acknowledged, resolved, lapsed")
    ] = None,
    kecamatan: Annotated[
        list[str] | None, Query(description="Kemendagri code (61.01.09) or name")
    ] = None,
    start: Annotated[
        str | None, Query(description="episodes last seen at or after (ISO 8601; WIB)")
    ] = None,
    end: Annotated[
        str | None, Query(description="episodes first seen before (ISO 8601; WIB)")
    ] = None,
    assignee: Annotated[
        list[str] | None, Query(description="user name(s); `none` for unassigned")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=queue.QUEUE_MAX_LIMIT)] = queue.QUEUE_DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="keyset: alerts after this one in queue order"),
    ] = None,
) -> GeoJSON:
    query = queue.parse_queue_filters(
        rule=rule,
        severity=severity,
        status=status,
        kecamatan=kecamatan,
        start=start,
        end=end,
        assignee=assignee,
        limit=limit,
        offset=offset,
        after=after,
    )
    page = queue.read_queue(session=session, principal=principal, query=query)
    return GeoJSON(
        {
            "type": "FeatureCollection",
            "features": page.features,
            "numberMatched": page.total,
            "numberReturned": len(page.features),
            "totals": page.totals,
            "links": queue_links(request, page, query),
        }
    )


@router.post(
    "/alerts/actions",
    response_class=GeoJSON,
    summary="Act on a selection of alerts, all or nothing",
    description=(
        f"`action`: {', '.join(triage.ACTIONS)}; `ids`: at most {triage.MAX_SELECTION}. "
        "Every alert must be able to change, or nothing is written: 409 names the ones that "
        "cannot (`errors.ids`), 404 the ones that do not exist. Each changed alert gets a "
        "triage note and an audit row."
    ),
)
def act_on_selection(
    body: SelectionIn, request: Request, session: SessionDep, principal: Acker
) -> GeoJSON:
    action = triage.parse_action(
        body.action, body.ids, user=body.user, note=body.note, reason=body.reason
    )
    ids = triage.act(
        session=session, principal=principal, action=action, client=client_address(request)
    )
    features = service.features_for(session=session, principal=principal, ids=ids)
    return GeoJSON(
        {
            "type": "FeatureCollection",
            "action": action.action,
            "features": features,
            "numberReturned": len(features),
        }
    )


def _one(
    action: str,
    alert_id: int,
    request: Request,
    session: SessionDep,
    principal: Principal,
    **arguments: str | None,
) -> GeoJSON:
    checked = triage.parse_action(action, [alert_id], **arguments)
    triage.act(session=session, principal=principal, action=checked, client=client_address(request))
    return GeoJSON(service.get_alert(session=session, principal=principal, alert_id=alert_id))


@router.post("/alerts/{alert_id}/assign", response_class=GeoJSON, summary="Assign an alert")
def assign_alert(
    alert_id: int, body: AssignIn, request: Request, session: SessionDep, principal: Acker
) -> GeoJSON:
    return _one("assign", alert_id, request, session, principal, user=body.user, note=body.note)


@router.post("/alerts/{alert_id}/unassign", response_class=GeoJSON, summary="Unassign an alert")
def unassign_alert(
    alert_id: int,
    request: Request,
    session: SessionDep,
    principal: Acker,
    body: Annotated[NoteIn | None, Body()] = None,
) -> GeoJSON:
    return _one("unassign", alert_id, request, session, principal, note=body.note if body else None)


@router.post("/alerts/{alert_id}/notes", response_class=GeoJSON, summary="Add a note")
def note_alert(
    alert_id: int, body: NoteIn, request: Request, session: SessionDep, principal: Acker
) -> GeoJSON:
    return _one("note", alert_id, request, session, principal, note=body.note)


@router.post(
    "/alerts/{alert_id}/reopen",
    response_class=GeoJSON,
    summary="Reopen a resolved or lapsed alert (as acknowledged)",
)
def reopen_alert(
    alert_id: int,
    request: Request,
    session: SessionDep,
    principal: Acker,
    body: Annotated[NoteIn | None, Body()] = None,
) -> GeoJSON:
    return _one("reopen", alert_id, request, session, principal, note=body.note if body else None)
