"""Alerts under real commits: concurrent writers, batch == on write, signed webhook delivery."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.alerts import evaluate_for, lapse_quiet
from geo.alerts.delivery import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WITHHELD,
    DeliveryOptions,
    deliver_pending,
    verify,
)
from geo.alerts.evaluation import run_batch_detailed
from geo.alerts.service import create_webhook
from geo.db import Database
from tests.geo.alert_synth import (
    T0,
    add_foreigner,
    add_incident,
    add_sighting,
    add_workplace,
    add_zone,
    offset,
    point_at_border_distance,
)

INLAND = (109.30, 1.35)
WRITERS = 8


def _run_threads(target: Any, n: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrap(k: int) -> None:
        try:
            target(k)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_eight_concurrent_writers_create_no_duplicate_alert(committed: Engine) -> None:
    with Session(committed) as s:
        fid = add_foreigner(s)
        near = point_at_border_distance(s, 1500)
        wid = add_workplace(s, *INLAND)
        iid = add_incident(s, *offset(s, *INLAND, 200, 0))
        s.commit()
    barrier = threading.Barrier(WRITERS)

    def sighting_writer(k: int) -> None:
        with Session(committed) as s:
            barrier.wait(10)
            sid = add_sighting(s, *near, T0 + dt.timedelta(seconds=k), fid)
            evaluate_for(session=s, layer="sightings", ids=[sid])
            s.commit()

    def incident_evaluator(k: int) -> None:  # the same write evaluated by 8 paths at once
        with Session(committed) as s:
            barrier.wait(10)
            evaluate_for(session=s, layer="incidents", ids=[iid])
            s.commit()

    assert _run_threads(sighting_writer, WRITERS) == []
    barrier.reset()
    assert _run_threads(incident_evaluator, WRITERS) == []
    with committed.connect() as c:
        rows = c.execute(
            text("SELECT rule_kind, count(*) FROM alert GROUP BY rule_kind ORDER BY 1")
        ).all()
        sightings = c.execute(text("SELECT count(*) FROM sighting")).scalar_one()
    assert sightings == WRITERS
    assert dict(rows) == {"incident_near_workplace": 1, "sighting_near_border": 1}
    assert wid  # the workplace the incident is near


def _generate(session: Session, seed: int, evaluate: bool, today: dt.date) -> None:
    """A synthetic data set written in time order, evaluated on write when ``evaluate``."""
    rng = random.Random(seed)
    add_zone(session, *offset(session, *INLAND, 3000, 3000), 1500, kind="watch", name="Zona A")
    centre = INLAND
    wps = []
    for k in range(15):
        p = offset(session, *centre, rng.uniform(-8000, 8000), rng.uniform(-8000, 8000))
        wid = add_workplace(session, *p, name=f"PT Contoh {k}")
        wps.append((wid, p))
        if evaluate:
            evaluate_for(session=session, layer="workplaces", ids=[wid])
    people = []
    for k in range(25):
        permit = rng.choice(["KITAS", "KITAS", "PLB", "VOA", "KITAP"])
        expires = today + dt.timedelta(days=rng.randint(-20, 45))
        fid = add_foreigner(
            session,
            name=f"Orang {k}",
            permit_type=permit,
            permit_expires_on=expires,
            sponsor_workplace_id=rng.choice(wps)[0] if permit == "KITAS" else None,
        )
        people.append(fid)
        if evaluate:
            evaluate_for(session=session, layer="foreigners", ids=[fid], today=today)
    border_points = [point_at_border_distance(session, d) for d in (800, 1900, 2100, 2400, 5000)]
    events: list[tuple[dt.datetime, str, Any]] = []
    for k in range(250):
        at = T0 - dt.timedelta(days=20) + dt.timedelta(minutes=rng.randint(0, 40 * 24 * 60))
        fid = rng.choice([*people, None])
        if rng.random() < 0.4:
            p = rng.choice(border_points)
        else:
            wp = rng.choice(wps)[1]
            p = offset(session, *wp, rng.uniform(-40_000, 40_000), rng.uniform(-3000, 3000))
        events.append((at, "s", (p, fid)))
    for k in range(40):
        at = T0 - dt.timedelta(days=20) + dt.timedelta(minutes=rng.randint(0, 40 * 24 * 60))
        wp = rng.choice(wps)[1]
        p = offset(session, *wp, rng.uniform(-900, 900), rng.uniform(-900, 900))
        events.append((at, "i", p))
    events.sort(key=lambda e: e[0])
    for at, kind, data in events:
        if kind == "s":
            (lon, lat), fid = data
            sid = add_sighting(session, lon, lat, at, fid)
            if evaluate:
                evaluate_for(session=session, layer="sightings", ids=[sid])
        else:
            iid = add_incident(session, *data, at)
            if evaluate:
                evaluate_for(session=session, layer="incidents", ids=[iid])


SNAPSHOT_SQL = text(
    """
    SELECT rule_kind, dedup_key, episode_key, status, closed_reason, incident_id, sighting_id,
           foreigner_id, workplace_id, zone_id, round(distance_m::numeric, 3), event_at,
           subjects, first_seen_at, last_seen_at, occurrences,
           round(worst_distance_m::numeric, 3), last_sighting_id
    FROM alert ORDER BY dedup_key
    """
)


def test_batch_gives_the_same_episodes_as_on_write(session: Session) -> None:
    today = dt.date(2025, 3, 1)
    now = dt.datetime(2025, 3, 22, tzinfo=dt.UTC)  # after the last record: some are quiet
    _generate(session, seed=7, evaluate=True, today=today)
    lapsed = lapse_quiet(session=session, now=now)
    on_write = [tuple(r) for r in session.execute(SNAPSHOT_SQL)]
    rules_hit = {r[0] for r in on_write}
    # The data set exercises (almost) the whole catalogue, or the comparison proves little.
    assert len(rules_hit) >= 6, rules_hit
    # ...and episodes: merged triggers, episodes closed by a later one and by the sweep.
    assert max(r[15] for r in on_write) > 3
    assert {r[4] for r in on_write} >= {"quiet", None}
    assert lapsed
    session.execute(text("DELETE FROM alert"))
    result = run_batch_detailed(session=session, today=today, now=now)
    batch = [tuple(r) for r in session.execute(SNAPSHOT_SQL)]
    assert sum(result.opened.values()) + sum(result.closed.values()) == len(batch)
    assert batch == on_write


class _Receiver(BaseHTTPRequestHandler):
    fail_first = 2
    calls: list[tuple[int, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        n = len(self.calls)
        code = 500 if n < self.fail_first else 200
        self.calls.append((code, dict(self.headers.items()), body))
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_failing_twice_gets_the_alert_once_signed(
    committed: Engine, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    secret = "s3cret-for-the-test-receiver"
    try:
        with Session(committed) as s:
            # The receiver is on loopback: allowed here as an administrator's setting would.
            create_webhook(session=s, principal=None, url=url, secret=secret, allow_private=True)
            add_workplace(s, *INLAND)
            iid = add_incident(s, *offset(s, *INLAND, 100, 0))
            (alert_id,) = evaluate_for(session=s, layer="incidents", ids=[iid]).opened
            s.commit()
        # The outbox row was written with the alert, in its transaction.
        options = DeliveryOptions(backoff_base_s=0.05, timeout_s=2, allow_private=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            deliver_pending(committed, options)  # a fresh claim each round, as after a restart
            with committed.connect() as c:
                status = c.execute(
                    text("SELECT status, attempts FROM alert_outbox WHERE alert_id = :a"),
                    {"a": alert_id},
                ).one()
            if status.status != "pending":
                break
            time.sleep(0.05)
        assert tuple(status) == ("delivered", 3)
        codes = [c[0] for c in handler.calls]
        assert codes == [500, 500, 200]
        accepted = [c for c in handler.calls if c[0] == 200]
        assert len(accepted) == 1
        _, headers, body = accepted[0]
        assert verify(secret, body, headers[SIGNATURE_HEADER])
        assert not verify("another-secret-of-16+", body, headers[SIGNATURE_HEADER])
        assert headers[DELIVERY_HEADER]
        doc = json.loads(body)
        assert doc["event"] == "alert"
        assert doc["alert"]["properties"]["id"] == alert_id
        # Receivers are outside the service: a payload carries no subject ids (docs/privacy.md).
        assert "subjects" not in doc["alert"]["properties"]
        assert "subject_names" not in doc["alert"]["properties"]
        # Nothing more to send.
        assert deliver_pending(committed, options).delivered == 0
    finally:
        with committed.begin() as c:
            c.execute(text("DELETE FROM webhook"))


def test_an_alert_about_a_restricted_record_is_withheld_from_webhooks(
    committed: Engine, database: Database, receiver: tuple[str, type[_Receiver]]
) -> None:
    """Delivery runs as the service without an agency (docs/privacy.md): an alert about an
    incident Polres keeps to itself is never sent, and its outbox row is closed, not retried;
    the alert about a whole-Timpora incident in the same claim goes out."""
    url, handler = receiver
    handler.fail_first = 0
    try:
        with Session(committed) as s:
            create_webhook(
                session=s,
                principal=None,
                url=url,
                secret="s3cret-for-the-test-receiver",
                allow_private=True,
            )
            add_workplace(s, *INLAND)
            shared = add_incident(s, *offset(s, *INLAND, 100, 0))
            # Another workplace, 11 km away: an episode of its own.
            add_workplace(s, INLAND[0] + 0.1, INLAND[1])
            lon, lat = offset(s, INLAND[0] + 0.1, INLAND[1], 0, 120)
            kept = s.execute(
                text(
                    "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id, sharing) "
                    "SELECT 'illegal_work', 3, :at, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), "
                    "id, 'agency' FROM agency WHERE short_name = 'POLRES' RETURNING id"
                ),
                {"at": T0, "lon": lon, "lat": lat},
            ).scalar_one()
            opened = {
                iid: evaluate_for(session=s, layer="incidents", ids=[iid]).opened
                for iid in (shared, kept)
            }
            s.commit()
        options = DeliveryOptions(timeout_s=2, allow_private=True)
        report = deliver_pending(database.engine, options)
        assert all(opened.values()), opened
        assert (report.delivered, report.withheld, report.failed) == (1, 1, 0)
        assert report.claimed == 2
        sent = [json.loads(body)["alert"]["properties"]["id"] for _, _, body in handler.calls]
        assert sent == opened[shared]
        with committed.connect() as c:
            rows = dict(
                c.execute(
                    text(
                        "SELECT alert_id, status || ' ' || coalesce(last_error, '') "
                        "FROM alert_outbox"
                    )
                ).all()
            )
        assert rows == {
            opened[shared][0]: "delivered ",
            opened[kept][0]: f"failed {WITHHELD}",
        }
        assert deliver_pending(database.engine, options).claimed == 0
    finally:
        with committed.begin() as c:
            c.execute(text("DELETE FROM webhook"))


def test_only_a_newly_opened_episode_is_queued_for_delivery(session: Session) -> None:
    create_webhook(
        session=session,
        principal=None,
        url="http://127.0.0.1:9/timpora",  # never called: the test reads the outbox
        secret="s3cret-for-the-outbox-test",
        allow_private=True,
    )
    fid = add_foreigner(session)
    near = point_at_border_distance(session, 1500)
    queued = text("SELECT alert_id FROM alert_outbox ORDER BY id")
    s1 = add_sighting(session, *near, T0, fid)
    (opened,) = evaluate_for(session=session, layer="sightings", ids=[s1]).opened
    assert list(session.execute(queued).scalars()) == [opened]
    for k in range(1, 4):  # more of the same episode: updated, not delivered again
        sid = add_sighting(session, *near, T0 + dt.timedelta(hours=k), fid)
        assert evaluate_for(session=session, layer="sightings", ids=[sid]).updated == [opened]
    assert list(session.execute(queued).scalars()) == [opened]
    # A past episode a batch finds already over is inserted as lapsed, not delivered.
    g = add_foreigner(session, name="Another Person")
    for days in (0, 30):
        add_sighting(session, *near, T0 - dt.timedelta(days=60 - days), g)
    result = run_batch_detailed(session=session, rules=("sighting_near_border",), lapse=False)
    assert result.opened == {"sighting_near_border": 1}
    assert result.closed == {"sighting_near_border": 1}
    assert len(list(session.execute(queued).scalars())) == 2


def test_a_batch_over_history_inserts_episodes_already_quiet_as_lapsed(session: Session) -> None:
    """An episode the batch opens that is quiet as of the run is written lapsed (not opened,
    not delivered): the row on-write evaluation and the quiet sweep leave. One that is not
    quiet, or whose key has an older episode open again (reopened), is left to the sweep."""
    create_webhook(
        session=session,
        principal=None,
        url="http://127.0.0.1:9/timpora",  # never called: the test reads the outbox
        secret="s3cret-for-the-outbox-test",
        allow_private=True,
    )
    now = T0 + dt.timedelta(days=30)
    near = point_at_border_distance(session, 1500)
    old, recent, again = (add_foreigner(session, name=n) for n in ("Old", "Recent", "Again"))
    # A resolved episode reopened (open again, though not the key's latest episode): the batch's
    # episode of that key merges into it, as a write's would.
    first = add_sighting(session, *near, T0 - dt.timedelta(days=40), again)
    (reopened,) = evaluate_for(session=session, layer="sightings", ids=[first]).opened
    session.execute(text("UPDATE alert SET status = 'resolved' WHERE id = :i"), {"i": reopened})
    second = add_sighting(session, *near, T0 - dt.timedelta(days=20), again)
    evaluate_for(session=session, layer="sightings", ids=[second])
    lapse_quiet(session=session, now=T0 - dt.timedelta(days=1))
    session.execute(text("UPDATE alert SET status = 'acknowledged' WHERE id = :i"), {"i": reopened})
    # The history the batch reads: one episode of Old, quiet for 28 days as of now; one of
    # Recent, within the rule's 7 days; one more trigger of Again, quiet since T0 + 5 h.
    since = T0 - dt.timedelta(hours=1)
    for k in range(3):
        add_sighting(session, *near, T0 + k * dt.timedelta(days=1), old)
    add_sighting(session, *near, now - dt.timedelta(days=2), recent)
    add_sighting(session, *near, T0 + dt.timedelta(hours=5), again)
    session.execute(text("DELETE FROM alert_outbox"))
    rows = text(
        "SELECT foreigner_id, status, closed_reason, occurrences FROM alert "
        "WHERE id = :r OR first_seen_at >= :s ORDER BY foreigner_id"
    )
    queued = text("SELECT a.foreigner_id FROM alert_outbox o JOIN alert a ON a.id = o.alert_id")

    savepoint = session.begin_nested()
    result = run_batch_detailed(
        session=session, since=since, now=now, rules=("sighting_near_border",)
    )
    assert result.opened == {"sighting_near_border": 1}  # Recent's
    assert result.closed == {"sighting_near_border": 1}  # Old's, inserted lapsed
    assert result.updated == {"sighting_near_border": 1}  # the reopened episode...
    assert result.lapsed == 1  # ...which the sweep closes
    assert [tuple(r) for r in session.execute(rows, {"r": reopened, "s": since})] == [
        (old, "lapsed", "quiet", 3),
        (recent, "new", None, 1),
        (again, "lapsed", "quiet", 2),
    ]
    assert list(session.execute(queued).scalars()) == [recent]  # only the news is delivered
    batch = [tuple(r) for r in session.execute(SNAPSHOT_SQL)]
    savepoint.rollback()

    # The same records evaluated on write, in time order, then the sweep: the same rows.
    later = session.execute(
        text("SELECT id FROM sighting WHERE observed_at >= :s ORDER BY observed_at, id"),
        {"s": since},
    ).scalars()
    for sid in list(later):
        evaluate_for(session=session, layer="sightings", ids=[sid])
    lapse_quiet(session=session, now=now, kinds=("sighting_near_border",))
    assert [tuple(r) for r in session.execute(SNAPSHOT_SQL)] == batch
