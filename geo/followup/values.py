"""Vocabularies, caps and parsing of follow-up actions and meetings: raw values in, checked
requests out, a :class:`geo.errors.ValidationError` naming the field and the value otherwise."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.registry.filters import MAX_ID, parse_choices, parse_int, split_values
from geo.times import today_wib

STATUSES: Final = ("open", "in_progress", "done", "dropped")
OPEN_STATUSES: Final = ("open", "in_progress")
CLOSED_STATUSES: Final = ("done", "dropped")
# ``status=any`` lists every status; without ``status`` the list holds the open ones.
ANY_STATUS: Final = "any"
# Why an action was closed: codes (translated on every face); the words go into a note.
CLOSE_REASONS: Final = (
    "completed",
    "superseded",
    "not_feasible",
    "not_needed",
    "duplicate",
    "other",
)
LINK_KINDS: Final = ("incident", "alert", "workplace", "zone", "admin_area")
ADMIN_AREA_CODE: Final = re.compile(r"^\d{2}(\.\d{2}){0,2}(\.\d{4})?$")

MAX_TITLE_CHARS: Final = 300
MAX_MEETING_TITLE_CHARS: Final = 200
MAX_PLACE_CHARS: Final = 200
MAX_NOTE_CHARS: Final = 2000
MAX_MEETING_NOTES_CHARS: Final = 10_000
MAX_LINKS: Final = 50
MAX_MEETING_ACTIONS: Final = 50
MAX_LIMIT: Final = 500
DEFAULT_LIMIT: Final = 100
# Due days and meeting days: a plausible office calendar, not any date a client can write.
FIRST_DAY: Final = dt.date(2000, 1, 1)
LAST_DAY: Final = dt.date(2100, 12, 31)
MAX_PERIOD_DAYS: Final = 3660

AGENCY_SQL: Final = text(
    "SELECT id, short_name, name, active FROM agency "
    "WHERE id = CAST(:id AS integer) OR lower(short_name) = lower(:name)"
)


def parse_day(value: str | dt.date | None, *, field: str) -> dt.date | None:
    """An ISO date (2026-12-07) between 2000 and 2100, or None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(
                f"{field} must be a date such as 2026-12-31; got {str(value)[:50]!r}",
                field=field,
                value=str(value)[:50],
            ) from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError(
            f"{field} must be between {FIRST_DAY} and {LAST_DAY}; got {value}",
            field=field,
            value=value.isoformat(),
        )
    return value


def required_day(value: str | dt.date | None, *, field: str) -> dt.date:
    day = parse_day(value, field=field)
    if day is None:
        raise ValidationError(f"{field} is required (a date such as 2026-12-31)", field=field)
    return day


