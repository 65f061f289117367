"""``timpora agencies``: the Timpora's member agencies (list, add, edit; never deleted)."""

from __future__ import annotations

import typer

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    handle_errors,
    load_settings,
    open_database,
    print_records,
    say,
)
from geo import audit
from geo.agencies import AgencyChange, agency_view, create_agency, list_agencies, update_agency
from geo.models import AGENCY_KINDS
from geo.users import operator_principal

app = typer.Typer(help="Manage the member agencies of the Timpora.", no_args_is_help=True)

COLUMNS = (
    Column("short_name", "short name"),
    Column("name", "name"),
    Column("kind", "kind"),
    Column("personal_data", "personal data"),
    Column("active", "active"),
)


@app.command("list")
@handle_errors
def list_(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """List the agencies: short name, name, kind, whether they see personal data, active."""
    db = open_database(load_settings())
    with db.session() as session:
        records = [agency_view(a) for a in list_agencies(session=session)]
    print_records(records, COLUMNS, fmt)


@app.command("add")
@handle_errors
def add(
    short_name: str = typer.Argument(..., help="Short name, e.g. POLRES (unique, upper case)."),
    name: str = typer.Option(..., "--name", help="Full name (unique)."),
    kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(AGENCY_KINDS)}."),
    personal_data: bool = typer.Option(
        False, "--personal-data/--no-personal-data", help="Its function needs personal data."
    ),
) -> None:
    """Add a member agency (audited)."""
    db = open_database(load_settings())
    with db.session() as session:
        agency = create_agency(
            session=session,
            name=name,
            short_name=short_name,
            kind=kind,
            personal_data=personal_data,
        )
        view = agency_view(agency)
        audit.record(
            session=session,
            principal=operator_principal(),
            action="create",
            resource=f"agencies/{agency.short_name}",
            record_count=1,
            client="cli",
            details={k: v for k, v in view.items() if k != "id"},
        )
    say(f"added agency {view['short_name']} ({view['name']})")


@app.command("edit")
@handle_errors
def edit(
    short_name: str = typer.Argument(..., help="The agency's short name."),
    name: str | None = typer.Option(None, "--name", help="New full name."),
    new_short_name: str | None = typer.Option(None, "--short-name", help="New short name."),
    kind: str | None = typer.Option(None, "--kind", help=f"One of: {', '.join(AGENCY_KINDS)}."),
    personal_data: bool | None = typer.Option(
        None, "--personal-data/--no-personal-data", help="Its function needs personal data."
    ),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="--inactive retires the agency (never deleted)."
    ),
) -> None:
    """Edit an agency (audited); --inactive retires it once it has no active user."""
    change = AgencyChange(
        name=name,
        short_name=new_short_name,
        kind=kind,
        personal_data=personal_data,
        active=active,
    )
    db = open_database(load_settings())
    with db.session() as session:
        agency, changed = update_agency(session=session, short_name=short_name, change=change)
        if changed:
            audit.record(
                session=session,
                principal=operator_principal(),
                action="update",
                resource=f"agencies/{agency.short_name}",
                record_count=1,
                client="cli",
                details={"changed": changed},
            )
        label = agency.short_name
    if changed:
        say(f"{label}: " + ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in changed.items()))
    else:
        say(f"{label}: nothing to change")
