"""Follow-up actions, coordination meetings and the agencies' contributions:
``/api/v1/actions``, ``/api/v1/meetings``, ``/api/v1/agencies/contributions``.

Handlers call ``geo.followup``; the SQL, the list order and the rules on who may change what
live there (docs/agencies.md). Included before any ``/agencies/{id}`` route, so
``/agencies/contributions`` is not read as an agency id.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep
from api.responses import JSON
from api.routing import Reader, client_address
from geo import access
from geo.followup import actions, contributions, meetings, values
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["follow-up actions"])

Manager = Annotated[Principal, Depends(require(access.MANAGE_ACTIONS))]
Updater = Annotated[Principal, Depends(require(access.UPDATE_ACTIONS))]
ActionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MeetingId = Annotated[int, Path(ge=1, le=2**31 - 1)]
STATUSES = ", ".join(values.STATUSES)
REASONS = ", ".join(values.CLOSE_REASONS)
LINKS = (
    f"at most {values.MAX_LINKS} links, each {{kind, target}} or 'kind:target': kind one of "
    f"{', '.join(values.LINK_KINDS)}; target an id, or a Kemendagri code for admin_area"
)


class ActionIn(BaseModel):
    title: str | None = Field(default=None, max_length=values.MAX_TITLE_CHARS)
    agency: int | str | None = Field(
        default=None, description="responsible agency: id or short name"
    )
    due_on: str | None = Field(default=None, description="due day, e.g. 2026-12-31")
    meeting: int | None = Field(default=None, description="the meeting that decided it")
    links: list[dict[str, Any] | str] | None = Field(default=None, description=LINKS)


class ActionPatchIn(BaseModel):
    title: str | None = Field(default=None, max_length=values.MAX_TITLE_CHARS)
    agency: int | str | None = None
    due_on: str | None = None
    meeting: int | None = None
    add_links: list[dict[str, Any] | str] | None = Field(default=None, description=LINKS)


class ActionStatusIn(BaseModel):
    status: str | None = Field(default=None, description=STATUSES)
    reason: str | None = Field(default=None, description=f"done/dropped (required): {REASONS}")
    note: str | None = Field(default=None, max_length=values.MAX_NOTE_CHARS)


class ActionNoteIn(BaseModel):
    body: str | None = Field(default=None, max_length=values.MAX_NOTE_CHARS)


class MeetingCreateIn(BaseModel):
    held_on: str | None = Field(default=None, description="the meeting's day, e.g. 2026-12-07")
    title: str | None = Field(default=None, max_length=values.MAX_MEETING_TITLE_CHARS)
    place: str | None = Field(default=None, max_length=values.MAX_PLACE_CHARS)
    notes: str | None = Field(default=None, max_length=values.MAX_MEETING_NOTES_CHARS)
    actions: list[ActionIn] = Field(
        default_factory=list,
        max_length=values.MAX_MEETING_ACTIONS,
        description="the actions it decided (title, agency, due_on, links)",
    )


def _links(request: Request, params: dict[str, Any], limit: int, last_id: int | None) -> list[Any]:
    base = str(request.url.replace(query=""))
    links = [{"href": f"{base}?{urlencode({**params, 'limit': limit})}", "rel": "self"}]
    if last_id is not None:
        nxt = {**params, "limit": limit, "after": last_id}
        links.append({"href": f"{base}?{urlencode(nxt)}", "rel": "next"})
    return links


@router.get(
    "/actions",
    summary="Follow-up actions: overdue first, then by due day",
    description=(
        "Open and in-progress actions unless `status` says otherwise (`any`: every status). "
        "Overdue actions (open or in progress, due before today, WIB) come first, then the "
        "others by due day, then by id; `after` pages on that order (the `next` link). "
        "Roles without personal data get title, agency, due day and status only."
    ),
)
def list_actions(
    request: Request,
    session: SessionDep,
    principal: Reader,
    agency: Annotated[list[str] | None, Query(description="agency id(s) or short name(s)")] = None,
    status: Annotated[list[str] | None, Query(description=f"{STATUSES}, any")] = None,
    due_before: Annotated[str | None, Query(description="due strictly before this day")] = None,
    due_after: Annotated[str | None, Query(description="due strictly after this day")] = None,
    overdue: Annotated[str | None, Query(description="true: overdue only; false: none")] = None,
    meeting: Annotated[str | None, Query(description="a meeting's id")] = None,
    limit: Annotated[int, Query(ge=1, le=values.MAX_LIMIT)] = values.DEFAULT_LIMIT,
    after: Annotated[str | None, Query(description="keyset: actions after this one")] = None,
) -> JSON:
    query = values.parse_action_query(
        session,
        agency=agency,
        status=status,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        meeting=meeting,
        limit=limit,
        after=after,
    )
    page = actions.list_actions(session=session, principal=principal, query=query)
    return JSON(
        {
            "actions": page.actions,
            "numberMatched": page.total,
            "numberReturned": len(page.actions),
            "links": _links(request, query.query_params(), page.limit, page.last_id),
        }
    )


@router.post("/actions", status_code=201, summary="Create a follow-up action")
def create_action(
    body: ActionIn, request: Request, session: SessionDep, principal: Manager
) -> JSON:
    checked = values.parse_action_in(
        session,
        title=body.title,
        agency=body.agency,
        due_on=body.due_on,
        meeting=body.meeting,
        links=body.links,
    )
    created = actions.create_action(
        session=session, principal=principal, action=checked, client=client_address(request)
    )
    return JSON(created, status_code=201)


@router.get("/actions/{action_id}", summary="One action (with links and notes for personal roles)")
def get_action(
    action_id: ActionId, request: Request, session: SessionDep, principal: Reader
) -> JSON:
    return JSON(
        actions.get_action(
            session=session,
            principal=principal,
            action_id=action_id,
            client=client_address(request),
        )
    )


@router.patch(
    "/actions/{action_id}",
    summary="Change an action's title, agency, due day or meeting; add links",
)
def patch_action(
    action_id: ActionId,
    body: ActionPatchIn,
    request: Request,
    session: SessionDep,
    principal: Manager,
) -> JSON:
    return JSON(
        actions.update_action(
            session=session,
            principal=principal,
            action_id=action_id,
            title=body.title,
            agency=body.agency,
            due_on=body.due_on,
            meeting=body.meeting,
            add_links=body.add_links,
            client=client_address(request),
        )
    )


@router.post(
    "/actions/{action_id}/status",
    summary="Change an action's status (done/dropped need a reason)",
    description=(
        f"`status`: {STATUSES}; `reason` ({REASONS}) is required for done and dropped. "
        "Planners may change only their own agency's actions."
    ),
)
def change_status(
    action_id: ActionId,
    body: ActionStatusIn,
    request: Request,
    session: SessionDep,
    principal: Updater,
) -> JSON:
    change = values.parse_status_change(body.status, reason=body.reason, note=body.note)
    return JSON(
        actions.change_status(
            session=session,
            principal=principal,
            action_id=action_id,
            change=change,
            client=client_address(request),
        )
    )


@router.post(
    "/actions/{action_id}/notes",
    status_code=201,
    summary="Add a dated note to an action (planners: their own agency's)",
)
def add_note(
    action_id: ActionId,
    body: ActionNoteIn,
    request: Request,
    session: SessionDep,
    principal: Updater,
) -> JSON:
    updated = actions.add_note(
        session=session,
        principal=principal,
        action_id=action_id,
        body=body.body,
        client=client_address(request),
    )
    return JSON(updated, status_code=201)


@router.get("/meetings", summary="Coordination meetings, newest first")
def list_meetings(
    request: Request,
    session: SessionDep,
    principal: Reader,
    start: Annotated[str | None, Query(alias="from", description="held on or after")] = None,
    end: Annotated[str | None, Query(alias="to", description="held on or before")] = None,
    agency: Annotated[str | None, Query(description="recorded by this agency")] = None,
    limit: Annotated[int, Query(ge=1, le=values.MAX_LIMIT)] = 50,
    after: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> JSON:
    agency_id = values.find_agency(session, agency).id if agency else None
    found, has_more = meetings.list_meetings(
        session=session,
        principal=principal,
        start=start,
        end=end,
        agency_id=agency_id,
        limit=limit,
        after=after,
        client=client_address(request),
    )
    params = {k: v for k, v in {"from": start, "to": end, "agency": agency}.items() if v}
    last = found[-1]["id"] if found and has_more else None
    return JSON(
        {
            "meetings": found,
            "numberReturned": len(found),
            "links": _links(request, params, limit, last),
        }
    )


@router.post("/meetings", status_code=201, summary="Record a meeting and the actions it decided")
def create_meeting(
    body: MeetingCreateIn, request: Request, session: SessionDep, principal: Manager
) -> JSON:
    checked = values.parse_meeting_in(
        session,
        held_on=body.held_on,
        title=body.title,
        place=body.place,
        notes=body.notes,
        actions=[a.model_dump() for a in body.actions],
    )
    created = meetings.create_meeting(
        session=session, principal=principal, meeting=checked, client=client_address(request)
    )
    return JSON(created, status_code=201)


@router.get("/meetings/{meeting_id}", summary="One meeting with every action it decided")
def get_meeting(
    meeting_id: MeetingId, request: Request, session: SessionDep, principal: Reader
) -> JSON:
    return JSON(
        meetings.get_meeting(
            session=session,
            principal=principal,
            meeting_id=meeting_id,
            client=client_address(request),
        )
    )


@router.get(
    "/agencies/contributions",
    summary="Per agency: reports made, alerts handled, actions closed (counts)",
    description=(
        "Over the WIB days `from`..`to` (inclusive; default the last 30 days): incidents and "
        "sightings reported, alerts its users acted on, follow-up actions closed as done."
    ),
)
def get_contributions(
    session: SessionDep,
    principal: Reader,
    start: Annotated[
        str | None, Query(alias="from", description="first day, e.g. 2026-11-01")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="last day (default today)")] = None,
) -> JSON:
    return JSON(
        contributions.contributions(session=session, principal=principal, start=start, end=end)
    )
