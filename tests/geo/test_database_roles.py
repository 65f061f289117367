"""PostgreSQL itself holds the privacy boundary (docs/privacy.md, "Enforced by PostgreSQL").

The service's login is no superuser and owns nothing; under ``timpora_aggregate`` (planners,
viewers) personal columns, links to persons and alerts about persons are refused or invisible;
``audit_log`` only grows, whatever role the service runs under.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session

from geo import access
from geo.db import Database
from geo.roles import (
    AGGREGATE_ROLE,
    LEAKPROOF_FUNCTION,
    PERSONAL_ROLE,
    SERVICE_LOGIN,
    enter_service_scope,
    leave_service_scope,
    login_problem,
    scram_verifier,
    use_agency,
    use_role,
)


def refused(conn: Connection, sql: str, **params: object) -> str:
    """Run ``sql`` in a savepoint and return PostgreSQL's refusal (the test fails without one)."""
    savepoint = conn.begin_nested()
    try:
        conn.execute(text(sql), params)
    except ProgrammingError as exc:
        savepoint.rollback()
        return str(exc.orig)
    savepoint.rollback()
    pytest.fail(f"PostgreSQL ran {sql!r}")


@pytest.fixture
def as_aggregate(connection: Connection) -> Iterator[Connection]:
    connection.execute(text(f"SET LOCAL ROLE {AGGREGATE_ROLE}"))
    yield connection


def test_aggregate_role_cannot_read_a_name(as_aggregate: Connection) -> None:
    message = refused(as_aggregate, "SELECT full_name FROM foreigner")
    assert "permission denied for table foreigner" in message


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT passport_number FROM foreigner", id="passport"),
        pytest.param("SELECT geom FROM foreigner", id="home-point"),
        pytest.param("SELECT id FROM foreigner", id="person-id"),
        pytest.param("SELECT sponsor_workplace_id FROM foreigner", id="sponsor"),
        pytest.param("SELECT foreigner_id FROM sighting", id="sighting-person"),
        pytest.param("SELECT note FROM sighting", id="sighting-note"),
        pytest.param("SELECT description FROM incident", id="incident-text"),
        pytest.param("SELECT foreigner_id FROM incident_foreigner", id="incident-persons"),
        pytest.param("SELECT details FROM alert", id="alert-details"),
        pytest.param("SELECT response FROM idempotency_key", id="stored-responses"),
        pytest.param("SELECT token_hash FROM app_user", id="tokens"),
        pytest.param("SELECT secret FROM webhook", id="webhook-secrets"),
        pytest.param("SELECT * FROM foreigner", id="star"),
    ],
)
def test_aggregate_role_is_refused_personal_columns(as_aggregate: Connection, sql: str) -> None:
    assert "permission denied" in refused(as_aggregate, sql)


def test_aggregate_role_has_no_column_the_policy_calls_personal(connection: Connection) -> None:
    for table, columns in access.PERSONAL_COLUMNS.items():
        for column in columns:
            granted = connection.execute(
                text("SELECT has_column_privilege(:role, :table, :column, 'SELECT')"),
                {"role": AGGREGATE_ROLE, "table": table, "column": column},
            ).scalar_one()
            assert not granted, f"{AGGREGATE_ROLE} may read {table}.{column}"


@pytest.mark.parametrize("role", [AGGREGATE_ROLE, PERSONAL_ROLE])
@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("UPDATE audit_log SET action = 'rewritten'", id="update"),
        pytest.param("DELETE FROM audit_log", id="delete"),
        pytest.param("TRUNCATE audit_log", id="truncate"),
    ],
)
def test_audit_log_is_append_only(connection: Connection, role: str, sql: str) -> None:
    connection.execute(text(f"SET LOCAL ROLE {role}"))
    connection.execute(
        text(
            "INSERT INTO audit_log (user_name, role, action, resource) VALUES ('t', 'viewer', 'read', 'x')"
        )
    )
    assert "permission denied for table audit_log" in refused(connection, sql)


