"""The notification outbox: messages waiting for their channel, sent by the service's worker.

Rows come from two places. A trigger on ``alert`` (migrations 0018, 0020) queues one row per
newly opened episode of a recent event (under 48 hours) × subscription that wants it, in the
alert's own transaction: evaluating alerts only ever writes rows and never waits for a channel.
The digest (:func:`enqueue_digests`, daily at ``TIMPORA_NOTIFY_DIGEST_HOUR`` WIB, or
``timpora notify digest``) renders one row per subscription.

:func:`deliver_pending` claims due rows with ``FOR UPDATE SKIP LOCKED`` and a lease (it moves
``next_attempt_at`` past the send), commits, sends through Apprise **outside any transaction**,
then records each outcome: delivered, or retried after ``backoff_base_s × 2^attempts`` (at most
``backoff_max_s``) until ``max_attempts``, then ``failed``. A channel that is down costs its own
rows retries and nothing else. Alerts for one subscription due in one round go out as one
message. Delivery is at-least-once (a crash between send and record sends again).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo import access
from geo.alerts.queue import ORDER_BY as QUEUE_ORDER
from geo.audit import record
from geo.notify import channels, messages
from geo.notify.messages import AlertFacts, Message, Tally, TopItem
from geo.roles import AGGREGATE_ROLE, PERSONAL_ROLE, session_role, use_role
from geo.settings import NotifySettings
from geo.times import WIB
from geo.users import Principal

log = logging.getLogger("timpora.notify")

OPEN: Final = "('new', 'acknowledged')"
TOP_ITEMS: Final = 10

CLAIM_SQL: Final = text(
    """
    UPDATE notify_outbox o SET next_attempt_at = now() + :lease
    WHERE o.id IN (
        SELECT id FROM notify_outbox
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING o.id, o.subscription_id, o.kind, o.alert_id, o.title, o.body, o.attempts
    """
)
# A user's subscription gets the role the user acts with at the moment (the aggregate face in
# an agency without personal data, docs/privacy.md); an office's, the role it names.
SUBSCRIBERS_SQL: Final = text(
    """
    SELECT s.id, s.owner_kind, s.owner, s.target, s.lang, s.active, s.min_severity, s.digest,
           s.kecamatan_codes, s.last_digest_at,
           CASE WHEN s.owner_kind = 'office' THEN s.role
                WHEN u.revoked_at IS NULL THEN u.role END AS role,
           coalesce(ag.personal_data, true) AS agency_personal_data
    FROM notify_subscription s
    LEFT JOIN app_user u ON s.owner_kind = 'user' AND u.name = s.owner
    LEFT JOIN agency ag ON ag.id = u.agency_id
    WHERE s.id = ANY(:ids)
    """
)
DELIVERED_SQL: Final = text(
    """
    UPDATE notify_outbox SET status = 'delivered', delivered_at = now(),
                             attempts = attempts + 1, last_error = NULL
    WHERE id = ANY(:ids)
    """
)
FAILED_SQL: Final = text(
    """
    UPDATE notify_outbox
    SET attempts = attempts + 1, last_error = :error,
        status = CASE WHEN :final OR attempts + 1 >= :max_attempts THEN 'failed'
                      ELSE 'pending' END,
        next_attempt_at = now() + :delay
    WHERE id = ANY(:ids)
    """
)
ALERT_FACTS_SQL: Final = text(
    """
    SELECT a.id, a.rule_kind, a.severity, a.event_at, a.kecamatan_name, a.desa_name,
           (a.foreigner_id IS NOT NULL OR a.sighting_id IS NOT NULL) AS about_person,
           f.full_name, f.nationality, w.name AS workplace_name, z.name AS zone_name,
           a.distance_m
    FROM alert a
    LEFT JOIN foreigner f ON f.id = a.foreigner_id
    LEFT JOIN workplace w ON w.id = a.workplace_id
    LEFT JOIN zone z ON z.id = a.zone_id
    WHERE a.id = ANY(:ids)
    """
)
# New: opened since ``since``. A batch over history also writes past episodes that were over
# already (lapsed, last seen long before): history, not news.
NEW: Final = "a.created_at > :since AND (a.status <> 'lapsed' OR a.last_seen_at > :since)"
TALLY_SQL: Final = text(
    f"""
    SELECT a.rule_kind, a.severity,
           count(*) FILTER (WHERE a.status IN {OPEN}) AS open,
           count(*) FILTER (WHERE {NEW}) AS new,
           bool_or(a.foreigner_id IS NOT NULL OR a.sighting_id IS NOT NULL) AS about_persons
    FROM alert a
    WHERE (a.status IN {OPEN} OR ({NEW}))
      AND (CAST(:codes AS text[]) IS NULL OR a.kecamatan_code = ANY(CAST(:codes AS text[])))
    GROUP BY a.rule_kind, a.severity
    ORDER BY a.severity DESC, a.rule_kind
    """
)
# The top of the triage queue, in its order (docs/alerts.md, "Priority order").
TOP_SQL: Final = text(
    f"""
    SELECT a.rule_kind, a.severity, a.kecamatan_name, a.desa_name, f.full_name,
           w.name AS workplace_name, z.name AS zone_name, a.occurrences, a.first_seen_at,
           a.last_seen_at, a.worst_distance_m
    FROM alert a
    LEFT JOIN foreigner f ON f.id = a.foreigner_id
    LEFT JOIN workplace w ON w.id = a.workplace_id
    LEFT JOIN zone z ON z.id = a.zone_id
    WHERE a.status IN {OPEN}
      AND (CAST(:codes AS text[]) IS NULL OR a.kecamatan_code = ANY(CAST(:codes AS text[])))
    ORDER BY {QUEUE_ORDER}
    LIMIT :limit
    """
)
DIGEST_SUBSCRIBERS_SQL: Final = text(
    """
    SELECT s.id FROM notify_subscription s
    WHERE s.active AND s.digest
      AND (CAST(:slot AS timestamptz) IS NULL
           OR coalesce(s.last_digest_at, s.created_at) < :slot)
    ORDER BY s.id
    FOR UPDATE OF s SKIP LOCKED
    """
)
DIGEST_DONE_SQL: Final = text(
    "UPDATE notify_subscription SET last_digest_at = :now WHERE id = ANY(:ids)"
)
QUEUE_SQL: Final = text(
    """
    INSERT INTO notify_outbox (subscription_id, kind, title, body)
    VALUES (:subscription_id, :kind, :title, :body)
    RETURNING id
    """
)


@dataclass
class NotifyOptions:
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    max_attempts: int = 10
    batch: int = 50

    def delay(self, attempts_before: int) -> dt.timedelta:
        seconds = min(self.backoff_base_s * (2**attempts_before), self.backoff_max_s)
        return dt.timedelta(seconds=seconds)


@dataclass
class NotifyReport:
    delivered: int = 0  # outbox rows
    failed: int = 0
    messages: int = 0  # messages sent (alerts of one subscription go as one)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Subscriber:
    id: int
    owner_kind: str
    owner: str
    target: str
    lang: str
    active: bool
    role: str | None
    min_severity: int | None
    digest: bool
    kecamatan_codes: list[str] | None
    last_digest_at: dt.datetime | None

    @property
    def principal(self) -> Principal:
        name = self.owner if self.owner_kind == "user" else f"office:{self.owner}"
        return Principal(name=name[:100], role=self.role or "viewer")


def subscribers(session: Session, ids: Sequence[int]) -> dict[int, Subscriber]:
    rows = session.execute(SUBSCRIBERS_SQL, {"ids": list(ids)}).all()
    return {
        r.id: Subscriber(
            id=r.id,
            owner_kind=r.owner_kind,
            owner=r.owner,
            target=r.target,
            lang=r.lang,
            active=r.active,
            role=r.role and access.role_in_agency(r.role, r.agency_personal_data),
            min_severity=r.min_severity,
            digest=r.digest,
            kecamatan_codes=list(r.kecamatan_codes) if r.kecamatan_codes is not None else None,
            last_digest_at=r.last_digest_at,
        )
        for r in rows
    }


def alert_facts(session: Session, ids: Sequence[int]) -> dict[int, AlertFacts]:
    rows = session.execute(ALERT_FACTS_SQL, {"ids": list(ids)}).all()
    return {
        r.id: AlertFacts(
            id=r.id,
            rule=r.rule_kind,
            severity=r.severity,
            event_at=r.event_at,
            kecamatan=r.kecamatan_name,
            desa=r.desa_name,
            about_person=bool(r.about_person),
            subject_name=r.full_name,
            nationality=r.nationality,
            workplace_name=r.workplace_name,
            zone_name=r.zone_name,
            distance_m=r.distance_m,
        )
        for r in rows
    }


# --- the digest (a new subscription gets its first at the next scheduled hour) -------------


def digest_slot(now: dt.datetime, hour_wib: int | None) -> dt.datetime | None:
    """The latest scheduled digest time at or before ``now``, or None when none is scheduled."""
    if hour_wib is None:
        return None
    local = now.astimezone(WIB)
    slot = local.replace(hour=hour_wib, minute=0, second=0, microsecond=0)
    if slot > local:
        slot -= dt.timedelta(days=1)
    return slot.astimezone(dt.UTC)


def render_digest(
    session: Session, subscriber: Subscriber, *, now: dt.datetime, link: str
) -> Message:
    """One subscriber's digest as of ``now`` (new = opened since its last digest, or a day)."""
    since = subscriber.last_digest_at or now - dt.timedelta(days=1)
    role = subscriber.role or "viewer"
    codes = subscriber.kecamatan_codes
    tallies = [
        Tally(
            rule=r.rule_kind,
            severity=r.severity,
            open=int(r.open),
            new=int(r.new),
            about_persons=bool(r.about_persons),
        )
        for r in session.execute(TALLY_SQL, {"since": since, "codes": codes})
    ]
    top: list[TopItem] = []
    if access.sees_personal_data(role):  # a digest without personal data is counts only
        top = [
            TopItem(
                rule=r.rule_kind,
                severity=r.severity,
                kecamatan=r.kecamatan_name,
                desa=r.desa_name,
                subject_name=r.full_name,
                workplace_name=r.workplace_name,
                zone_name=r.zone_name,
                occurrences=r.occurrences,
                first_seen_at=r.first_seen_at,
                last_seen_at=r.last_seen_at,
                worst_distance_m=r.worst_distance_m,
            )
            for r in session.execute(TOP_SQL, {"codes": codes, "limit": TOP_ITEMS})
        ]
    return messages.digest(
        tallies=tallies,
        top=top,
        since=since,
        now=now,
        kecamatan_codes=codes,
        lang=subscriber.lang,
        role=role,
        link=link,
    )


@dataclass(frozen=True)
class DigestPreview:
    subscription_id: int
    owner_kind: str
    owner: str
    role: str | None
    message: Message | None  # None: the owner is no active user


def enqueue_digests(
    session: Session,
    *,
    link: str,
    now: dt.datetime | None = None,
    slot: dt.datetime | None = None,
    dry_run: bool = False,
) -> list[DigestPreview]:
    """Render the digest of each subscriber due (``slot`` None: every digest subscriber).

    Without ``dry_run`` each digest becomes an outbox row and the subscription's
    ``last_digest_at`` moves to ``now``, in the caller's transaction; the rows are locked with
    ``SKIP LOCKED``, so two service processes never send one digest twice.
    """
    now = now or dt.datetime.now(dt.UTC)
    ids = [r.id for r in session.execute(DIGEST_SUBSCRIBERS_SQL, {"slot": slot})]
    if not ids:
        return []
    found = subscribers(session, ids)
    out: list[DigestPreview] = []
    for sid in ids:
        sub = found[sid]
        message = render_digest(session, sub, now=now, link=link) if sub.role else None
        out.append(DigestPreview(sid, sub.owner_kind, sub.owner, sub.role, message))
        if message is not None and not dry_run:
            queued = session.execute(
                QUEUE_SQL,
                {
                    "subscription_id": sid,
                    "kind": "digest",
                    "title": message.title,
                    "body": message.body,
                },
            ).scalar_one()
            if message.persons_named:  # names will leave the service (docs/privacy.md)
                record(
                    session=session,
                    principal=sub.principal,
                    action="notify",
                    resource=f"notifications/subscriptions/{sid}",
                    record_count=message.persons_named,
                    client="notify",
                    details={"outbox_ids": [queued], "digest": True},
                )
    if not dry_run:
        session.execute(DIGEST_DONE_SQL, {"ids": ids, "now": now})
    return out


# --- sending ------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    ids: list[int]
    attempts: int
    error: str | None = None
    final: bool = False  # no point retrying (the subscription is off, its owner gone)
    message: Message | None = None
    subscriber: Subscriber | None = None
    alert_ids: list[int] = field(default_factory=list)


def _prepare(session: Session, rows: Sequence[Any], link: str) -> list[_Outcome]:
    """The messages of the claimed rows: the alerts of one subscription together."""
    subs = subscribers(session, sorted({r.subscription_id for r in rows}))
    facts = alert_facts(session, sorted({r.alert_id for r in rows if r.alert_id is not None}))
    alert_rows: dict[int, list[Any]] = defaultdict(list)
    out: list[_Outcome] = []
    for row in rows:
        if row.kind == "alert":
            alert_rows[row.subscription_id].append(row)
        else:
            out.append(
                _Outcome(
                    ids=[row.id],
                    attempts=row.attempts,
                    message=Message(title=row.title or "", body=row.body or ""),
                    subscriber=subs.get(row.subscription_id),
                )
            )
    for sid, group in alert_rows.items():
        sub = subs.get(sid)
        present = [facts[r.alert_id] for r in group if r.alert_id in facts]
        outcome = _Outcome(
            ids=[r.id for r in group],
            attempts=max(r.attempts for r in group),
            subscriber=sub,
            alert_ids=[f.id for f in present],
        )
        if sub is not None and sub.role is not None and present:
            outcome.message = messages.immediate(present, lang=sub.lang, role=sub.role, link=link)
        out.append(outcome)
    for outcome in out:
        sub = outcome.subscriber
        if sub is None or not sub.active:
            outcome.error, outcome.final = "the subscription is switched off", True
        elif sub.role is None:
            outcome.error, outcome.final = f"{sub.owner!r} is no active user", True
        elif outcome.message is None:
            outcome.error, outcome.final = "nothing left to send", True
    return out


def deliver_pending(
    engine: Engine,
    settings: NotifySettings,
    *,
    link: str,
    options: NotifyOptions | None = None,
) -> NotifyReport:
    """Send the due outbox rows once (one claim of up to ``options.batch`` rows)."""
    options = options or NotifyOptions()
    report = NotifyReport()
    lease = dt.timedelta(seconds=settings.notify_timeout_s * options.batch + 60)
    with Session(engine) as session, session.begin():
        rows = session.execute(CLAIM_SQL, {"limit": options.batch, "lease": lease}).all()
        if not rows:
            return report
        outcomes = _prepare(session, rows, link)
    for outcome in outcomes:  # no transaction open: a slow channel holds nothing
        if outcome.error is not None or outcome.message is None or outcome.subscriber is None:
            continue
        try:
            channels.send(
                target=outcome.subscriber.target,
                title=outcome.message.title,
                body=outcome.message.body,
                settings=settings,
            )
            report.messages += 1
        except channels.SendError as exc:
            outcome.error = str(exc)
    with Session(engine) as session, session.begin():
        for outcome in outcomes:
            if outcome.error is None:
                session.execute(DELIVERED_SQL, {"ids": outcome.ids})
                report.delivered += len(outcome.ids)
                _audit(session, outcome)
                continue
            session.execute(
                FAILED_SQL,
                {
                    "ids": outcome.ids,
                    "error": outcome.error[: channels.MAX_ERROR_CHARS],
                    "final": outcome.final,
                    "max_attempts": options.max_attempts,
                    "delay": options.delay(outcome.attempts),
                },
            )
            report.failed += len(outcome.ids)
            report.errors.append(outcome.error)
            log.info("notification %s failed: %s", outcome.ids, outcome.error)
    return report


def _audit(session: Session, outcome: _Outcome) -> None:
    """A message that named persons left the service: one audit row (docs/privacy.md)."""
    if outcome.message is None or outcome.subscriber is None:
        return
    if outcome.message.persons_named == 0:
        return
    record(
        session=session,
        principal=outcome.subscriber.principal,
        action="notify",
        resource=f"notifications/subscriptions/{outcome.subscriber.id}",
        record_count=outcome.message.persons_named,
        client="notify",
        details={"outbox_ids": outcome.ids, "alert_ids": outcome.alert_ids},
    )


def send_test(session: Session, *, subscription_id: int, settings: NotifySettings) -> str | None:
    """Send a test message to a subscription now; None when accepted, else the scrubbed error.

    The channel is read as the service's own work reads it (``timpora_personal``): a planner's
    or viewer's database role may add its own channel but never read one back (docs/privacy.md).
    """
    previous = session_role(session)
    # Only a request switched to the aggregate role needs to switch; the service's own sessions
    # and the owner's (the command line) read the table as they are.
    if previous == AGGREGATE_ROLE:
        use_role(session, PERSONAL_ROLE)
    try:
        found = subscribers(session, [subscription_id]).get(subscription_id)
    finally:
        if previous == AGGREGATE_ROLE:
            use_role(session, previous)
    if found is None:
        return "no such subscription"
    message = messages.test_message(
        lang=found.lang, min_severity=found.min_severity, digest_on=found.digest
    )
    try:
        channels.send(
            target=found.target, title=message.title, body=message.body, settings=settings
        )
    except channels.SendError as exc:
        return str(exc)
    return None


class NotifyWorker:
    """The service's background sender: due messages every ``poll_s``, the digest at its hour."""

    def __init__(
        self,
        engine: Engine,
        settings: NotifySettings,
        *,
        link: str,
        options: NotifyOptions | None = None,
        poll_s: float = 2.0,
        digest_check_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.link = link
        self.options = options or NotifyOptions()
        self.poll_s = poll_s
        self.digest_check_s = digest_check_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def digest_round(self, now: dt.datetime | None = None) -> int:
        """Queue the digests that are due at ``now``; how many were queued."""
        now = now or dt.datetime.now(dt.UTC)
        slot = digest_slot(now, self.settings.notify_digest_hour)
        if slot is None:
            return 0
        with Session(self.engine) as session, session.begin():
            done = enqueue_digests(session, link=self.link, now=now, slot=slot)
        return sum(1 for d in done if d.message is not None)

    def _run(self) -> None:
        next_digest_check = 0.0
        while not self._stop.is_set():
            busy = False
            try:
                if time.monotonic() >= next_digest_check:
                    next_digest_check = time.monotonic() + self.digest_check_s
                    self.digest_round()
                report = deliver_pending(
                    self.engine, self.settings, link=self.link, options=self.options
                )
                busy = report.delivered + report.failed >= self.options.batch
            except Exception:  # keep the worker alive; the rows stay pending
                log.exception("notification round failed")
            if not busy:
                self._stop.wait(self.poll_s)
