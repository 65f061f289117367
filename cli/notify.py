"""``timpora notify``: notification subscriptions, test messages, the digest and the outbox."""

from __future__ import annotations

import sys

import typer

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    console,
    fail,
    handle_errors,
    load_settings,
    open_database,
    print_records,
)
from geo.audit import record
from geo.notify import queue_link, subscriptions
from geo.notify.outbox import deliver_pending, enqueue_digests, send_test
from geo.users import operator_principal

MAX_ROUNDS = 100

app = typer.Typer(
    help="Notifications (e-mail, Telegram, ... via Apprise): subscriptions, digest, delivery.",
    no_args_is_help=True,
)


@app.command("add")
@handle_errors
def add(
    target: str = typer.Argument(
        ...,
        help="Apprise URL (mailto://, tgram://, ...) or an e-mail address; '-' reads it from "
        "standard input (keeps a secret out of the shell history).",
    ),
    user: str | None = typer.Option(None, "--user", help="The user it belongs to."),
    office: str | None = typer.Option(None, "--office", help="Or the office (shared channel)."),
    role: str | None = typer.Option(
        None, "--role", help="An office's view: what its messages may show (default viewer)."
    ),
    lang: str = typer.Option("id", "--lang", help="id or en."),
    min_severity: int | None = typer.Option(
        4, "--min-severity", help="Immediate messages for new episodes of at least this severity."
    ),
    no_immediate: bool = typer.Option(False, "--no-immediate", help="No immediate messages."),
    digest: bool = typer.Option(True, "--digest/--no-digest", help="The daily digest."),
    kecamatan: list[str] | None = typer.Option(
        None, "--kecamatan", help="Kemendagri code; repeat for more (default: the whole regency)."
    ),
    label: str | None = typer.Option(None, "--label", help="A note shown in the list."),
) -> None:
    """Add a subscription (as an administrator); the channel is shown masked from now on."""
    if (user is None) == (office is None):
        fail("give exactly one of --user NAME or --office NAME")
    if target == "-":
        target = sys.stdin.readline().strip()
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        created = subscriptions.add_subscription(
            session=session,
            principal=operator_principal(),
            new=subscriptions.NewSubscription(
                target=target,
                owner_kind="user" if user is not None else "office",
                owner=user if user is not None else office,
                role=role,
                label=label,
                lang=lang,
                min_severity=None if no_immediate else min_severity,
                digest=digest,
                kecamatan_codes=kecamatan or None,
            ),
            settings=settings.notify,
            client="cli",
        )
    console.print(
        f"subscription {created['id']}: {created['owner_kind']} {created['owner']!r} → "
        f"{created['target']}",
        highlight=False,
    )


LIST_COLUMNS = (
    Column("id", "id"),
    Column("owner_kind", "owner"),
    Column("owner", ""),
    Column("role", "role", lambda v: v or "(user's)"),
    Column("target", "channel"),
    Column("lang", "lang"),
    Column("min_severity", "immediate", lambda v: f"≥ {v}" if v is not None else "—"),
    Column("digest", "digest", lambda v: "yes" if v else "no"),
    Column("kecamatan", "kecamatan", lambda v: ", ".join(v) if v else "all"),
    Column("label", "label"),
    Column("last_digest_at", "last digest (WIB)", lambda v: (v or "")[:16].replace("T", " ")),
)


@app.command("list")
@handle_errors
def list_(
    owner: str | None = typer.Option(None, "--owner", help="Only this user's or office's."),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """List subscriptions (channels masked)."""
    db = open_database(load_settings())
    with db.session() as session:
        found = subscriptions.list_subscriptions(
            session=session, principal=operator_principal(), owner=owner
        )
    print_records(found, LIST_COLUMNS, fmt)


@app.command("remove")
@handle_errors
def remove(subscription_id: int = typer.Argument(..., help="Subscription id.")) -> None:
    """Remove a subscription and its pending messages."""
    db = open_database(load_settings())
    with db.session() as session:
        subscriptions.remove_subscription(
            session=session,
            principal=operator_principal(),
            subscription_id=subscription_id,
            client="cli",
        )
    console.print(f"removed subscription {subscription_id}")


@app.command("test")
@handle_errors
def test(subscription_id: int = typer.Argument(..., help="Subscription id.")) -> None:
    """Send a test message now and say whether the channel accepted it."""
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        subscriptions.get_subscription(
            session=session, principal=operator_principal(), subscription_id=subscription_id
        )
        error = send_test(session, subscription_id=subscription_id, settings=settings.notify)
    if error is not None:
        fail(f"subscription {subscription_id}: not delivered: {error}")
    console.print(f"subscription {subscription_id}: test message delivered")


@app.command("digest")
@handle_errors
def digest(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print each digest instead of sending it (nothing is written)."
    ),
) -> None:
    """Send the daily digest to every digest subscription now (or preview it)."""
    settings = load_settings()
    db = open_database(settings)
    link = queue_link(settings)
    with db.session() as session:
        done = enqueue_digests(session, link=link, dry_run=dry_run)
        if dry_run:
            session.rollback()
    for d in done:
        who = f"{d.owner_kind}:{d.owner} (subscription {d.subscription_id}, role {d.role or '—'})"
        if d.message is None:
            console.print(f"{who}: skipped, not an active user", highlight=False)
        elif dry_run:
            console.rule(who)
            print(d.message.title)
            print()
            print(d.message.body)
    if dry_run:
        named = sum(d.message.persons_named for d in done if d.message is not None)
        if named:  # names went to this terminal (docs/privacy.md)
            with db.session() as session:
                record(
                    session=session,
                    principal=operator_principal(),
                    action="read",
                    resource="notifications/digest",
                    record_count=named,
                    client="cli",
                    details={"dry_run": True},
                )
        return
    queued = sum(1 for d in done if d.message is not None)
    delivered = failed = 0
    for _ in range(MAX_ROUNDS):
        report = deliver_pending(db.engine, settings.notify, link=link)
        delivered += report.delivered
        failed += report.failed
        if report.delivered + report.failed == 0:
            break
    console.print(
        f"{queued} digests queued; delivered {delivered}, failed {failed} (failed ones are "
        "retried by the service)"
    )


@app.command("deliver")
@handle_errors
def deliver(
    rounds: int = typer.Option(
        1, min=1, max=MAX_ROUNDS, help="Claim rounds (each sends up to 50 due messages)."
    ),
) -> None:
    """Send the due messages once (the server's worker does this continuously)."""
    settings = load_settings()
    db = open_database(settings)
    delivered = failed = 0
    for _ in range(rounds):
        report = deliver_pending(db.engine, settings.notify, link=queue_link(settings))
        delivered += report.delivered
        failed += report.failed
        if report.delivered + report.failed == 0:
            break
    console.print(f"delivered {delivered}, failed {failed} (failed ones are retried later)")
