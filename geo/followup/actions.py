"""Follow-up actions: the list (overdue first, then by due day), one action with its links and
dated notes, and the writes: create, update, change status, add a note.

The list order (docs/agencies.md, "Follow-up actions"): actions still open or in progress whose
due day has passed come first, then every other action by due day, earliest first, then by id.
Pages are keyset pages on that order (``after``: the last id of the previous page).

Roles with personal data get everything; the others an action's title, agency, due day and
status (with when and why it closed, both codes), never the notes, links or authors
(``geo.access.PERSONAL_FIELDS``). Every write leaves an ``audit_log`` row and, for status
changes and notes, a ``follow_up_note`` row: the action's history. Nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access
from geo.audit import record
from geo.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from geo.followup.values import (
    CLOSED_STATUSES,
    MAX_LIMIT,
    MAX_NOTE_CHARS,
    STATUSES,
    ActionIn,
    ActionQuery,
    Link,
    StatusChange,
    parse_action_in,
    parse_text,
)
from geo.times import WIB, today_wib
from geo.users import Principal

OVERDUE: Final = "(a.status IN ('open', 'in_progress') AND a.due_on < CAST(:today AS date))"
# The list order as a row value (ascending), for ORDER BY and for keyset paging.
ORDER_KEY: Final = f"(NOT {OVERDUE}, a.due_on, a.id)"
AGGREGATE_COLUMNS: Final = f"""
a.id, a.title, a.agency_id, g.short_name AS agency, g.name AS agency_name, a.due_on, a.status,
{OVERDUE} AS overdue, a.meeting_id, m.title AS meeting_title, m.held_on AS meeting_held_on,
a.closed_at, a.close_reason
"""
PERSONAL_COLUMNS: Final = """,
a.created_by, a.created_at, a.updated_at,
(SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'target', l.target)
                          ORDER BY l.kind, l.target), '[]'::json)
   FROM follow_up_link l WHERE l.action_id = a.id) AS links,
