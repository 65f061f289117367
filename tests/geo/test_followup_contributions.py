"""The contributions function reads the records' own agency where incidents, sightings and alert
notes carry one (``agency_id``, added by a later migration); before that, the agency of the user
who wrote them (the audit log, the alert notes' author). This test runs either way: on a schema
without the columns it checks the audit-log attribution, then adds them (in its transaction)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.followup.contributions import contributions
from geo.users import Principal, create_user
from tests.api.queue_seed import add_alert

VIEWER = Principal(name="viewer", role="viewer")
RECORD_COLUMNS_SQL = text(
    "SELECT count(*) = 3 FROM pg_attribute WHERE attrelid IN "
    "('incident'::regclass, 'sighting'::regclass, 'alert_note'::regclass) "
    "AND attname = 'agency_id' AND NOT attisdropped"
)


def _counts(session: Session) -> dict[str, dict[str, int]]:
    body = contributions(session=session, principal=VIEWER)
    return {a["agency"]: a for a in body["agencies"]}


def _agency(session: Session, short_name: str) -> int:
    found = session.execute(
        text("SELECT id FROM agency WHERE short_name = :s"), {"s": short_name}
    ).scalar_one()
    return int(found)


def test_reports_and_alert_work_are_attributed_to_an_agency(session: Session) -> None:
    create_user(session=session, name="kontrib-polres", role="analyst", agency="POLRES")
    session.flush()
    alert = add_alert(session, "kontrib", last=dt.datetime.now(dt.UTC))
    session.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom) VALUES "
            "('smuggling', 3, now(), ST_SetSRID(ST_MakePoint(109.30, 1.35), 4326))"
        )
    )
    session.execute(
        text(
            "INSERT INTO alert_note (alert_id, author, action, body) "
            "VALUES (:a, 'kontrib-polres', 'note', 'x')"
        ),
        {"a": alert},
    )

    if not session.execute(RECORD_COLUMNS_SQL).scalar_one():
        # Records without an agency: the writes of the agency's users, as audited.
        before = _counts(session)["POLRES"]
        session.execute(
            text(
                "INSERT INTO audit_log (user_name, role, action, resource, record_count) VALUES "
                "('kontrib-polres', 'analyst', 'create', 'incidents/999999', 1), "
                "('kontrib-polres', 'analyst', 'import', 'sightings', 40), "
                "('kontrib-polres', 'analyst', 'update', 'incidents/999999', 1)"
            )
        )
        after = _counts(session)["POLRES"]
        assert after["reports"] == before["reports"] + 41  # created and imported, not updated
        assert after["alerts_handled"] >= 1  # the note's author is a POLRES user
        for table in ("incident", "sighting", "alert_note"):
            session.execute(text(f"ALTER TABLE {table} ADD COLUMN agency_id integer"))

    # The records' own agency (it never changes once written, a trigger holds that): a report
    # and a note recorded by Polres count for Polres.
    polres = _agency(session, "POLRES")
    before = _counts(session)["POLRES"]
    session.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id) VALUES "
            "('smuggling', 3, now(), ST_SetSRID(ST_MakePoint(109.30, 1.35), 4326), :a)"
        ),
        {"a": polres},
    )
    session.execute(
        text(
            "INSERT INTO alert_note (alert_id, author, action, body, agency_id) "
            "VALUES (:n, 'kontrib-polres', 'note', 'y', :a)"
        ),
        {"n": alert, "a": polres},
    )
    after = _counts(session)["POLRES"]
    assert after["reports"] == before["reports"] + 1
    assert after["alerts_handled"] == before["alerts_handled"] + 1
