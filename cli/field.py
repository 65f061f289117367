"""``timpora devices``: the patrol teams' phones; ``timpora tracks``: where the teams went."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import typer
from rich.table import Table
from sqlalchemy.orm import Session

from cli.common import console, handle_errors, load_settings, open_database
from geo.agencies import get_agency
from geo.field.devices import (
    DEVICE_KINDS,
    Device,
    audit_device,
    get_device,
    list_devices,
    move_device,
    register_device,
    revoke_device,
    rotate_device_token,
)
from geo.field.tracks import refusals, team_tracks, track_window
from geo.times import WIB
from geo.users import operator_principal


def _wib(moment: dt.datetime | None) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M") if moment else ""


app = typer.Typer(
    help="Register the patrol teams' phones (Traccar Client, the field form).",
    no_args_is_help=True,
)


def _audit(session: Session, action: str, device: Device) -> None:
    """The audit row the API writes for the same change, by the operator from "cli"."""
    audit_device(
        session=session, principal=operator_principal(), action=action, device=device, client="cli"
    )


@app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="Device name (unique), e.g. 'HP Tim A 1'."),
    team: str = typer.Option(..., "--team", help="The patrol team it belongs to."),
    kind: str = typer.Option("traccar", "--kind", help=f"One of: {', '.join(DEVICE_KINDS)}."),
    identifier: str | None = typer.Option(
        None, "--identifier", help="Traccar Client's 'Device identifier' (traccar devices)."
    ),
    agency: str | None = typer.Option(
        None,
        "--agency",
        help="Short name of the agency its reports record (timpora agencies list); "
        "default: the immigration office, which chairs the team.",
    ),
) -> None:
    """Register a device. A form device's token is printed alone on the last line (once)."""
    db = open_database(load_settings())
    with db.session() as session:
        device, token = register_device(
            session=session,
            name=name,
            team=team,
            kind=kind,
            identifier=identifier,
            created_by="cli",
            agency_id=get_agency(session=session, short_name=agency).id if agency else None,
        )
        _audit(session, "create", device)
    console.print(
        f"registered {device.kind} device {device.name!r} of {device.team!r} ({device.agency})",
        highlight=False,
    )
    if token:
        console.print("its field-form token:", highlight=False)
        print(token)


@app.command("list")
@handle_errors
def list_() -> None:
    """Devices, their team, identifier and when each was last heard from (WIB)."""
    db = open_database(load_settings())
    with db.session() as session:
        table = Table(
            "name", "team", "agency", "kind", "identifier", "last seen (WIB)", "revoked (WIB)"
        )
        for d in list_devices(session=session):
            table.add_row(
                d.name,
                d.team,
                d.agency,
                d.kind,
                d.identifier or "",
                _wib(d.last_seen_at),
                _wib(d.revoked_at),
            )
    console.print(table)


@app.command("revoke")
@handle_errors
def revoke(name: str = typer.Argument(..., help="Device to revoke.")) -> None:
    """Refuse the device's positions and token from now on (its history stays)."""
    db = open_database(load_settings())
    with db.session() as session:
        device = revoke_device(session=session, name=name)
        _audit(session, "revoke", device)
    console.print(f"revoked {name!r}")


@app.command("move")
@handle_errors
def move(
    name: str = typer.Argument(..., help="Device to move."),
    agency: str = typer.Option(..., "--agency", help="Short name of the new agency."),
) -> None:
    """Move a device to another agency (audited): its next report records the new one."""
    db = open_database(load_settings())
    with db.session() as session:
        _, old, new = move_device(
            session=session, name=name, agency=agency, principal=operator_principal(), client="cli"
        )
    console.print(
        f"device {name!r}: {old} → {new}" if old != new else f"device {name!r} is already {new}",
        highlight=False,
    )


@app.command("rotate")
@handle_errors
def rotate(name: str = typer.Argument(..., help="Form device whose token is replaced.")) -> None:
    """A new token for a form device (the old one stops working); printed on the last line."""
    db = open_database(load_settings())
    with db.session() as session:
        token = rotate_device_token(session=session, name=name)
        _audit(session, "rotate", get_device(session=session, name=name))
    console.print(f"new token for {name!r}:", highlight=False)
    print(token)


@app.command("refused")
@handle_errors
def refused() -> None:
    """Identifiers whose positions were refused (a phone to register, or a stranger)."""
    db = open_database(load_settings())
    with db.session() as session:
        table = Table("identifier", "reason", "attempts", "last (WIB)")
        for row in refusals(session=session):
            table.add_row(
                row["identifier"], row["reason"], str(row["attempts"]), _wib(row["last_at"])
            )
    console.print(table)


@handle_errors
def tracks_command(
    out: Path = typer.Option(..., "--out", help="GeoJSON file to write."),
    start: str | None = typer.Option(None, help="From (ISO; WIB without an offset)."),
    end: str | None = typer.Option(None, help="Until (default now)."),
    team: str | None = typer.Option(None, help="One team only."),
) -> None:
    """Each team's track in a window (default the last 24 h), as GeoJSON."""
    settings = load_settings()
    db = open_database(settings)
    start_at, end_at = track_window(start, end)
    with db.session() as session:
        collection = team_tracks(
            session=session,
            start=start_at,
            end=end_at,
            team=team,
            gap_s=settings.field.field_track_gap_s,
            max_accuracy_m=settings.field.field_max_accuracy_m,
        )
    out.write_bytes(orjson.dumps(collection))
    console.print(f"wrote {len(collection['features'])} team tracks to {out}", highlight=False)
