"""Notifications: e-mail through a real SMTP server (aiosmtpd), the digest per role, a down
channel retrying with backoff while alert evaluation goes on undisturbed."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.alerts import evaluate_for
from geo.metrics import domain_counts
from geo.notify import channels
from geo.notify.outbox import (
    NotifyOptions,
    NotifyWorker,
    deliver_pending,
    digest_slot,
    enqueue_digests,
)
from geo.notify.subscriptions import NewSubscription, add_subscription
from geo.settings import NotifySettings
from geo.users import Principal, create_user
from tests.geo.alert_synth import add_foreigner, add_incident, add_workplace, offset
from tests.mailserver import Mailbox, free_port, start_smtp, text_of

ADMIN = Principal(name="admin-test", role="admin")
LINK = "https://timpora.example.go.id/#alerts"
INLAND = (109.30, 1.35)
PERSON = "Farid Bin Contoh"  # invented
# Immediate messages are for recent events (migration 0020): the tests' events happen today.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=30)
SMTP_PASSWORD = "pw-Hunter2-never-shown"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    controller, box = start_smtp(free_port())
    try:
        yield box
    finally:
        controller.stop()


def smtp_settings(port: int, **extra: Any) -> NotifySettings:
    return NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="insecure",
        smtp_from="timpora@office.example",
        notify_timeout_s=extra.pop("notify_timeout_s", 10.0),
        **extra,
    )


RULE_SQL = text("SELECT id FROM alert_rule WHERE kind = :kind")


def open_episode(
    session: Session,
    rule: str,
    severity: int,
    *,
    key: str,
    foreigner_id: int | None = None,
    kecamatan: tuple[str, str] | None = ("61.01.09", "Sajingan Besar"),
    distance_m: float | None = 850.0,
    at: dt.datetime | None = None,
) -> int:
    """A newly opened episode, as the evaluation inserts one (a row per new episode)."""
    rule_id = session.execute(RULE_SQL, {"kind": rule}).scalar_one()
    return int(
        session.execute(
            text(
                """
                INSERT INTO alert (rule_id, rule_kind, severity, dedup_key, foreigner_id,
                                   subjects, distance_m, kecamatan_code, kecamatan_name,
                                   desa_name, event_at)
                VALUES (:rule_id, :rule, :severity, :key, :fid,
                        CAST(:subjects AS jsonb), :distance, :kc, :kn, 'Aruk', :at)
                RETURNING id
                """
            ),
            {
                "rule_id": rule_id,
                "rule": rule,
                "severity": severity,
                "key": key,
                "fid": foreigner_id,
                "subjects": f'{{"foreigner_id": {foreigner_id}}}' if foreigner_id else "{}",
                "distance": distance_m,
                "kc": kecamatan[0] if kecamatan else None,
                "kn": kecamatan[1] if kecamatan else None,
                "at": at or NOW - dt.timedelta(hours=1),
            },
        ).scalar_one()
    )


def subscribe(session: Session, settings: NotifySettings, **kwargs: Any) -> int:
    created = add_subscription(
        session=session, principal=ADMIN, new=NewSubscription(**kwargs), settings=settings
    )
    return int(created["id"])


def outbox(engine: Engine, subscription_id: int) -> list[Any]:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT id, kind, alert_id, status, attempts, last_error, "
                "extract(epoch FROM next_attempt_at - now())::float8 AS due_in_s "
                "FROM notify_outbox WHERE subscription_id = :s ORDER BY id"
            ),
            {"s": subscription_id},
        ).all()


def test_new_episode_is_mailed_once_per_role_and_the_digest_follows(
    committed: Engine, mailbox: Mailbox
) -> None:
    settings = smtp_settings(mailbox.port)
    with Session(committed) as s:
        create_user(session=s, name="ketua", role="coordinator")
        create_user(session=s, name="tamu", role="viewer")
        coordinator = subscribe(
            s, settings, target="ketua@office.example", owner="ketua", min_severity=4
        )
        viewer = subscribe(
            s, settings, target="mailto:tamu@office.example", owner="tamu", lang="en"
        )
        elsewhere = subscribe(
            s,
            settings,
            target="paloh@office.example",
            owner="Pos Paloh",
            owner_kind="office",
            role="coordinator",
            kecamatan_codes=["61.01.01"],
        )
        fid = add_foreigner(s, name=PERSON)
        alert_id = open_episode(s, "sighting_near_border", 4, key="nb:1", foreigner_id=fid)
        open_episode(s, "far_from_sponsor", 2, key="fs:1", foreigner_id=fid)  # below threshold
        s.commit()
    # Queued in the alert's transaction: one row per subscription it concerns, none below the
    # threshold or outside a subscription's kecamatan.
    assert [(r.kind, r.alert_id) for r in outbox(committed, coordinator)] == [("alert", alert_id)]
    assert [(r.kind, r.alert_id) for r in outbox(committed, viewer)] == [("alert", alert_id)]
    assert outbox(committed, elsewhere) == []

    report = deliver_pending(committed, settings, link=LINK)
    assert (report.delivered, report.failed) == (2, 0)
    mails = {m["To"]: m for m in mailbox.wait_for(2)}
    ketua = mails["ketua@office.example"]
    assert ketua["Subject"] == "[Timpora] Peringatan baru: WNA dekat batas negara (tingkat 4)"
    assert ketua["From"] == "timpora@office.example"
    body = text_of(ketua)
    assert f"Subjek: {PERSON} (MYS)" in body
    assert "Kec. Sajingan Besar, Desa Aruk" in body and "850 m" in body
    assert LINK in body
    tamu = mails["tamu@office.example"]
    assert tamu["Subject"] == "[Timpora] New alert: Sighting near the border (severity 4)"
    body = text_of(tamu)
    # A viewer learns the rule, when and where by kecamatan; not who, nor how far.
    assert PERSON not in body and "MYS" not in body and "850" not in body
    assert "Kec. Sajingan Besar" in body and LINK in body
    with committed.connect() as c:
        audited = c.execute(
            text("SELECT user_name, record_count FROM audit_log WHERE action = 'notify'")
        ).all()
    assert [tuple(a) for a in audited] == [("ketua", 1)]  # the message that named a person

    # A repeat trigger updates the open episode: no new message.
    with committed.begin() as c:
        c.execute(
            text("UPDATE alert SET occurrences = occurrences + 1 WHERE id = :a"), {"a": alert_id}
        )
    assert deliver_pending(committed, settings, link=LINK).delivered == 0
    assert len(outbox(committed, coordinator)) == 1

    # The digest: one per digest subscription, then mailed.
    with Session(committed) as s, s.begin():
        done = enqueue_digests(s, link=LINK)
    assert sorted(d.subscription_id for d in done) == sorted([coordinator, viewer, elsewhere])
    report = deliver_pending(committed, settings, link=LINK)
    assert report.delivered == 3
    digests = [
        m for m in mailbox.wait_for(5) if "Ringkasan" in m["Subject"] or "digest" in m["Subject"]
    ]
    by_to = {m["To"]: m for m in digests}
    assert by_to["ketua@office.example"]["Subject"].endswith("2 episode terbuka, 2 baru")
    assert PERSON in text_of(by_to["ketua@office.example"])
    assert PERSON not in text_of(by_to["tamu@office.example"])
    with committed.connect() as c:
        audited = c.execute(
            text(
                "SELECT user_name, record_count FROM audit_log "
                "WHERE action = 'notify' AND details ? 'digest'"
            )
        ).all()
    assert [tuple(a) for a in audited] == [("ketua", 2)]  # its top items name the subject twice
    # The office covers another kecamatan: nothing open there.
    assert by_to["paloh@office.example"]["Subject"].endswith("0 episode terbuka, 0 baru")
    # Done for the day: a second scheduled round in the same slot queues nothing.
    with Session(committed) as s, s.begin():
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        again = enqueue_digests(s, link=LINK, now=later, slot=digest_slot(later, 7))
    assert again == []


def test_digest_content_by_role(session: Session) -> None:
    settings = NotifySettings()
    create_user(session=session, name="dg-coord", role="coordinator")
    create_user(session=session, name="dg-view", role="viewer")
    coord = subscribe(session, settings, target="c@office.example", owner="dg-coord")
    view = subscribe(session, settings, target="v@office.example", owner="dg-view", lang="en")
    office = subscribe(
        session,
        settings,
        target="tgram://123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ/-100123",
        owner="Koordinator",
        owner_kind="office",
        role="planner",
    )
    fid = add_foreigner(session, name=PERSON)
    for k in range(2):  # two episodes about persons: a count below 3
        open_episode(session, "sighting_near_border", 4, key=f"p:{k}", foreigner_id=fid)
    for k in range(4):  # four about incidents: not personal
        open_episode(session, "incident_cluster", 4, key=f"c:{k}", distance_m=None)
    session.execute(text("UPDATE alert SET status = 'resolved' WHERE dedup_key = 'c:3'"))
    # A past episode a batch wrote as over already: neither open nor new.
    open_episode(
        session, "incident_cluster", 4, key="c:old", distance_m=None, at=NOW - dt.timedelta(days=40)
    )
    session.execute(text("UPDATE alert SET status = 'lapsed' WHERE dedup_key = 'c:old'"))
    done = {d.subscription_id: d.message for d in enqueue_digests(session, link=LINK, dry_run=True)}
    c, v, o = done[coord], done[view], done[office]
    assert c is not None and v is not None and o is not None
    assert c.title.endswith("5 episode terbuka, 6 baru")
    assert "WNA dekat batas negara (tingkat 4): 2" in c.body
    assert "Klaster kejadian (tingkat 4): 3" in c.body
    assert "Prioritas teratas:" in c.body and PERSON in c.body
    assert c.persons_named == 2
    # A viewer's and a planner's digest: counts only, person counts below 3 suppressed, and the
    # totals next to them no exact sum.
    for message in (v, o):
        assert PERSON not in message.body and "MYS" not in message.body
        assert message.persons_named == 0
    assert "Sighting near the border (severity 4): <3" in v.body
    assert "Incident cluster (severity 4): 3" in v.body
    assert "Total: ≥ 3" in v.body and "Top items" not in v.body
    assert v.title.endswith("≥ 3 open episodes, ≥ 4 new")
    assert LINK in v.body and LINK in c.body
    # Nothing written on a dry run.
    # The immediate messages of the six new episodes wait for the three channels (/metrics).
    assert domain_counts(connection=session.connection()).notifications_by_status == {"pending": 18}
    digests = text("SELECT count(*) FROM notify_outbox WHERE kind = 'digest'")
    assert session.execute(digests).scalar_one() == 0


def test_down_channel_retries_with_backoff_and_never_holds_evaluation(committed: Engine) -> None:
    port = free_port()  # nothing listens here yet
    settings = smtp_settings(port, smtp_user="timpora", smtp_password=SMTP_PASSWORD)
    options = NotifyOptions(backoff_base_s=0.3, backoff_max_s=5, max_attempts=10)
    with Session(committed) as s:
        create_user(session=s, name="ketua2", role="coordinator")
        sid = subscribe(s, settings, target="ketua2@office.example", owner="ketua2", min_severity=3)
        wid = add_workplace(s, *INLAND)
        s.commit()

    def new_alert(k: int) -> float:
        """Write an incident near a workplace of its own (a new episode each), evaluate it and
        commit; the seconds it took."""
        t0 = time.monotonic()
        with Session(committed) as s:
            site = offset(s, *INLAND, 3000 * k, 0)
            if k:
                add_workplace(s, *site)
            iid = add_incident(s, *offset(s, *site, 50, 0), NOW + dt.timedelta(minutes=k))
            assert evaluate_for(session=s, layer="incidents", ids=[iid]).opened
            s.commit()
        return time.monotonic() - t0

    new_alert(0)
    delays = []
    for attempt in range(1, 4):
        report = deliver_pending(committed, settings, link=LINK, options=options)
        assert (report.delivered, report.failed) == (0, 1)
        (row,) = outbox(committed, sid)
        assert (row.status, row.attempts) == ("pending", attempt)
        # The error says what went wrong, never the SMTP password.
        assert row.last_error and SMTP_PASSWORD not in row.last_error
        assert SMTP_PASSWORD not in report.errors[0]
        delays.append(row.due_in_s)
        # Not due yet: the next round leaves it alone.
        assert deliver_pending(committed, settings, link=LINK, options=options).failed == 0
        time.sleep(row.due_in_s + 0.05)
    # Exponential backoff: 0.3 s, 0.6 s, 1.2 s.
    assert delays[0] < delays[1] < delays[2]
    assert delays[2] == pytest.approx(1.2, abs=0.3)

    # A channel that accepts the connection and never answers: the worker waits on it, and
    # meanwhile new alerts are evaluated and committed as fast as ever.
    hang = socket.socket()
    hang.bind(("127.0.0.1", port))
    hang.listen(8)
    slow = smtp_settings(port, notify_timeout_s=4.0, notify_digest_hour=None)
    worker = NotifyWorker(committed, slow, link=LINK, options=options, poll_s=0.05)
    worker.start()
    try:
        time.sleep(0.5)  # the worker is inside the send now
        timings = [new_alert(k) for k in range(1, 6)]
    finally:
        worker.stop(timeout_s=15)
        hang.close()
    assert max(timings) < 2.0, timings  # the hanging channel holds its sender for 4 s
    with committed.connect() as c:
        queued = c.execute(text("SELECT count(*) FROM alert WHERE severity >= 3")).scalar_one()
    rows = outbox(committed, sid)
    assert len(rows) == queued >= 6  # every new alert queued its message in its transaction

    # The channel comes back: everything pending goes out, the alerts of one round as one mail.
    with committed.begin() as c:
        c.execute(text("UPDATE notify_outbox SET next_attempt_at = now()"))
    controller, box = start_smtp(port)
    try:
        report = deliver_pending(committed, smtp_settings(port), link=LINK, options=options)
        assert (report.delivered, report.messages) == (queued, 1)
        (mail,) = box.wait_for(1)
        assert mail["Subject"] == f"[Timpora] {queued} peringatan baru"
        assert text_of(mail).count("Kejadian dekat tempat kerja") == 6
    finally:
        controller.stop()
    assert {r.status for r in outbox(committed, sid)} == {"delivered"}
    assert wid


def test_a_failing_channel_gives_up_after_max_attempts(committed: Engine) -> None:
    settings = smtp_settings(free_port())
    options = NotifyOptions(backoff_base_s=0.0, max_attempts=2)
    with Session(committed) as s:
        sid = subscribe(
            s,
            settings,
            target="x@office.example",
            owner="Kantor",
            owner_kind="office",
            role="viewer",
        )
        open_episode(s, "incident_cluster", 5, key="gv:1", distance_m=None)
        s.commit()
    for _ in range(3):
        deliver_pending(committed, settings, link=LINK, options=options)
    (row,) = outbox(committed, sid)
    assert (row.status, row.attempts) == ("failed", 2)


@pytest.mark.parametrize(
    ("target", "masked", "hidden"),
    [
        pytest.param(
            "tgram://123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ/-100123",
            "tgram://",
            "AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ",
            id="telegram-bot-token",
        ),
        pytest.param(
            "mailtos://ops:S3cretMailPass@mail.office.example?to=ketua@office.example",
            "mailtos://",
            "S3cretMailPass",
            id="mail-password",
        ),
        pytest.param(
            "ketua.timpora@office.example", "ke***@office.example", "ketua.timpora", id="address"
        ),
    ],
)
def test_targets_are_masked(target: str, masked: str, hidden: str) -> None:
    checked = channels.check_target(target)
    assert checked.masked.startswith(masked)
    assert hidden not in checked.masked
    assert channels.scrub(
        f"error near {target}", channels.secrets_of(target, NotifySettings())
    ) == ("error near ***")


UPSERT_SQL = text(
    """
    INSERT INTO alert (rule_id, rule_kind, severity, status, dedup_key, episode_key, event_at)
    SELECT id, kind, 5, :status, :dedup, :key, now() - CAST(:age AS interval)
    FROM alert_rule WHERE kind = 'incident_cluster'
    ON CONFLICT (episode_key) WHERE status IN ('new', 'acknowledged') DO UPDATE
    SET occurrences = alert.occurrences + 1, last_seen_at = EXCLUDED.last_seen_at
    RETURNING id, xmax = 0 AS inserted
    """
)


def test_only_newly_opened_episodes_are_queued(session: Session) -> None:
    """Episodes are written with one upsert: a trigger that continues an open episode updates
    it (no message), one that opens an episode inserts it (a message); an episode written
    already closed (lapsed), or about an event more than 48 hours old, is history, not news."""
    sid = subscribe(
        session,
        NotifySettings(),
        target="k@office.example",
        owner="Pos",
        owner_kind="office",
        role="viewer",
        min_severity=5,
    )
    queued = text("SELECT alert_id FROM notify_outbox WHERE subscription_id = :s ORDER BY id")

    def upsert(status: str, dedup: str, key: str, age: str = "1 hour") -> Any:
        values = {"status": status, "dedup": dedup, "key": key, "age": age}
        return session.execute(UPSERT_SQL, values).one()

    first = upsert("new", "u:1", "u")
    again = upsert("new", "u:2", "u")
    assert first.inserted and not again.inserted and again.id == first.id
    assert upsert("lapsed", "v:1", "v").inserted
    # Old news (a batch over history, a late import): the digest tells it, not a message.
    assert upsert("new", "w:1", "w", age="3 days").inserted
    assert session.execute(queued, {"s": sid}).scalars().all() == [first.id]


def test_a_users_messages_follow_the_role_it_acts_with(session: Session) -> None:
    """An analyst of an agency without personal data is sent what it may read: the aggregate
    face of its role (docs/privacy.md, "Member agencies"), not the role it was given."""
    from geo.notify.outbox import subscribers

    settings = NotifySettings()
    create_user(session=session, name="polres-notif", role="analyst", agency="POLRES")
    create_user(session=session, name="imi-notif", role="analyst")
    polres = subscribe(session, settings, target="polres@office.example", owner="polres-notif")
    imigrasi = subscribe(session, settings, target="imi@office.example", owner="imi-notif")
    office = subscribe(
        session,
        settings,
        target="pos@office.example",
        owner="Pos Aruk",
        owner_kind="office",
        role="coordinator",
    )
    found = subscribers(session, [polres, imigrasi, office])
    assert {sid: sub.role for sid, sub in found.items()} == {
        polres: "recorder",
        imigrasi: "analyst",
        office: "coordinator",
    }
