"""Operations: retention, backups."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import console, handle_errors, load_settings, open_database
from geo.backup import backup as backup_database
from geo.backup import restore as restore_database
from geo.db import owner_url
from geo.retention import purge_field, purge_sightings
from geo.times import format_wib


@handle_errors
def purge(
    older_than: int = typer.Option(..., "--older-than", help="Days of sightings to keep."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; delete nothing."),
) -> None:
    """Delete sightings older than DAYS, and track positions and field photos older than their
    retention settings (TIMPORA_FIELD_TRACK_RETENTION_DAYS, TIMPORA_FIELD_PHOTO_RETENTION_DAYS).
    Nothing else is ever deleted. Audited."""
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        report = purge_sightings(session=session, older_than_days=older_than, dry_run=dry_run)
        field = purge_field(
            session=session,
            track_retention_days=settings.field.field_track_retention_days,
            photo_retention_days=settings.field.field_photo_retention_days,
            dry_run=dry_run,
        )
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{verb} {report.sightings} sighting(s) observed before {format_wib(report.cutoff)} WIB"
    )
    console.print(
        f"{verb} {field.positions} track position(s) recorded before "
        f"{format_wib(field.positions_cutoff)} WIB"
    )
    console.print(
        f"{verb} {field.photos} field photo(s) received before "
        f"{format_wib(field.photos_cutoff)} WIB or whose record is gone"
    )


@handle_errors
def backup(
    out: Path = typer.Option(..., "--out", help="File to write (pg_dump custom format)."),
) -> None:
    """Back up the database with pg_dump (custom format; mode 0600, it holds personal data)."""
    settings = load_settings()
    open_database(settings).dispose()
    size = backup_database(url=owner_url(settings.database), out=out)
    console.print(f"backup written: {out} ({size / 1e6:.1f} MB)")


@handle_errors
def restore(
    file: Path = typer.Argument(..., help="A file made by timpora backup."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Restore a backup, replacing the database's current contents (in one transaction)."""
    settings = load_settings()
    if not yes:
        typer.confirm(f"Replace the current database contents with {file}?", abort=True)
    open_database(settings, migrate=False).dispose()
    restore_database(url=owner_url(settings.database), file=file)
    console.print(f"restored from {file}")
