"""Agencies in the database: seeded, checked, readable by the aggregate role, never without a
user's agency."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.agencies import chair_agency
from geo.users import authenticate, create_user


def test_every_user_has_an_agency(session: Session) -> None:
    user, token = create_user(session=session, name="Kodim Uji", role="planner", agency="kodim")
    principal = authenticate(session=session, token=token)
    assert principal is not None and principal.agency == "KODIM"
    assert principal.agency_id == user.agency_id
    assert chair_agency(session=session).short_name == "IMIGRASI"
    with pytest.raises(DBAPIError, match="agency_id"):
        session.execute(
            text("UPDATE app_user SET agency_id = NULL WHERE id = :id"), {"id": user.id}
        )


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param(
            "INSERT INTO agency (name, short_name, kind) VALUES ('A', 'A', 'navy')", id="kind"
        ),
        pytest.param(
            "INSERT INTO agency (name, short_name, kind) VALUES ('A', 'a b', 'other')",
            id="short-name",
        ),
        pytest.param(
            "INSERT INTO agency (name, short_name, kind) "
            "VALUES ('Kepolisian Resor Sambas', 'P2', 'police')",
            id="name-unique",
        ),
    ],
)
def test_agency_checks(connection: Connection, sql: str) -> None:
    with pytest.raises(DBAPIError), connection.begin_nested():
        connection.execute(text(sql))


def test_aggregate_role_reads_agencies_not_users(connection: Connection) -> None:
    connection.execute(text("SET LOCAL ROLE timpora_aggregate"))
    names = connection.execute(text("SELECT short_name FROM agency")).scalars().all()
    assert "POLRES" in names
    with pytest.raises(DBAPIError, match="permission denied"), connection.begin_nested():
        connection.execute(text("SELECT agency_id FROM app_user"))
