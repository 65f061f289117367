"""The contributions function reads the records' own agency as soon as incidents, sightings and
alert notes carry one (a later migration adds ``agency_id`` to them); until then, the agency of
the user who wrote them. Both ways count the same records here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.followup.contributions import contributions
from geo.users import Principal, create_user
from tests.api.queue_seed import add_alert

VIEWER = Principal(name="viewer", role="viewer")


def _counts(session: Session) -> dict[str, dict[str, int]]:
    body = contributions(session=session, principal=VIEWER)
    return {a["agency"]: a for a in body["agencies"]}


def test_records_agency_is_read_once_the_columns_exist(session: Session) -> None:
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
            "INSERT INTO audit_log (user_name, role, action, resource, record_count) VALUES "
            "('kontrib-polres', 'analyst', 'create', 'incidents/999999', 1), "
            "('kontrib-polres', 'analyst', 'import', 'sightings', 40)"
        )
    )
    session.execute(
        text(
            "INSERT INTO alert_note (alert_id, author, action, body) VALUES (:a, :u, 'note', 'x')"
        ),
        {"a": alert, "u": "kontrib-polres"},
    )
    before = _counts(session)["POLRES"]
    assert before["reports"] >= 41 and before["alerts_handled"] >= 1

    # The records' own agency: the audit log no longer counts, the stored agency does.
    polres = session.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar()
    for table in ("incident", "sighting", "alert_note"):
        session.execute(text(f"ALTER TABLE {table} ADD COLUMN agency_id integer"))
    session.execute(
        text("UPDATE incident SET agency_id = :a WHERE kind = 'smuggling' AND created_at >= now()"),
        {"a": polres},
    )
    session.execute(
        text("UPDATE alert_note SET agency_id = :a WHERE author = 'kontrib-polres'"), {"a": polres}
    )
    after = _counts(session)["POLRES"]
    assert after["reports"] == before["reports"] - 41 + 1
    assert after["alerts_handled"] == before["alerts_handled"]