def test_the_service_login_is_restricted(database: Database) -> None:
    """The app's own connection: not a superuser, owns nothing, cannot rewrite the audit log."""
    assert login_problem(database.engine) is None
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT session_user")).scalar_one() == SERVICE_LOGIN
        # Its sessions start as timpora_personal (the service's own work: delivery, the stream).
        assert conn.execute(text("SELECT current_user")).scalar_one() == PERSONAL_ROLE
        assert "permission denied" in refused(conn, "UPDATE audit_log SET action = 'x'")
        assert "permission denied" in refused(conn, "DELETE FROM audit_log")
        assert "must be owner" in refused(conn, "ALTER TABLE foreigner ADD COLUMN x int")
        assert "permission denied" in refused(conn, "CREATE TABLE public.intruder (x int)")
        # NOINHERIT: as itself, the login holds nothing.
        conn.execute(text(f"SET ROLE {SERVICE_LOGIN}"))
        assert "permission denied" in refused(conn, "SELECT count(*) FROM workplace")


def test_owner_login_is_reported(engine: Engine) -> None:
    problem = login_problem(engine)
    assert problem is not None and "superuser" in problem


def test_aggregate_counts_still_run(session: Session) -> None:
    """The map aggregates read only the columns the aggregate role keeps."""
    use_role(session, AGGREGATE_ROLE)
    assert session.execute(text("SELECT current_user")).scalar_one() == AGGREGATE_ROLE
    session.execute(
        text(
            "SELECT kecamatan_code, count(*) FROM sighting "
            "WHERE observed_at >= now() - interval '30 days' GROUP BY 1"
        )
    ).all()
    session.execute(text("SELECT kecamatan_code, count(*) FROM foreigner GROUP BY 1")).all()
    session.execute(text("SELECT sum(n) FROM sighting_grid")).all()
    # A new transaction of the same session is still under the role.
    session.commit()
    assert session.execute(text("SELECT current_user")).scalar_one() == AGGREGATE_ROLE


def _person_and_place_alerts(conn: Connection) -> tuple[int, int, int]:
    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    fid = conn.execute(
        text(
            "INSERT INTO foreigner (full_name, nationality, permit_type) "
            "VALUES ('Canary Person', 'MYS', 'KITAS') RETURNING id"
        )
    ).scalar_one()
    wid = conn.execute(
        text(
            "INSERT INTO workplace (name, sector, geom) "
            "VALUES ('Kebun Uji', 'plantation', ST_SetSRID(ST_MakePoint(109.3, 1.36), 4326)) "
            "RETURNING id"
        )
    ).scalar_one()
    ids = []
    for key, foreigner in (("person", fid), ("place", None)):
        ids.append(
            conn.execute(
                text(
                    "INSERT INTO alert (rule_id, rule_kind, severity, dedup_key, foreigner_id, "
                    "workplace_id, geom, event_at) SELECT r.id, r.kind, 3, :key, :fid, :wid, "
                    "ST_SetSRID(ST_MakePoint(109.3, 1.36), 4326), :at FROM alert_rule r "
                    "WHERE r.kind = 'far_from_sponsor' RETURNING id"
                ),
                {"key": f"test-{key}", "fid": foreigner, "wid": wid, "at": now},
            ).scalar_one()
        )
    return fid, ids[0], ids[1]


def test_aggregate_role_sees_no_alert_about_a_person(connection: Connection) -> None:
    _fid, person_alert, place_alert = _person_and_place_alerts(connection)
    connection.execute(text(f"SET LOCAL ROLE {AGGREGATE_ROLE}"))
    seen = set(connection.execute(text("SELECT id FROM alert")).scalars())
    assert place_alert in seen
    assert person_alert not in seen
    connection.execute(text(f"SET LOCAL ROLE {PERSONAL_ROLE}"))
    assert {person_alert, place_alert} <= set(
        connection.execute(text("SELECT id FROM alert")).scalars()
    )


def test_workplace_worker_counts_below_three_are_left_out(connection: Connection) -> None:
    wids = []
    for name, workers in (("Dua", 2), ("Tiga", 3)):
        wid = connection.execute(
            text(
                "INSERT INTO workplace (name, sector, geom) VALUES (:n, 'plantation', "
                "ST_SetSRID(ST_MakePoint(109.3, 1.36), 4326)) RETURNING id"
            ),
            {"n": f"Kebun {name}"},
        ).scalar_one()
        wids.append(wid)
        for i in range(workers):
            connection.execute(
                text(
                    "INSERT INTO foreigner (full_name, nationality, permit_type, "
                    "sponsor_workplace_id) VALUES (:n, 'CHN', 'KITAS', :w)"
                ),
                {"n": f"Pekerja {name} {i}", "w": wid},
            )
    connection.execute(text(f"SET LOCAL ROLE {AGGREGATE_ROLE}"))
    counts = dict(
        connection.execute(
            text(
                "SELECT workplace_id, foreign_workers FROM workplace_workers WHERE workplace_id = ANY(:w)"
            ),
            {"w": wids},
        ).all()
    )
    assert counts == {wids[0]: None, wids[1]: 3}


