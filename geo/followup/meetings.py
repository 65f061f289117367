"""Coordination meetings: each a record of the day, title, place and notes (free text: roles
with personal data only), grouping the follow-up actions it decided."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access
from geo.audit import record
from geo.errors import NotFoundError, ValidationError
from geo.followup import actions
from geo.followup.values import (
    MAX_LIMIT,
    STATUSES,
    ActionQuery,
    MeetingIn,
    parse_period,
)
from geo.times import WIB
from geo.users import Principal

INSERT_SQL: Final = text(
    "INSERT INTO coordination_meeting (held_on, title, place, notes, agency_id, created_by) "
    "VALUES (:held_on, :title, :place, :notes, :agency_id, :who) RETURNING id"
)
AGGREGATE_COLUMNS: Final = (
    "m.id, m.held_on, m.title, m.place, m.agency_id, g.short_name AS agency, "
    "(SELECT count(*) FROM follow_up_action a WHERE a.meeting_id = m.id) AS action_count"
)
PERSONAL_COLUMNS: Final = ", m.notes, m.created_by, m.created_at"
FROM_SQL: Final = "FROM coordination_meeting m LEFT JOIN agency g ON g.id = m.agency_id"
# Newest first; keyset on (held_on, id).
LIST_WHERE: Final = (
    "m.held_on BETWEEN :first AND :last AND (CAST(:agency_id AS integer) IS NULL OR "
    "m.agency_id = :agency_id) AND (CAST(:after_day AS date) IS NULL OR "
    "(m.held_on, m.id) < (CAST(:after_day AS date), CAST(:after_id AS integer)))"
)
AFTER_SQL: Final = text("SELECT held_on, id FROM coordination_meeting WHERE id = :id")
LATEST_SQL: Final = text(
    "SELECT id FROM coordination_meeting WHERE held_on <= :day ORDER BY held_on DESC, id DESC "
    "LIMIT 1"
)


def _as_dict(row: Any, personal: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "held_on": row.held_on.isoformat(),
        "title": row.title,
        "place": row.place,
        "agency_id": row.agency_id,
        "agency": row.agency,
        "action_count": int(row.action_count),
    }
    if personal:
        out.update(
            notes=row.notes,
            created_by=row.created_by,
            created_at=row.created_at.astimezone(WIB).isoformat(),
        )
    return out


def _select(personal: bool) -> str:
    return f"SELECT {AGGREGATE_COLUMNS}{PERSONAL_COLUMNS if personal else ''} {FROM_SQL}"


def list_meetings(
    *,
    session: Session,
    principal: Principal,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    agency_id: int | None = None,
    limit: int = 50,
    after: int | None = None,
    client: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Meetings held in ``[start, end]`` (default: the last ten years), newest first, and
    whether more follow."""
    access.check(principal.role, access.READ)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(
            f"limit must be between 1 and {MAX_LIMIT}; got {limit}", field="limit", value=limit
        )
    first, last = parse_period(start, end)
    if start in (None, ""):
        first = last - dt.timedelta(days=3650)
    personal = access.sees_personal_data(principal.role)
    after_day = after_id = None
    if after is not None:
        key = session.execute(AFTER_SQL, {"id": after}).first()
        if key is None:
            raise ValidationError(
                f"after must be the id of a meeting; got {after}", field="after", value=after
            )
        after_day, after_id = key.held_on, key.id
    rows = session.execute(
        text(
            f"{_select(personal)} WHERE {LIST_WHERE} ORDER BY m.held_on DESC, m.id DESC "
            "LIMIT :fetch"
        ),
        {
            "first": first,
            "last": last,
            "agency_id": agency_id,
            "after_day": after_day,
            "after_id": after_id,
            "fetch": limit + 1,
        },
    ).all()
    meetings = [_as_dict(r, personal) for r in rows[:limit]]
    if personal and any(m["notes"] for m in meetings):
        record(
            session=session,
            principal=principal,
            action="read",
            resource="meetings",
            record_count=sum(1 for m in meetings if m["notes"]),
            client=client,
        )
    return meetings, len(rows) > limit


def get_meeting(
    *,
    session: Session,
    principal: Principal,
    meeting_id: int,
    client: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """One meeting with every action it decided (any status), in list order."""
    access.check(principal.role, access.READ)
    personal = access.sees_personal_data(principal.role)
    row = session.execute(text(f"{_select(personal)} WHERE m.id = :id"), {"id": meeting_id}).first()
    if row is None:
        raise NotFoundError(f"no coordination meeting with id {meeting_id}")
    out = _as_dict(row, personal)
    page = actions.list_actions(
        session=session,
        principal=principal,
        query=ActionQuery(statuses=STATUSES, meeting_id=meeting_id, today=today, limit=MAX_LIMIT),
    )
    out["actions"] = page.actions
    if personal and out["notes"]:
        record(
            session=session,
            principal=principal,
            action="read",
            resource=f"meetings/{meeting_id}",
            record_count=1,
            client=client,
        )
    return out


def latest_meeting_id(*, session: Session, on_or_before: dt.date) -> int | None:
    """The last meeting held on or before a day (the briefing pack's "last meeting")."""
    found = session.execute(LATEST_SQL, {"day": on_or_before}).scalar()
    return int(found) if found is not None else None


def meeting_outcomes(
    *, session: Session, on_or_before: dt.date, today: dt.date | None = None
) -> dict[str, Any] | None:
    """The last meeting held on or before a day, and each action it decided with its status
    now, as every role may see them (no notes, no links); None when there was none."""
    meeting_id = latest_meeting_id(session=session, on_or_before=on_or_before)
    if meeting_id is None:
        return None
    row = session.execute(text(f"{_select(False)} WHERE m.id = :id"), {"id": meeting_id}).one()
    out = _as_dict(row, False)
    out["actions"] = actions.actions_of_meeting(session=session, meeting_id=meeting_id, today=today)
    return out


def create_meeting(
    *, session: Session, principal: Principal, meeting: MeetingIn, client: str | None = None
) -> dict[str, Any]:
    """Record a meeting and the actions it decided, in one transaction (audited each)."""
    access.check(principal.role, access.MANAGE_ACTIONS)
    new_id = int(
        session.execute(
            INSERT_SQL,
            {
                "held_on": meeting.held_on,
                "title": meeting.title,
                "place": meeting.place,
                "notes": meeting.notes,
                "agency_id": principal.agency_id,
                "who": principal.name,
            },
        ).scalar_one()
    )
    record(
        session=session,
        principal=principal,
        action="create",
        resource=f"meetings/{new_id}",
        record_count=1,
        client=client,
        details={"held_on": meeting.held_on.isoformat(), "actions": len(meeting.actions)},
    )
    for item in meeting.actions:
        actions.insert_action(
            session=session,
            principal=principal,
            action=dataclasses.replace(item, meeting_id=new_id),
            client=client,
        )
    return get_meeting(session=session, principal=principal, meeting_id=new_id, client=client)
