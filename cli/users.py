"""``timpora users``: accounts and bearer tokens."""

from __future__ import annotations

import typer

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
from geo import audit
from geo.models import ROLES
from geo.users import (
    create_user,
    list_users,
    move_user,
    operator_principal,
    revoke_user,
    rotate_token,
    user_agencies,
)

app = typer.Typer(help="Manage users and their bearer tokens.", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="User name (unique)."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
    agency: str | None = typer.Option(
        None,
        "--agency",
        help="Short name of the user's agency (timpora agencies list); "
        "default: the immigration office.",
    ),
) -> None:
    """Create a user; prints the new bearer token alone on the last line (shown only once)."""
    db = open_database(load_settings())
    with db.session() as session:
        user, token = create_user(session=session, name=name, role=role, agency=agency)
        short = user_agencies(session=session)[user.agency_id].short_name
    console.print(
        f"created user {user.name!r} with role {user.role} in {short}; token:", highlight=False
    )
    print(token)


@app.command("move")
@handle_errors
def move(
    name: str = typer.Argument(..., help="User to move."),
    agency: str = typer.Option(..., "--agency", help="Short name of the new agency."),
) -> None:
    """Move a user to another agency (audited); what they see follows from their next request."""
    db = open_database(load_settings())
    with db.session() as session:
        _, old, new = move_user(session=session, name=name, agency=agency)
        if old != new:
            audit.record(
                session=session,
                principal=operator_principal(),
                action="update",
                resource=f"users/{name}",
                record_count=1,
                client="cli",
                details={"agency": [old, new]},
            )
    console.print(f"{name!r}: {old} -> {new}", highlight=False)


USER_COLUMNS = (
    Column("name", "name"),
    Column("role", "role"),
    Column("agency", "agency"),
    Column("created_at", "created (WIB)"),
    Column("revoked_at", "revoked (WIB)"),
)


@app.command("list")
@handle_errors
def list_(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """List users, roles, when each was created and whether (when) revoked; times in WIB."""
    db = open_database(load_settings())
    with db.session() as session:
        agencies = user_agencies(session=session)
        records = [
            {
                "name": user.name,
                "role": user.role,
                "agency": agencies[user.agency_id].short_name,
                "created_at": user.created_at,
                "revoked_at": user.revoked_at,
            }
            for user in list_users(session=session)
        ]
    print_records(records, USER_COLUMNS, fmt)


@app.command("revoke")
@handle_errors
def revoke(name: str = typer.Argument(..., help="User to revoke.")) -> None:
    """Revoke a user's token; requests with it get 401 from now on."""
    db = open_database(load_settings())
    with db.session() as session:
        revoke_user(session=session, name=name)
    console.print(f"revoked {name!r}")


@app.command("rotate")
@handle_errors
def rotate(name: str = typer.Argument(..., help="User whose token is replaced.")) -> None:
    """Issue a new token for a user (the old one stops working); prints it on the last line."""
    db = open_database(load_settings())
    with db.session() as session:
        token = rotate_token(session=session, name=name)
    console.print(f"new token for {name!r}:", highlight=False)
    print(token)
