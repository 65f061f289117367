"""What people do with alerts: assign, unassign, note, acknowledge, resolve with a reason,
reopen; one alert or a selection at once. The queue they work from: ``geo.alerts.queue``.

Actions are all-or-nothing: every alert of a selection must be able to change, or nothing is
written and the conflict names the ones that cannot. Each changed alert gets an ``alert_note``
row (its triage history) and an ``audit_log`` row, both stamped with the acting agency.

Who may act (docs/alerts.md, "Who may act"): the roles with ``access.ACK_ALERTS``. Those without
personal data (the faces ``recorder`` and ``liaison`` of an agency without it) act only on the
alerts they may see, those not about a person: any other is "no alert with that id" to them, as
it is to the database role they work under. The notes they write are not read back to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access, roles
from geo.audit import record
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.models import ALERT_STATUSES, OPEN_ALERT_STATUSES
from geo.registry.filters import MAX_ID, parse_choices, parse_int
from geo.users import Principal

# A selection is acted on in one transaction, holding a row lock per alert.
MAX_SELECTION: Final = 200
MAX_NOTE_CHARS: Final = 2000
# Why an episode was closed (stored in ``closed_reason``: codes only, so the column carries no
# free text; the words go into a note). ``lapsed`` is the evaluation's own, not a person's.
RESOLVE_REASONS: Final = ("action_taken", "explained", "false_alarm", "duplicate", "other")
ACTIONS: Final = ("assign", "unassign", "note", "acknowledge", "resolve", "reopen")

# Only columns the aggregate role reads (and it may lock: it updates the triage's columns).
LOCK_SQL: Final = text(
    "SELECT id, status, assigned_to, episode_key, "
    "(foreigner_id IS NOT NULL OR sighting_id IS NOT NULL) AS about_person "
    "FROM alert WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
)
ASSIGNEE_SQL: Final = text(
    "SELECT u.role, u.revoked_at, g.personal_data, g.short_name FROM app_user u "
    "JOIN agency g ON g.id = u.agency_id WHERE u.name = :name"
)
OPEN_ELSEWHERE_SQL: Final = text(
    "SELECT episode_key, id FROM alert WHERE episode_key = ANY(:keys) "
    "AND status IN ('new', 'acknowledged') AND id <> ALL(:ids)"
)
NOTE_SQL: Final = text(
    "INSERT INTO alert_note (alert_id, author, action, body) "
    "SELECT unnest(CAST(:ids AS bigint[])), :author, :action, :body"
)
UPDATES: Final[dict[str, str]] = {
    "assign": "assigned_to = :user, assigned_at = now()",
    "unassign": "assigned_to = NULL, assigned_at = NULL",
    # ``ack_note`` is set only when a note is given (``ACK_NOTE``): never read, so roles that
    # may not read it (free text) write it all the same.
    "acknowledge": "status = 'acknowledged', acknowledged_at = now(), acknowledged_by = :who",
    "resolve": (
        "status = 'resolved', resolved_at = now(), resolved_by = :who, closed_reason = :reason, "
        "resolve_note = :note"
    ),
    "reopen": (
        "status = 'acknowledged', resolved_at = NULL, resolved_by = NULL, closed_reason = NULL, "
        "acknowledged_at = coalesce(acknowledged_at, now()), "
        "acknowledged_by = coalesce(acknowledged_by, :who)"
    ),
}
ACK_NOTE: Final = ", ack_note = :note"
# The statuses each action starts from.
FROM_STATUSES: Final[dict[str, tuple[str, ...]]] = {
    "assign": OPEN_ALERT_STATUSES,
    "unassign": OPEN_ALERT_STATUSES,
    "note": ALERT_STATUSES,
    "acknowledge": ("new",),
    "resolve": OPEN_ALERT_STATUSES,
    "reopen": ("resolved", "lapsed"),
}
# The audit verb of each action (``ack`` is the one the single acknowledge always wrote).
AUDIT_ACTION: Final = {"acknowledge": "ack"}
VERBS: Final = {
    "assign": "assigned",
    "unassign": "unassigned",
    "note": "noted",
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "reopen": "reopened",
}


@dataclass(frozen=True)
class Action:
    """What to do to a selection of alerts, checked: the action and its arguments."""

    action: str
    ids: tuple[int, ...]
    user: str | None = None  # assign
    note: str | None = None  # note (required), acknowledge/resolve/reopen (optional)
    reason: str | None = None  # resolve (required)


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    value = value.strip() if isinstance(value, str) else value
    if not value:
        if required:
            raise ValidationError(f"{field} is required and must not be empty", field=field)
        return None
    if len(value) > MAX_NOTE_CHARS:
        raise ValidationError(
            f"{field} must be at most {MAX_NOTE_CHARS} characters; got {len(value)}",
            field=field,
            value=len(value),
        )
    return value


def parse_action(
    action: str,
    ids: Sequence[int | str],
    *,
    user: str | None = None,
    note: str | None = None,
    reason: str | None = None,
) -> Action:
    """Check an action and its arguments before anything is read (422 naming the value)."""
    if action not in ACTIONS:
        raise ValidationError(
            f"action must be one of {', '.join(ACTIONS)}; got {str(action)[:50]!r}",
            field="action",
            value=str(action)[:50],
        )
    if not ids:
        raise ValidationError("ids must name at least one alert", field="ids")
    if len(ids) > MAX_SELECTION:
        raise ValidationError(
            f"ids may name at most {MAX_SELECTION} alerts at once; got {len(ids)}",
            field="ids",
            value=len(ids),
        )
    checked = tuple(
        dict.fromkeys(parse_int(i, field="ids", default=0, low=1, high=MAX_ID) for i in ids)
    )
    if action == "assign":
        user = _text(user, "user", required=True)
        if user is not None and len(user) > 100:
            raise ValidationError("user must be at most 100 characters", field="user")
    elif user is not None:
        raise ValidationError(f"user applies to assign only, not {action}", field="user")
    if action == "resolve":
        if reason is None or reason == "":
            raise ValidationError(
                f"reason is required to resolve: one of {', '.join(RESOLVE_REASONS)}",
                field="reason",
            )
        parse_choices("reason", reason, allowed=RESOLVE_REASONS, subject="resolving")
    elif reason is not None:
        raise ValidationError(f"reason applies to resolve only, not {action}", field="reason")
    return Action(
        action=action,
        ids=checked,
        user=user,
        note=_text(note, "note", required=action == "note"),
        reason=reason,
    )


def _check_assignee(session: Session, name: str, *, about_person: bool) -> None:
    """The assignee is active and may act on every alert of the selection: with the role it
    acts with in its agency (``access.role_in_agency``), and, for an alert about a person, with
    personal data. Users are read as the service (the aggregate role reads no ``app_user``);
    the answer names only the user's role and agency."""
    with roles.service_step(session):
        row = session.execute(ASSIGNEE_SQL, {"name": name}).first()
    if row is None or row.revoked_at is not None:
        raise ValidationError(
            f"user {name!r} is not an active user (see: timpora users list)",
            field="user",
            value=name,
        )
    acts_as = access.role_in_agency(row.role, row.personal_data)
    where = "" if acts_as == row.role else f" of {row.short_name} (acting as {acts_as})"
    if not access.allowed(acts_as, access.ACK_ALERTS):
        raise ValidationError(
            f"user {name!r} is a {row.role}{where} and may not act on alerts; assign to an "
            "admin, analyst or coordinator",
            field="user",
            value=name,
        )
    if about_person and not access.sees_personal_data(acts_as):
        raise ValidationError(
            f"user {name!r} is a {row.role}{where} and may not act on an alert about a person; "
            "assign it to an admin, analyst or coordinator of an agency with personal data",
            field="user",
            value=name,
        )


