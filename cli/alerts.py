"""``timpora alerts``: evaluate the rules in batch, list alerts, deliver pending webhooks."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    console,
    handle_errors,
    load_settings,
    open_database,
    print_records,
)
from geo.alerts import run_batch
from geo.alerts.delivery import DeliveryOptions, deliver_pending
from geo.alerts.service import list_alerts, parse_alert_filters
from geo.times import parse_time
from geo.users import Principal

app = typer.Typer(
    help="Proximity alerts: batch evaluation, listing, webhooks.", no_args_is_help=True
)

CLI_PRINCIPAL = Principal(name="cli", role="viewer")  # the listing shows no personal data


@app.command("run")
@handle_errors
def run(
    since: str | None = typer.Option(
        None, "--since", help="Only records at or after this time (ISO 8601, WIB by default)."
    ),
) -> None:
    """Evaluate every enabled rule set-based over the data; prints new alerts per rule."""
    start = parse_time(since, field="--since")
    db = open_database(load_settings())
    t0 = dt.datetime.now(dt.UTC)
    with db.session() as session:
        counts = run_batch(session=session, since=start)
    elapsed = (dt.datetime.now(dt.UTC) - t0).total_seconds()
    table = Table("rule", "new alerts")
    for rule, n in counts.items():
        table.add_row(rule, str(n))
    console.print(table)
    console.print(f"{sum(counts.values())} new alerts in {elapsed:.2f} s")


def _minute(iso: str | None) -> str:
    """A WIB ISO time as the table shows it (the service already gives alert times in WIB)."""
    return (iso or "")[:16].replace("T", " ")


def _metres(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


ALERT_COLUMNS = (
    Column("id", "id"),
    Column("rule", "rule"),
    Column("severity", "sev"),
    Column("status", "status"),
    Column("event_at", "event (WIB)", _minute),
    Column("distance_m", "distance m", _metres),
    Column("kecamatan", "kecamatan"),
    Column("desa", "desa"),
    Column("created_at", "raised (WIB)", _minute),
)


@app.command("list")
@handle_errors
def list_(
    status: str | None = typer.Option(None, help="new, acknowledged or resolved."),
    rule: str | None = typer.Option(None, help="Only this rule."),
    limit: int = typer.Option(50, help="At most this many (newest first)."),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """List alerts (newest first), without personal data; times in WIB."""
    db = open_database(load_settings())
    with db.session() as session:
        features = list_alerts(
            session=session,
            principal=CLI_PRINCIPAL,
            filters=parse_alert_filters(status=status, rule=rule, limit=limit),
        )
    print_records([f["properties"] for f in features], ALERT_COLUMNS, fmt)


@app.command("deliver")
@handle_errors
def deliver(
    rounds: int = typer.Option(1, help="Claim rounds (each sends up to 50 due deliveries)."),
) -> None:
    """Send the due webhook deliveries once (the server's worker does this continuously)."""
    settings = load_settings()
    db = open_database(settings)
    options = DeliveryOptions(allow_private=settings.service.webhook_allow_private)
    delivered = failed = 0
    for _ in range(max(rounds, 1)):
        report = deliver_pending(db.engine, options)
        delivered += report.delivered
        failed += report.failed
        if report.delivered + report.failed == 0:
            break
    console.print(f"delivered {delivered}, failed {failed} (failed ones are retried later)")