def parse_text(
    value: str | None, *, field: str, max_chars: int, required: bool = False
) -> str | None:
    """Trimmed text of at most ``max_chars``; None (or a 422 when required) when empty."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{field} must be text", field=field, value=str(value)[:50])
    value = value.strip() if value else None
    if not value:
        if required:
            raise ValidationError(f"{field} is required and must not be empty", field=field)
        return None
    if len(value) > max_chars:
        raise ValidationError(
            f"{field} must be at most {max_chars} characters; got {len(value)}",
            field=field,
            value=len(value),
        )
    return value


def parse_bool(value: bool | str | None, *, field: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationError(
        f"{field} must be true or false; got {str(value)[:50]!r}",
        field=field,
        value=str(value)[:50],
    )


def parse_id(value: int | str | None, *, field: str) -> int | None:
    if value is None or value == "":
        return None
    return parse_int(value, field=field, default=0, low=1, high=MAX_ID)


@dataclass(frozen=True)
class Agency:
    id: int
    short_name: str
    name: str
    active: bool


def find_agency(session: Session, value: int | str, *, field: str = "agency") -> Agency:
    """An agency by id or short name (case-insensitive), else a 422 naming the value."""
    raw = str(value).strip()
    if not raw or len(raw) > 100:
        raise ValidationError(
            f"{field} must be an agency id or short name (see GET /api/v1/agencies); "
            f"got {raw[:100]!r}",
            field=field,
            value=raw[:100],
        )
    number = int(raw) if raw.isdigit() and len(raw) < 10 else None
    row = session.execute(AGENCY_SQL, {"id": number, "name": raw}).first()
    if row is None:
        raise ValidationError(
            f"{field} {raw!r} is not an agency (see GET /api/v1/agencies or timpora agencies)",
            field=field,
            value=raw,
        )
    return Agency(id=row.id, short_name=row.short_name, name=row.name, active=row.active)


@dataclass(frozen=True)
class Link:
    """What an action is about: an incident, alert, workplace or zone id, or an area code."""

    kind: str
    target: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target}


def parse_links(values: Sequence[Any] | str | None) -> tuple[Link, ...]:
    """Links as ``{"kind", "target"}`` objects or ``kind:target`` strings (``incident:12``,
    ``admin_area:61.01.09``); whether each target exists is checked when it is written."""
    if values is None:
        return ()
    items: list[Any] = list(split_values(values)) if isinstance(values, str) else list(values)
    if len(items) > MAX_LINKS:
        raise ValidationError(
            f"links may name at most {MAX_LINKS} records; got {len(items)}",
            field="links",
            value=len(items),
        )
    out: list[Link] = []
    for item in items:
        if isinstance(item, dict):
            kind, target = str(item.get("kind", "")), str(item.get("target", "")).strip()
        elif isinstance(item, str) and ":" in item:
            kind, _, target = item.partition(":")
            kind, target = kind.strip(), target.strip()
        else:
            raise ValidationError(
                f"a link is kind:target such as incident:12 or admin_area:61.01.09; "
                f"got {str(item)[:60]!r}",
                field="links",
                value=str(item)[:60],
            )
        if kind not in LINK_KINDS:
            raise ValidationError(
                f"a link's kind must be one of {', '.join(LINK_KINDS)}; got {kind[:30]!r}",
                field="links",
                value=kind[:30],
            )
        if kind == "admin_area":
            if not ADMIN_AREA_CODE.match(target):
                raise ValidationError(
                    f"an admin_area link is a Kemendagri code such as 61.01.09; "
                    f"got {target[:40]!r}",
                    field="links",
                    value=target[:40],
                )
        else:
            target = str(parse_int(target, field="links", default=0, low=1, high=MAX_ID))
        out.append(Link(kind=kind, target=target))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class ActionQuery:
    """A checked list request: filters, the reference day for "overdue", and the page."""

    agency_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = OPEN_STATUSES
    due_before: dt.date | None = None
    due_after: dt.date | None = None
    overdue: bool | None = None
    meeting_id: int | None = None
    today: dt.date | None = None
    limit: int = DEFAULT_LIMIT
    after: int | None = None

    def query_params(self) -> dict[str, str]:
        """The filters as query-string values (for ``next`` links), without the page."""
        out: dict[str, str] = {}
        if self.agency_ids:
            out["agency"] = ",".join(map(str, self.agency_ids))
        if self.statuses != OPEN_STATUSES:
            out["status"] = ",".join(self.statuses)
        if self.due_before:
            out["due_before"] = self.due_before.isoformat()
        if self.due_after:
            out["due_after"] = self.due_after.isoformat()
        if self.overdue is not None:
            out["overdue"] = str(self.overdue).lower()
        if self.meeting_id is not None:
            out["meeting"] = str(self.meeting_id)
        return out


def parse_action_query(
    session: Session,
    *,
    agency: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    due_before: str | dt.date | None = None,
    due_after: str | dt.date | None = None,
    overdue: bool | str | None = None,
    meeting: int | str | None = None,
    limit: int | str | None = None,
    after: int | str | None = None,
    today: dt.date | None = None,
) -> ActionQuery:
    """The list's filters, checked (agencies by id or short name must exist)."""
    statuses = parse_choices(
        "status", status, allowed=(*STATUSES, ANY_STATUS), subject="follow-up actions"
    )
    if ANY_STATUS in statuses:
        statuses = STATUSES
    agencies = split_values(agency)
    if len(agencies) > 50:
        raise ValidationError("agency may name at most 50 agencies", field="agency")
    before = parse_day(due_before, field="due_before")
    after_day = parse_day(due_after, field="due_after")
    if before and after_day and before <= after_day:
        raise ValidationError(
            f"due_before ({before}) must be after due_after ({after_day})",
            field="due_before",
            value=before.isoformat(),
        )
    return ActionQuery(
        agency_ids=tuple(dict.fromkeys(find_agency(session, a).id for a in agencies)),
        statuses=statuses or OPEN_STATUSES,
        due_before=before,
        due_after=after_day,
        overdue=parse_bool(overdue, field="overdue"),
        meeting_id=parse_id(meeting, field="meeting"),
        today=today,
        limit=parse_int(limit, field="limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        after=parse_id(after, field="after"),
    )


@dataclass(frozen=True)
class ActionIn:
    """A new action, checked."""

    title: str
    agency: Agency
    due_on: dt.date
    meeting_id: int | None = None
    links: tuple[Link, ...] = ()


def parse_action_in(
    session: Session,
    *,
    title: str | None,
    agency: int | str | None,
    due_on: str | dt.date | None,
    meeting: int | str | None = None,
    links: Sequence[Any] | str | None = None,
    keep_agency: int | None = None,
) -> ActionIn:
    """A new (or edited) action, checked; the responsible agency must be active unless it is
    ``keep_agency``, the one an edited action already has."""
    checked_title = parse_text(title, field="title", max_chars=MAX_TITLE_CHARS, required=True)
    assert checked_title is not None
    if agency is None or agency == "":
        raise ValidationError("agency is required (an agency id or short name)", field="agency")
    found = find_agency(session, agency)
    if not found.active and found.id != keep_agency:
        raise ValidationError(
            f"agency {found.short_name!r} is no longer active; give the agency now responsible",
            field="agency",
            value=found.short_name,
        )
    return ActionIn(
        title=checked_title,
        agency=found,
        due_on=required_day(due_on, field="due_on"),
        meeting_id=parse_id(meeting, field="meeting"),
        links=parse_links(links),
    )


@dataclass(frozen=True)
class StatusChange:
    status: str
    reason: str | None
    note: str | None


def parse_status_change(
    status: str | None, *, reason: str | None = None, note: str | None = None
) -> StatusChange:
    """A new status; ``reason`` (one of :data:`CLOSE_REASONS`) is required for done and
    dropped and refused otherwise."""
    if status not in STATUSES:
        raise ValidationError(
            f"status must be one of {', '.join(STATUSES)}; got {str(status)[:30]!r}",
            field="status",
            value=str(status)[:30],
        )
    if status in CLOSED_STATUSES:
        if not reason:
            raise ValidationError(
                f"reason is required to close an action ({status}): one of "
                f"{', '.join(CLOSE_REASONS)}",
                field="reason",
            )
        if reason not in CLOSE_REASONS:
            raise ValidationError(
                f"reason must be one of {', '.join(CLOSE_REASONS)}; got {str(reason)[:30]!r}",
                field="reason",
                value=str(reason)[:30],
            )
    elif reason:
        raise ValidationError(
            f"reason applies to done and dropped only, not {status}",
            field="reason",
            value=str(reason)[:30],
        )
    return StatusChange(
        status=status,
        reason=reason or None,
        note=parse_text(note, field="note", max_chars=MAX_NOTE_CHARS),
    )


@dataclass(frozen=True)
class MeetingIn:
    held_on: dt.date
    title: str
    place: str | None
    notes: str | None
    actions: tuple[ActionIn, ...] = ()


def parse_meeting_in(
    session: Session,
    *,
    held_on: str | dt.date | None,
    title: str | None,
    place: str | None = None,
    notes: str | None = None,
    actions: Sequence[dict[str, Any]] = (),
) -> MeetingIn:
    """A new meeting and the actions it decided (each checked like a new action)."""
    if len(actions) > MAX_MEETING_ACTIONS:
        raise ValidationError(
            f"a meeting may decide at most {MAX_MEETING_ACTIONS} actions at once; "
            f"got {len(actions)}",
            field="actions",
            value=len(actions),
        )
    checked_title = parse_text(
        title, field="title", max_chars=MAX_MEETING_TITLE_CHARS, required=True
    )
    assert checked_title is not None
    checked: list[ActionIn] = []
    for item in actions:
        if not isinstance(item, dict):
            raise ValidationError("actions must be objects", field="actions")
        checked.append(
            parse_action_in(
                session,
                title=item.get("title"),
                agency=item.get("agency"),
                due_on=item.get("due_on"),
                links=item.get("links"),
            )
        )
    return MeetingIn(
        held_on=required_day(held_on, field="held_on"),
        title=checked_title,
        place=parse_text(place, field="place", max_chars=MAX_PLACE_CHARS),
        notes=parse_text(notes, field="notes", max_chars=MAX_MEETING_NOTES_CHARS),
        actions=tuple(checked),
    )


def parse_period(
    start: str | dt.date | None, end: str | dt.date | None, *, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """A period of whole WIB days ``[from, to]``; by default the 30 days up to today."""
    last = parse_day(end, field="to") or (today or today_wib())
    first = parse_day(start, field="from") or (last - dt.timedelta(days=29))
    if first > last:
        raise ValidationError(
            f"from ({first}) must not be after to ({last})", field="from", value=first.isoformat()
        )
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ValidationError(
            f"the period may span at most {MAX_PERIOD_DAYS} days; got {(last - first).days + 1}",
            field="from",
            value=first.isoformat(),
        )
    return first, last