def test_scram_verifier_is_what_postgresql_accepts(engine: Engine) -> None:
    """A login made from the verifier authenticates with the password (and only with it)."""
    from sqlalchemy import create_engine

    from geo.roles import provision_service_login

    url = engine.url.set(username="timpora_probe", password="probe-password-1234")
    provision_service_login(engine, url)
    probe = create_engine(url)
    wrong = create_engine(url.set(password="not-the-password"))
    try:
        with probe.connect() as conn:
            assert conn.execute(text("SELECT session_user")).scalar_one() == "timpora_probe"
        with pytest.raises(DBAPIError), wrong.connect():
            pass
    finally:
        probe.dispose()
        wrong.dispose()
        with engine.begin() as conn:
            database = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.execute(text(f'REVOKE CONNECT ON DATABASE "{database}" FROM timpora_probe'))
            conn.execute(text("DROP ROLE timpora_probe"))
    assert scram_verifier("x", salt=b"0" * 16).startswith("SCRAM-SHA-256$4096:")


def _set_agency(conn: Connection, short_name: str) -> int:
    agency_id = int(
        conn.execute(
            text("SELECT id FROM agency WHERE short_name = :s"), {"s": short_name}
        ).scalar_one()
    )
    conn.execute(text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": str(agency_id)})
    return agency_id


def test_aggregate_role_writes_an_incident_it_cannot_read_back(connection: Connection) -> None:
    """A writer without personal data (docs/privacy.md, "Member agencies"): the columns the
    registry writes, never a personal one read, the request's agency stamped."""
    polres = _set_agency(connection, "POLRES")
    connection.execute(text(f"SET LOCAL ROLE {AGGREGATE_ROLE}"))
    new_id = connection.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom, description, sharing) "
            "VALUES ('illegal_work', 3, now(), ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326), "
            "'tertulis', 'agency') RETURNING id"
        )
    ).scalar_one()
    connection.execute(
        text("UPDATE incident SET description = 'diubah', severity = 4 WHERE id = :id"),
        {"id": new_id},
    )
    assert "permission denied" in refused(connection, "SELECT description FROM incident")
    assert "permission denied" in refused(connection, "SELECT external_ref FROM incident")
    for sql in (
        "INSERT INTO incident (kind, severity, occurred_at, geom, external_ref) VALUES ('other', "
        "1, now(), ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326), 'x')",
        "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id) VALUES ('other', "
        "1, now(), ST_SetSRID(ST_MakePoint(109.3, 1.35), 4326), :polres)",
        "INSERT INTO incident_foreigner (incident_id, foreigner_id) VALUES (:id, 1)",
        "UPDATE incident SET agency_id = :polres WHERE id = :id",
        "INSERT INTO foreigner (full_name, nationality, permit_type) VALUES ('X', 'MYS', 'VOA')",
        "INSERT INTO zone (name, kind, geom) SELECT 'z', 'watch', geom FROM zone LIMIT 1",
        "UPDATE incident_grid SET n = n + 1",
    ):
        assert "permission denied" in refused(connection, sql, id=new_id, polres=polres), sql
    connection.execute(text("RESET ROLE"))
    row = connection.execute(
        text("SELECT agency_id, description, severity FROM incident WHERE id = :id"),
        {"id": new_id},
    ).one()
    assert tuple(row) == (polres, "diubah", 4)
    grid = connection.execute(text("SELECT count(*) FROM incident_grid WHERE level = 12")).scalar()
    assert grid == 0  # restricted to Polres: left out of the shared grid, by the owner's trigger
    connection.execute(
        text("UPDATE incident SET sharing = 'timpora' WHERE id = :id"), {"id": new_id}
    )
    grid = connection.execute(text("SELECT sum(n) FROM incident_grid WHERE level = 12")).scalar()
    assert grid == 2  # all-time and monthly rows


