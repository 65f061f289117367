"""``timpora alerts``: evaluate the rules in batch, list alerts, deliver pending webhooks."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from cli.common import console, handle_errors, load_settings, open_database
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


@app.command("list")
@handle_errors
def list_(
    status: str | None = typer.Option(None, help="new, acknowledged or resolved."),
    rule: str | None = typer.Option(None, help="Only this rule."),
    limit: int = typer.Option(50, help="At most this many (newest first)."),
) -> None:
    """List alerts (newest first), without personal data."""
    db = open_database(load_settings())
    with db.session() as session:
        features = list_alerts(
            session=session,
            principal=CLI_PRINCIPAL,
            filters=parse_alert_filters(status=status, rule=rule, limit=limit),
        )
    table = Table("id", "rule", "sev", "status", "event (WIB)", "distance m", "kecamatan", "desa")
    for f in features:
        p = f["properties"]
        table.add_row(
            str(p["id"]),
            p["rule"],
            str(p["severity"]),
            p["status"],
            (p["event_at"] or "")[:16].replace("T", " "),
            f"{p['distance_m']:.0f}" if p["distance_m"] is not None else "",
            p["kecamatan"] or "",
            p["desa"] or "",
        )
    console.print(table)


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