(SELECT count(*) FROM follow_up_note n WHERE n.action_id = a.id) AS note_count
"""
FROM_SQL: Final = """
FROM follow_up_action a
JOIN agency g ON g.id = a.agency_id
LEFT JOIN coordination_meeting m ON m.id = a.meeting_id
"""
AFTER_KEY_SQL: Final = text(
    f"SELECT NOT {OVERDUE} AS not_overdue, a.due_on, a.id FROM follow_up_action a "
    "WHERE a.id = :after"
)
LOCK_SQL: Final = text(
    "SELECT id, status, agency_id, due_on, title, meeting_id FROM follow_up_action "
    "WHERE id = :id FOR UPDATE"
)
INSERT_SQL: Final = text(
    "INSERT INTO follow_up_action (title, agency_id, due_on, meeting_id, created_by) "
    "VALUES (:title, :agency_id, :due_on, :meeting_id, :who) RETURNING id"
)
INSERT_LINKS_SQL: Final = text(
    "INSERT INTO follow_up_link (action_id, kind, target) "
    "SELECT :id, unnest(CAST(:kinds AS text[])), unnest(CAST(:targets AS text[])) "
    "ON CONFLICT DO NOTHING"
)
NOTE_SQL: Final = text(
    "INSERT INTO follow_up_note (action_id, author, agency_id, status_from, status_to, reason, "
    "body) VALUES (:id, :author, :agency_id, :status_from, :status_to, :reason, :body)"
)
NOTES_SQL: Final = text(
    "SELECT n.id, n.at, n.author, n.agency_id, g.short_name AS agency, n.status_from, "
    "n.status_to, n.reason, n.body FROM follow_up_note n LEFT JOIN agency g ON g.id = "
    "n.agency_id WHERE n.action_id = :id ORDER BY n.at, n.id"
)
MEETING_EXISTS_SQL: Final = text("SELECT 1 FROM coordination_meeting WHERE id = :id")
# Whether each linked record exists, by kind (bound arrays of ids or codes).
LINK_TARGETS_SQL: Final = {
    "incident": "SELECT id::text FROM incident WHERE id = ANY(CAST(:ids AS bigint[]))",
    "alert": "SELECT id::text FROM alert WHERE id = ANY(CAST(:ids AS bigint[]))",
    "workplace": "SELECT id::text FROM workplace WHERE id = ANY(CAST(:ids AS bigint[]))",
    "zone": "SELECT id::text FROM zone WHERE id = ANY(CAST(:ids AS bigint[]))",
    "admin_area": "SELECT code FROM admin_area WHERE code = ANY(CAST(:ids AS text[]))",
}


@dataclass(frozen=True)
class ActionPage:
    actions: list[dict[str, Any]]
    total: int
    has_more: bool
    last_id: int | None
    limit: int


def _wib(value: dt.datetime | None) -> str | None:
    return value.astimezone(WIB).isoformat() if value is not None else None


def as_dict(row: Any, personal: bool) -> dict[str, Any]:
    """One action as every face shows it (times in WIB, days as ISO dates)."""
    out: dict[str, Any] = {
        "id": row.id,
        "title": row.title,
        "agency_id": row.agency_id,
        "agency": row.agency,
        "agency_name": row.agency_name,
        "due_on": row.due_on.isoformat(),
        "status": row.status,
        "overdue": bool(row.overdue),
        "meeting_id": row.meeting_id,
        "meeting_title": row.meeting_title,
        "meeting_held_on": row.meeting_held_on.isoformat() if row.meeting_held_on else None,
        "closed_at": _wib(row.closed_at),
        "close_reason": row.close_reason,
    }
    if personal:
        out.update(
            created_by=row.created_by,
            created_at=_wib(row.created_at),
            updated_at=_wib(row.updated_at),
            links=list(row.links or []),
            note_count=int(row.note_count),
        )
    return out


def _select(personal: bool) -> str:
    return f"SELECT {AGGREGATE_COLUMNS}{PERSONAL_COLUMNS if personal else ''} {FROM_SQL}"


def _where(query: ActionQuery) -> tuple[str, dict[str, Any]]:
    today = query.today or today_wib()
    parts = ["a.status = ANY(:statuses)"]
    params: dict[str, Any] = {"statuses": list(query.statuses), "today": today}
    if query.agency_ids:
        parts.append("a.agency_id = ANY(:agency_ids)")
        params["agency_ids"] = list(query.agency_ids)
    if query.due_before:
        parts.append("a.due_on < :due_before")
        params["due_before"] = query.due_before
    if query.due_after:
        parts.append("a.due_on > :due_after")
        params["due_after"] = query.due_after
    if query.overdue is not None:
        parts.append(OVERDUE if query.overdue else f"NOT {OVERDUE}")
    if query.meeting_id is not None:
        parts.append("a.meeting_id = :meeting_id")
        params["meeting_id"] = query.meeting_id
    return " AND ".join(parts), params


def list_actions(*, session: Session, principal: Principal, query: ActionQuery) -> ActionPage:
    """A page of actions in list order (overdue first, then due day, then id) and the total."""
    access.check(principal.role, access.READ)
    personal = access.sees_personal_data(principal.role)
    where, params = _where(query)
    total = int(
        session.execute(text(f"SELECT count(*) {FROM_SQL} WHERE {where}"), params).scalar_one()
    )
    condition = where
    if query.after is not None:
        key = session.execute(AFTER_KEY_SQL, {"after": query.after, "today": params["today"]})
        found = key.first()
        if found is None:
            raise ValidationError(
                f"after must be the id of an action (the next link sets it); got {query.after}",
                field="after",
                value=query.after,
            )
        condition += (
            f" AND {ORDER_KEY} > (CAST(:k_late AS boolean), CAST(:k_due AS date), "
            "CAST(:k_id AS integer))"
        )
        params.update(k_late=found.not_overdue, k_due=found.due_on, k_id=found.id)
    rows = session.execute(
        text(f"{_select(personal)} WHERE {condition} ORDER BY {ORDER_KEY} LIMIT :fetch"),
        {**params, "fetch": query.limit + 1},
    ).all()
    has_more = len(rows) > query.limit
    actions = [as_dict(r, personal) for r in rows[: query.limit]]
    return ActionPage(
        actions=actions,
        total=total,
        has_more=has_more,
        last_id=actions[-1]["id"] if actions and has_more else None,
        limit=query.limit,
    )


def actions_of_meeting(
    *, session: Session, meeting_id: int, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Every action a meeting decided, in list order, as every role may see them (title,
    agency, due day, status): what the briefing pack prints for any reader."""
    query = ActionQuery(statuses=STATUSES, meeting_id=meeting_id, today=today, limit=MAX_LIMIT)
    where, params = _where(query)
    rows = session.execute(
        text(f"{_select(False)} WHERE {where} ORDER BY {ORDER_KEY} LIMIT :fetch"),
        {**params, "fetch": MAX_LIMIT},
    ).all()
    return [as_dict(r, False) for r in rows]


def _note_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": _wib(row.at),
        "author": row.author,
        "agency_id": row.agency_id,
        "agency": row.agency,
        "status_from": row.status_from,
        "status_to": row.status_to,
        "reason": row.reason,
        "body": row.body,
    }