def test_aggregate_role_triages_alerts_not_about_a_person(connection: Connection) -> None:
    """The faces of an agency without personal data triage (docs/alerts.md, "Who may act"): the
    triage's columns of an alert it sees, a note it cannot read back, nothing about a person."""
    from geo.alerts.triage import LOCK_SQL, NOTE_SQL

    _fid, person_alert, place_alert = _person_and_place_alerts(connection)
    polres = _set_agency(connection, "POLRES")
    connection.execute(text(f"SET LOCAL ROLE {AGGREGATE_ROLE}"))
    locked = connection.execute(LOCK_SQL, {"ids": [person_alert, place_alert]}).all()
    assert [r.id for r in locked] == [place_alert]
    changed = connection.execute(
        text(
            "UPDATE alert SET status = 'acknowledged', acknowledged_by = 'p', ack_note = 'x' "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": [person_alert, place_alert]},
    )
    assert changed.rowcount == 1  # the alert about a person is not there to change
    connection.execute(
        NOTE_SQL, {"ids": [place_alert], "author": "p", "action": "note", "body": "rahasia"}
    )
    for sql in (
        "SELECT body FROM alert_note",
        "SELECT ack_note FROM alert",
        "UPDATE alert SET foreigner_id = NULL WHERE id = :place",
        "UPDATE alert SET rule_kind = 'incident_cluster' WHERE id = :place",
        "DELETE FROM alert WHERE id = :place",
    ):
        assert "permission denied" in refused(connection, sql, place=place_alert), sql
    assert "row-level security" in refused(
        connection,
        "INSERT INTO alert_note (alert_id, author, body) VALUES (:person, 'p', 'x')",
        person=person_alert,
    )
    connection.execute(text("RESET ROLE"))
    rows = connection.execute(
        text("SELECT id, status FROM alert WHERE id = ANY(:ids) ORDER BY id"),
        {"ids": [person_alert, place_alert]},
    ).all()
    assert dict(rows) == {person_alert: "new", place_alert: "acknowledged"}  # type: ignore[arg-type]
    notes = connection.execute(
        text("SELECT alert_id, agency_id, body FROM alert_note WHERE author = 'p'")
    ).all()
    assert [tuple(n) for n in notes] == [(place_alert, polres, "rahasia")]


def test_the_service_step_runs_as_the_service_and_switches_back(session: Session) -> None:
    from geo.roles import clear_role, enter_service_scope, service_step, use_role_and_agency

    polres = _set_agency(session.connection(), "POLRES")
    use_role_and_agency(session, AGGREGATE_ROLE, polres)
    scope = text("SELECT current_user, current_setting('timpora.agency_id', true)")
    with service_step(session):
        assert tuple(session.execute(scope).one()) == (PERSONAL_ROLE, str(polres))
        enter_service_scope(session)  # as the alert evaluation does, and leaves it again
        session.execute(text("SELECT count(full_name) FROM foreigner")).scalar()
        session.execute(
            text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": str(polres)}
        )
    assert tuple(session.execute(scope).one()) == (AGGREGATE_ROLE, str(polres))
    # A failed step inside a savepoint: its rollback puts the caller's role back.
    with pytest.raises(DBAPIError), session.begin_nested(), service_step(session):
        session.execute(text("SELECT 1 / 0"))
    assert tuple(session.execute(scope).one()) == (AGGREGATE_ROLE, str(polres))
    # A step that fails in Python: switched back at once.
    with pytest.raises(RuntimeError), service_step(session):
        raise RuntimeError("stop")
    assert tuple(session.execute(scope).one()) == (AGGREGATE_ROLE, str(polres))
    # A session under the personal role runs the step as it is, without a statement.
    use_role_and_agency(session, PERSONAL_ROLE, polres)
    with service_step(session):
        assert session.execute(scope).one()[0] == PERSONAL_ROLE
    clear_role(session)


def test_leaving_the_service_scope_keeps_the_error_that_failed_the_transaction(
    engine: Engine,
) -> None:
    """After a failed statement the restore runs nothing: the caller sees the real error, not
    "current transaction is aborted" from the restore (the alert evaluation's ``finally``)."""
    with Session(engine) as session:
        use_agency(session, 7)
        previous = enter_service_scope(session)
        assert previous == "7"
        assert session.execute(text("SELECT current_setting('timpora.agency_id')")).scalar() == (
            "service"
        )
        leave_service_scope(session, previous)
        assert session.execute(text("SELECT current_setting('timpora.agency_id')")).scalar() == "7"
        previous = enter_service_scope(session)
        with pytest.raises(DBAPIError, match="division by zero"):
            session.execute(text("SELECT 1 / 0"))
        leave_service_scope(session, previous)  # raises nothing
        session.rollback()
        assert session.execute(text("SELECT current_setting('timpora.agency_id')")).scalar() == "7"


@pytest.mark.parametrize("table", ["incident", "sighting"])
def test_spatial_filters_under_row_level_security_search_the_gist_index(
    connection: Connection, table: str
) -> None:
    """A policy runs before any condition whose function is not leakproof, which then cannot
    search an index: ``&&`` is marked LEAKPROOF after the migrations (geo/roles.py), so a box
    filter of the service's roles still reads the GiST index, not whole partitions."""
    assert connection.execute(
        text("SELECT proleakproof FROM pg_proc WHERE oid = CAST(:fn AS regprocedure)"),
        {"fn": LEAKPROOF_FUNCTION},
    ).scalar_one()
    _set_agency(connection, "POLRES")
    connection.execute(text(f"SET LOCAL ROLE {PERSONAL_ROLE}"))
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        connection.execute(
            text(
                f"EXPLAIN SELECT id FROM {table} "
                "WHERE geom && ST_MakeEnvelope(109.30, 1.35, 109.35, 1.40, 4326)"
            )
        ).scalars()
    )
    assert "Index Cond: (geom && " in plan, plan


