"""``timpora actions`` and ``timpora meetings``: follow-up actions (overdue first), their status
and notes, and the coordination meetings that decide them (docs/agencies.md).

The command line acts as an administrator unless ``--as`` names a registered user (whose role
and agency then decide what may change); every write is audited.
"""

from __future__ import annotations

from typing import Any

import typer

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    acting_user,
    console,
    handle_errors,
    load_settings,
    open_database,
    print_records,
    say,
)
from geo.followup import actions, meetings, values

actions_app = typer.Typer(
    help="Follow-up actions (tindak lanjut): list (overdue first), add, status, note.",
    no_args_is_help=True,
)
meetings_app = typer.Typer(
    help="Coordination meetings and the actions they decided.", no_args_is_help=True
)

AS_OPTION: Any = typer.Option(
    None, "--as", help="Act as this registered user (default: the operator, as administrator)."
)

ACTION_COLUMNS = (
    Column("id", "id"),
    Column("due_on", "due"),
    Column("overdue", "overdue", lambda v: "OVERDUE" if v else ""),
    Column("status", "status"),
    Column("agency", "agency"),
    Column("title", "title"),
    Column("meeting_id", "meeting"),
    Column("close_reason", "reason"),
    Column("note_count", "notes"),
)
MEETING_COLUMNS = (
    Column("id", "id"),
    Column("held_on", "held on"),
    Column("title", "title"),
    Column("place", "place"),
    Column("agency", "recorded by"),
    Column("action_count", "actions"),
)


@actions_app.command("list")
@handle_errors
def list_actions(
    agency: list[str] = typer.Option([], help="Responsible agency: id or short name (repeatable)."),
    status: list[str] = typer.Option(
        [], help="open, in_progress (default: both), done, dropped, or any (repeatable)."
    ),
    due_before: str | None = typer.Option(None, "--due-before", help="Due before this day."),
    due_after: str | None = typer.Option(None, "--due-after", help="Due after this day."),
    overdue: bool | None = typer.Option(
        None, "--overdue/--not-overdue", help="Only overdue actions, or none of them."
    ),
    meeting: int | None = typer.Option(None, help="Decided by this meeting (id)."),
    limit: int = typer.Option(
        values.DEFAULT_LIMIT, help=f"At most this many (<= {values.MAX_LIMIT})."
    ),
    author: str | None = AS_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Follow-up actions: overdue first, then by due day (times in WIB)."""
    db = open_database(load_settings())
    with db.session() as session:
        query = values.parse_action_query(
            session,
            agency=agency,
            status=status,
            due_before=due_before,
            due_after=due_after,
            overdue=overdue,
            meeting=meeting,
            limit=limit,
        )
        principal = acting_user(session, author, writes=False)
        page = actions.list_actions(session=session, principal=principal, query=query)
    print_records(page.actions, ACTION_COLUMNS, fmt)
    say(f"{len(page.actions)} of {page.total} actions", fmt)


@actions_app.command("add")
@handle_errors
def add_action(
    title: str = typer.Argument(..., help="What is to be done."),
    agency: str = typer.Option(..., help="Responsible agency: id or short name."),
    due: str = typer.Option(..., "--due", help="Due day, e.g. 2026-12-31."),
    meeting: int | None = typer.Option(None, help="The meeting that decided it (id)."),
    link: list[str] = typer.Option(
        [], help="What it is about: incident:ID, alert:ID, workplace:ID, zone:ID, admin_area:CODE."
    ),
    author: str | None = AS_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Create a follow-up action."""
    db = open_database(load_settings())
    with db.session() as session:
        checked = values.parse_action_in(
            session, title=title, agency=agency, due_on=due, meeting=meeting, links=link
        )
        principal = acting_user(session, author)
        created = actions.create_action(
            session=session, principal=principal, action=checked, client="cli"
        )
    print_records([created], ACTION_COLUMNS, fmt)


@actions_app.command("status")
@handle_errors
def set_status(
    action_id: int = typer.Argument(..., help="The action's id."),
    status: str = typer.Argument(..., help=", ".join(values.STATUSES)),
    reason: str | None = typer.Option(
        None, help=f"For done and dropped (required): {', '.join(values.CLOSE_REASONS)}."
    ),
    note: str | None = typer.Option(None, help="Words kept with the change."),
    author: str | None = AS_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Change an action's status; closing it (done, dropped) needs a reason."""
    change = values.parse_status_change(status, reason=reason, note=note)
    db = open_database(load_settings())
    with db.session() as session:
        principal = acting_user(session, author)
        updated = actions.change_status(
            session=session, principal=principal, action_id=action_id, change=change, client="cli"
        )
    print_records([updated], ACTION_COLUMNS, fmt)


@actions_app.command("note")
@handle_errors
def add_note(
    action_id: int = typer.Argument(..., help="The action's id."),
    body: str = typer.Argument(..., help="The note."),
    author: str | None = AS_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Add a dated note to an action."""
    db = open_database(load_settings())
    with db.session() as session:
        principal = acting_user(session, author)
        updated = actions.add_note(
            session=session, principal=principal, action_id=action_id, body=body, client="cli"
        )
    print_records([updated], ACTION_COLUMNS, fmt)


@meetings_app.command("list")
@handle_errors
def list_meetings(
    start: str | None = typer.Option(None, "--from", help="Held on or after this day."),
    end: str | None = typer.Option(None, "--to", help="Held on or before this day."),
    limit: int = typer.Option(50, help=f"At most this many (<= {values.MAX_LIMIT})."),
    author: str | None = AS_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Coordination meetings, newest first, with how many actions each decided."""
    db = open_database(load_settings())
    with db.session() as session:
        principal = acting_user(session, author, writes=False)
        found, _ = meetings.list_meetings(
            session=session, principal=principal, start=start, end=end, limit=limit, client="cli"
        )
    print_records(found, MEETING_COLUMNS, fmt)


@meetings_app.command("add")
@handle_errors
def add_meeting(
    title: str = typer.Argument(..., help="The meeting's title."),
    held_on: str = typer.Option(..., "--on", help="The day it was held, e.g. 2026-12-07."),
    place: str | None = typer.Option(None, help="Where."),
    notes: str | None = typer.Option(None, help="Minutes (free text: personal roles only)."),
    author: str | None = AS_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Record a coordination meeting (add its actions with: timpora actions add --meeting ID)."""
    db = open_database(load_settings())
    with db.session() as session:
        checked = values.parse_meeting_in(
            session, held_on=held_on, title=title, place=place, notes=notes
        )
        principal = acting_user(session, author)
        created = meetings.create_meeting(
            session=session, principal=principal, meeting=checked, client="cli"
        )
    print_records([created], MEETING_COLUMNS, fmt)
    if fmt is OutputFormat.table:
        console.print(f"meeting {created['id']} recorded (as {principal.name})")
