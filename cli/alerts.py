"""``timpora alerts``: evaluate the rules in batch, the triage queue and its actions (assign,
note, ack, resolve with a reason, reopen; on several ids at once), deliver pending webhooks."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from sqlalchemy.orm import Session

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
)
from geo.alerts import queue, triage
from geo.alerts.delivery import DeliveryOptions, deliver_pending
from geo.alerts.evaluation import run_batch_detailed
from geo.times import parse_time
from geo.users import Principal, find_principal

app = typer.Typer(
    help="Proximity alerts: batch evaluation, the triage queue and its actions, webhooks.",
    no_args_is_help=True,
)

CLI_PRINCIPAL = Principal(name="cli", role="viewer")  # the listing shows no personal data


@app.command("run")
@handle_errors
def run(
    since: str | None = typer.Option(
        None, "--since", help="Only records at or after this time (ISO 8601, WIB by default)."
    ),
) -> None:
    """Evaluate every enabled rule set-based over the data; prints episodes per rule.

    Repeated triggers of a rule for one subject update its open episode; episodes quiet for
    longer than the rule's window are closed as lapsed (docs/alerts.md)."""
    start = parse_time(since, field="--since")
    db = open_database(load_settings())
    t0 = dt.datetime.now(dt.UTC)
    with db.session() as session:
        result = run_batch_detailed(session=session, since=start)
    elapsed = (dt.datetime.now(dt.UTC) - t0).total_seconds()
    table = Table("rule", "opened", "updated", "closed")
    for rule, n in result.opened.items():
        table.add_row(rule, str(n), str(result.updated[rule]), str(result.closed[rule]))
    console.print(table)
    console.print(
        f"{sum(result.opened.values())} new episodes, {result.lapsed} lapsed (quiet) "
        f"in {elapsed:.2f} s"
    )


def _minute(iso: str | None) -> str:
    """A WIB ISO time as the table shows it (the service already gives alert times in WIB)."""
    return (iso or "")[:16].replace("T", " ")


QUEUE_COLUMNS = (
    Column("id", "id"),
    Column("rule", "rule"),
    Column("severity", "sev"),
    Column("status", "status"),
    Column("first_seen_at", "first seen (WIB)", _minute),
    Column("last_seen_at", "last seen (WIB)", _minute),
    Column("occurrences", "times"),
    Column("kecamatan", "kecamatan"),
    Column("desa", "desa"),
    Column("assigned_to", "assigned to"),
)


def _principal(session: Session, author: str | None) -> Principal:
    return find_principal(session=session, name=author) if author else CLI_PRINCIPAL