def test_an_alert_is_seen_only_where_its_sighting_or_incident_is(connection: Connection) -> None:
    """Alerts about a sighting and an incident that Polres keeps to itself, and one about a
    whole-Timpora sighting: Polres sees all three; Kodim, with personal data too, and a request
    without an agency (the stream, webhooks) see only the last; the alert evaluation (service
    scope) sees every one."""
    polres = int(
        connection.execute(text("SELECT id FROM agency WHERE short_name = 'POLRES'")).scalar_one()
    )
    kodim = int(
        connection.execute(text("SELECT id FROM agency WHERE short_name = 'KODIM'")).scalar_one()
    )
    at = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)
    connection.execute(text("SET LOCAL timpora.defer_locate = 'on'"))
    sightings = {
        sharing: connection.execute(
            text(
                "INSERT INTO sighting (observed_at, source, geom, agency_id, sharing) "
                "VALUES (:at, 'patrol', ST_SetSRID(ST_MakePoint(109.3, 1.36), 4326), "
                ":agency, :sharing) RETURNING id"
            ),
            {"at": at, "agency": polres, "sharing": sharing},
        ).scalar_one()
        for sharing in ("agency", "timpora")
    }
    incident = connection.execute(
        text(
            "INSERT INTO incident (kind, severity, occurred_at, geom, agency_id, sharing) "
            "VALUES ('illegal_work', 3, :at, ST_SetSRID(ST_MakePoint(109.3, 1.36), 4326), "
            ":agency, 'agency') RETURNING id"
        ),
        {"at": at, "agency": polres},
    ).scalar_one()
    insert = text(
        "INSERT INTO alert (rule_id, rule_kind, severity, dedup_key, sighting_id, incident_id, "
        "geom, event_at) SELECT r.id, r.kind, 3, :key, :sid, :iid, "
        "ST_SetSRID(ST_MakePoint(109.3, 1.36), 4326), :at FROM alert_rule r "
        "WHERE r.kind = 'far_from_sponsor' RETURNING id"
    )
    alerts = {
        name: connection.execute(
            insert, {"key": f"test-sharing-{name}", "sid": sid, "iid": iid, "at": at}
        ).scalar_one()
        for name, sid, iid in (
            ("restricted sighting", sightings["agency"], None),
            ("restricted incident", None, incident),
            ("whole-Timpora sighting", sightings["timpora"], None),
        )
    }
    connection.execute(text(f"SET LOCAL ROLE {PERSONAL_ROLE}"))
    seen = {}
    for who, agency in (
        ("POLRES", str(polres)),
        ("KODIM", str(kodim)),
        ("no agency", ""),
        ("service", "service"),
    ):
        connection.execute(text("SELECT set_config('timpora.agency_id', :a, true)"), {"a": agency})
        ids = set(
            connection.execute(
                text("SELECT id FROM alert WHERE id = ANY(:ids)"), {"ids": list(alerts.values())}
            ).scalars()
        )
        seen[who] = {name for name, alert_id in alerts.items() if alert_id in ids}
    assert seen == {
        "POLRES": set(alerts),
        "KODIM": {"whole-Timpora sighting"},
        "no agency": {"whole-Timpora sighting"},
        "service": set(alerts),
    }