def act(
    *, session: Session, principal: Principal, action: Action, client: str | None = None
) -> list[int]:
    """Apply ``action`` to every alert of its selection, or to none (409 naming the alerts that
    cannot change, 404 naming those that do not exist). Returns the ids changed."""
    access.check(principal.role, access.ACK_ALERTS)
    ids = list(action.ids)
    rows = session.execute(LOCK_SQL, {"ids": ids}).all()
    if not access.sees_personal_data(principal.role):
        # The database role of such a request sees none of them already; this holds the rule
        # for a session that is not switched to it as well.
        rows = [r for r in rows if not r.about_person]
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise NotFoundError(f"no alert with id {', '.join(map(str, missing))}")
    if action.action == "assign" and action.user is not None:
        _check_assignee(session, action.user, about_person=any(r.about_person for r in rows))
    allowed = FROM_STATUSES[action.action]
    stuck = {r.id: f"{r.id} is {r.status}" for r in rows if r.status not in allowed}
    if action.action == "unassign":
        stuck.update({r.id: f"{r.id} is not assigned" for r in rows if not r.assigned_to})
    if action.action == "reopen":
        stuck.update(_reopen_conflicts(session, rows))
    if stuck:
        raise ConflictError(
            f"nothing changed: alert {'; '.join(stuck[i] for i in sorted(stuck))}, "
            f"so it cannot be {VERBS[action.action]}",
            details={"ids": sorted(stuck)},
        )
    params = {
        "ids": ids,
        "who": principal.name,
        "user": action.user,
        "note": action.note,
        "reason": action.reason,
    }
    if action.action in UPDATES:
        changes = UPDATES[action.action]
        if action.action == "acknowledge" and action.note:
            changes += ACK_NOTE
        session.execute(text(f"UPDATE alert SET {changes} WHERE id = ANY(:ids)"), params)
    # The triage history: the action itself, and the words given with it as a note.
    body = {"assign": action.user, "resolve": action.reason, "note": action.note}.get(action.action)
    session.execute(
        NOTE_SQL,
        {"ids": ids, "author": principal.name, "action": action.action, "body": body or ""},
    )
    if action.note and action.action != "note":
        session.execute(
            NOTE_SQL, {"ids": ids, "author": principal.name, "action": "note", "body": action.note}
        )
    details: dict[str, Any] = {"note": bool(action.note)}
    if action.reason:
        details["reason"] = action.reason
    if action.user:
        details["assignee"] = action.user
    if len(ids) > 1:
        details["selection"] = len(ids)
    for alert_id in ids:
        record(
            session=session,
            principal=principal,
            action=AUDIT_ACTION.get(action.action, action.action),
            resource=f"alerts/{alert_id}",
            record_count=1,
            client=client,
            details=details,
        )
    return ids


def _reopen_conflicts(session: Session, rows: Sequence[Any]) -> dict[int, str]:
    """Episodes that cannot reopen: a newer episode of the same rule and subject is open (one
    open episode per key), or two of the selection share a key."""
    keys = [r.episode_key for r in rows]
    out: dict[int, str] = {}
    open_now: dict[str, int] = dict(
        session.execute(OPEN_ELSEWHERE_SQL, {"keys": keys, "ids": [r.id for r in rows]}).all()
    )
    seen: set[str] = set()
    for r in rows:
        if r.episode_key in open_now:
            out[r.id] = f"{r.id} has a newer open episode ({open_now[r.episode_key]})"
        elif r.episode_key in seen:
            out[r.id] = f"{r.id} shares its episode with another of the selection"
        seen.add(r.episode_key)
    return out