def get_action(
    *,
    session: Session,
    principal: Principal,
    action_id: int,
    client: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """One action; for roles with personal data with its links and notes (a read of free text,
    audited when there are notes)."""
    access.check(principal.role, access.READ)
    personal = access.sees_personal_data(principal.role)
    row = session.execute(
        text(f"{_select(personal)} WHERE a.id = :id"),
        {"id": action_id, "today": today or today_wib()},
    ).first()
    if row is None:
        raise NotFoundError(f"no follow-up action with id {action_id}")
    out = as_dict(row, personal)
    if personal:
        out["notes"] = [_note_dict(n) for n in session.execute(NOTES_SQL, {"id": action_id})]
        if any(n["body"] for n in out["notes"]):
            record(
                session=session,
                principal=principal,
                action="read",
                resource=f"actions/{action_id}",
                record_count=1,
                client=client,
                details={"notes": len(out["notes"])},
            )
    return out


def _check_links(session: Session, links: tuple[Link, ...]) -> None:
    for kind in dict.fromkeys(link.kind for link in links):
        wanted = [link.target for link in links if link.kind == kind]
        found = set(session.execute(text(LINK_TARGETS_SQL[kind]), {"ids": wanted}).scalars())
        missing = [t for t in wanted if t not in found]
        if missing:
            raise ValidationError(
                f"links: no {kind} {', '.join(missing[:10])}",
                field="links",
                value=f"{kind}:{missing[0]}",
            )


def _add_links(session: Session, action_id: int, links: tuple[Link, ...]) -> None:
    if not links:
        return
    _check_links(session, links)
    session.execute(
        INSERT_LINKS_SQL,
        {
            "id": action_id,
            "kinds": [link.kind for link in links],
            "targets": [link.target for link in links],
        },
    )


def _check_meeting(session: Session, meeting_id: int | None) -> None:
    if meeting_id is None or session.execute(MEETING_EXISTS_SQL, {"id": meeting_id}).first():
        return
    raise ValidationError(
        f"meeting {meeting_id} is not a coordination meeting", field="meeting", value=meeting_id
    )


def insert_action(
    *, session: Session, principal: Principal, action: ActionIn, client: str | None = None
) -> int:
    """Write a checked new action, its links and its audit row; its id."""
    access.check(principal.role, access.MANAGE_ACTIONS)
    _check_meeting(session, action.meeting_id)
    new_id = int(
        session.execute(
            INSERT_SQL,
            {
                "title": action.title,
                "agency_id": action.agency.id,
                "due_on": action.due_on,
                "meeting_id": action.meeting_id,
                "who": principal.name,
            },
        ).scalar_one()
    )
    _add_links(session, new_id, action.links)
    record(
        session=session,
        principal=principal,
        action="create",
        resource=f"actions/{new_id}",
        record_count=1,
        client=client,
        details={
            "agency_id": action.agency.id,
            "due_on": action.due_on.isoformat(),
            "meeting_id": action.meeting_id,
            "links": len(action.links),
        },
    )
    return new_id


def create_action(
    *, session: Session, principal: Principal, action: ActionIn, client: str | None = None
) -> dict[str, Any]:
    new_id = insert_action(session=session, principal=principal, action=action, client=client)
    return get_action(session=session, principal=principal, action_id=new_id, client=client)


def _lock(session: Session, action_id: int) -> Any:
    row = session.execute(LOCK_SQL, {"id": action_id}).first()
    if row is None:
        raise NotFoundError(f"no follow-up action with id {action_id}")
    return row


def _check_may_update(principal: Principal, row: Any) -> int | None:
    """The principal's agency, once it is clear they may change this action: any action with
    MANAGE_ACTIONS, their own agency's with UPDATE_ACTIONS only (planners)."""
    access.check(principal.role, access.UPDATE_ACTIONS)
    agency_id = principal.agency_id
    if access.allowed(principal.role, access.MANAGE_ACTIONS):
        return agency_id
    if agency_id is None or agency_id != row.agency_id:
        raise PermissionDeniedError(
            f"role {principal.role!r} may update only its own agency's actions; action "
            f"{row.id} belongs to another agency"
        )
    return agency_id


def update_action(
    *,
    session: Session,
    principal: Principal,
    action_id: int,
    title: str | None = None,
    agency: int | str | None = None,
    due_on: str | dt.date | None = None,
    meeting: int | str | None = None,
    add_links: Any = None,
    client: str | None = None,
) -> dict[str, Any]:
    """Change an action's title, responsible agency, due day or meeting, or add links (links
    are only ever added). Unchanged fields stay; the audit row names what changed."""
    access.check(principal.role, access.MANAGE_ACTIONS)
    row = _lock(session, action_id)
    checked = parse_action_in(
        session,
        title=title if title is not None else row.title,
        # An unchanged responsible agency may have been retired since: it stays.
        agency=agency if agency not in (None, "") else row.agency_id,
        due_on=due_on if due_on not in (None, "") else row.due_on,
        meeting=meeting if meeting not in (None, "") else row.meeting_id,
        links=add_links,
        keep_agency=row.agency_id,
    )
    if checked.meeting_id != row.meeting_id:
        _check_meeting(session, checked.meeting_id)
    changes: dict[str, Any] = {}
    if checked.title != row.title:
        changes["title"] = True  # the words stay out of the audit log
    if checked.agency.id != row.agency_id:
        changes["agency_id"] = [row.agency_id, checked.agency.id]
    if checked.due_on != row.due_on:
        changes["due_on"] = [row.due_on.isoformat(), checked.due_on.isoformat()]
    if checked.meeting_id != row.meeting_id:
        changes["meeting_id"] = [row.meeting_id, checked.meeting_id]
    if not changes and not checked.links:
        raise ValidationError(
            "nothing to change: give title, agency, due_on, meeting or add_links", field="body"
        )
    session.execute(
        text(
            "UPDATE follow_up_action SET title = :title, agency_id = :agency_id, "
            "due_on = :due_on, meeting_id = :meeting_id, updated_at = now() WHERE id = :id"
        ),
        {
            "id": action_id,
            "title": checked.title,
            "agency_id": checked.agency.id,
            "due_on": checked.due_on,
            "meeting_id": checked.meeting_id,
        },
    )
    _add_links(session, action_id, checked.links)
    if checked.links:
        changes["links_added"] = len(checked.links)
    record(
        session=session,
        principal=principal,
        action="update",
        resource=f"actions/{action_id}",
        record_count=1,
        client=client,
        details=changes,
    )
    return get_action(session=session, principal=principal, action_id=action_id, client=client)


def change_status(
    *,
    session: Session,
    principal: Principal,
    action_id: int,
    change: StatusChange,
    client: str | None = None,
) -> dict[str, Any]:
    """Move an action to ``change.status``: closing (done, dropped) sets when and why, leaving
    a closed status clears them; either way a note keeps the change, the reason and the words."""
    row = _lock(session, action_id)
    agency_id = _check_may_update(principal, row)
    if row.status == change.status:
        raise ConflictError(f"action {action_id} is {row.status} already; nothing changed")
    closing = change.status in CLOSED_STATUSES
    session.execute(
        text(
            "UPDATE follow_up_action SET status = :status, updated_at = now(), "
            "closed_at = CASE WHEN :closing THEN now() END, close_reason = :reason "
            "WHERE id = :id"
        ),
        {"id": action_id, "status": change.status, "closing": closing, "reason": change.reason},
    )
    session.execute(
        NOTE_SQL,
        {
            "id": action_id,
            "author": principal.name,
            "agency_id": agency_id,
            "status_from": row.status,
            "status_to": change.status,
            "reason": change.reason,
            "body": change.note or "",
        },
    )
    record(
        session=session,
        principal=principal,
        action="status",
        resource=f"actions/{action_id}",
        record_count=1,
        client=client,
        details={
            "from": row.status,
            "to": change.status,
            "reason": change.reason,
            "note": bool(change.note),
        },
    )
    return get_action(session=session, principal=principal, action_id=action_id, client=client)


def add_note(
    *,
    session: Session,
    principal: Principal,
    action_id: int,
    body: str | None,
    client: str | None = None,
) -> dict[str, Any]:
    """Add a dated note to an action's history."""
    checked = parse_text(body, field="body", max_chars=MAX_NOTE_CHARS, required=True)
    row = _lock(session, action_id)
    agency_id = _check_may_update(principal, row)
    session.execute(
        NOTE_SQL,
        {
            "id": action_id,
            "author": principal.name,
            "agency_id": agency_id,
            "status_from": None,
            "status_to": None,
            "reason": None,
            "body": checked,
        },
    )
    session.execute(
        text("UPDATE follow_up_action SET updated_at = now() WHERE id = :id"), {"id": action_id}
    )
    record(
        session=session,
        principal=principal,
        action="note",
        resource=f"actions/{action_id}",
        record_count=1,
        client=client,
    )
    return get_action(session=session, principal=principal, action_id=action_id, client=client)