@app.command("list")
@handle_errors
def list_(
    status: list[str] = typer.Option(
        [], help="open (default: new and acknowledged), new, acknowledged, resolved, lapsed."
    ),
    rule: list[str] = typer.Option([], help="Only this rule (repeatable)."),
    severity: list[str] = typer.Option([], help="Only this severity, 1-5 (repeatable)."),
    kecamatan: list[str] = typer.Option([], help="Kemendagri code or name (repeatable)."),
    start: str | None = typer.Option(None, help="Episodes last seen at or after (WIB)."),
    end: str | None = typer.Option(None, help="Episodes first seen before (WIB)."),
    assignee: list[str] = typer.Option(
        [], help="Assigned to this user, or 'none' (repeatable; needs --as)."
    ),
    limit: int = typer.Option(50, help="At most this many (the queue's first ones)."),
    author: str | None = typer.Option(
        None, "--as", help="List as this registered user (shows assignees); else no personal data."
    ),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """The triage queue: open episodes by priority (severity, day last seen, repeats), with
    totals by rule, severity and status (docs/alerts.md); times in WIB."""
    query = queue.parse_queue_filters(
        rule=rule,
        severity=severity,
        status=status,
        kecamatan=kecamatan,
        start=start,
        end=end,
        assignee=assignee,
        limit=limit,
    )
    db = open_database(load_settings())
    with db.session() as session:
        page = queue.read_queue(session=session, principal=_principal(session, author), query=query)
    print_records([f["properties"] for f in page.features], QUEUE_COLUMNS, fmt)
    if fmt is OutputFormat.table:
        console.print(f"{len(page.features)} of {page.total} in the queue")
        for facet in ("severity", "status", "rule"):
            counts = ", ".join(f"{k} {n}" for k, n in sorted(page.totals[facet].items()))
            console.print(f"  by {facet}: {counts or '-'}")


def _act(action: str, ids: list[int], author: str | None, **arguments: str | None) -> None:
    checked = triage.parse_action(action, ids, **arguments)
    db = open_database(load_settings())
    with db.session() as session:
        principal = acting_user(session, author)
        changed = triage.act(session=session, principal=principal, action=checked, client="cli")
    console.print(
        f"{triage.VERBS[action]} {len(changed)} alert(s): {', '.join(map(str, changed))} "
        f"(as {principal.name})"
    )


IDS = typer.Argument(..., help=f"Alert ids (at most {triage.MAX_SELECTION}; all or none change).")
AS = typer.Option(None, "--as", help="Act as this registered user; else the operator.")
NOTE = typer.Option(None, "--note", help="A note kept with the alert (personal data).")


@app.command("assign")
@handle_errors
def assign(
    ids: list[int] = IDS,
    to: str = typer.Option(..., "--to", help="The user (an admin, analyst or coordinator)."),
    note: str | None = NOTE,
    author: str | None = AS,
) -> None:
    """Assign alerts to a user."""
    _act("assign", ids, author, user=to, note=note)


@app.command("unassign")
@handle_errors
def unassign(ids: list[int] = IDS, note: str | None = NOTE, author: str | None = AS) -> None:
    """Take the assignee off alerts."""
    _act("unassign", ids, author, note=note)


@app.command("note")
@handle_errors
def note_(
    ids: list[int] = IDS,
    text: str = typer.Option(..., "--text", help="The note (personal data)."),
    author: str | None = AS,
) -> None:
    """Add a note to alerts."""
    _act("note", ids, author, note=text)


@app.command("ack")
@handle_errors
def ack(ids: list[int] = IDS, note: str | None = NOTE, author: str | None = AS) -> None:
    """Acknowledge new alerts."""
    _act("acknowledge", ids, author, note=note)


@app.command("resolve")
@handle_errors
def resolve(
    ids: list[int] = IDS,
    reason: str = typer.Option(..., "--reason", help=", ".join(triage.RESOLVE_REASONS)),
    note: str | None = NOTE,
    author: str | None = AS,
) -> None:
    """Resolve open alerts with a reason."""
    _act("resolve", ids, author, reason=reason, note=note)


@app.command("reopen")
@handle_errors
def reopen(ids: list[int] = IDS, note: str | None = NOTE, author: str | None = AS) -> None:
    """Reopen resolved or lapsed alerts (as acknowledged)."""
    _act("reopen", ids, author, note=note)


@app.command("deliver")
@handle_errors
def deliver(
    rounds: int = typer.Option(1, help="Claim rounds (each sends up to 50 due deliveries)."),
) -> None:
    """Send the due webhook deliveries once (the server's worker does this continuously)."""
    settings = load_settings()
    db = open_database(settings)
    options = DeliveryOptions(allow_private=settings.service.webhook_allow_private)
    delivered = failed = withheld = 0
    for _ in range(max(rounds, 1)):
        report = deliver_pending(db.engine, options)
        delivered += report.delivered
        failed += report.failed
        withheld += report.withheld
        if report.claimed == 0:
            break
    console.print(
        f"delivered {delivered}, failed {failed} (failed ones are retried later), "
        f"withheld {withheld} (about records not shared with the whole Timpora)"
    )
