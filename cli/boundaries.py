"""``timpora boundaries``: reference geography."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    console,
    err_console,
    handle_errors,
    load_settings,
    open_database,
    print_records,
    say,
)
from geo.boundaries import LayerReport, boundary_status, import_boundaries, load_reference_data
from geo.db import Database
from geo.errors import ImportRejectedError
from geo.settings import Settings

app = typer.Typer(
    help="Reference geography: admin areas, border, places, zones.", no_args_is_help=True
)


def _layers_table(layers: list[LayerReport]) -> Table:
    table = Table("layer", "into", "features", "new", "changed", "unchanged", "checksum")
    for layer in layers:
        table.add_row(
            layer.layer,
            layer.target,
            str(layer.features),
            str(layer.inserted),
            str(layer.updated),
            str(layer.unchanged),
            layer.checksum,
        )
    return table


@app.command("load")
@handle_errors
def load(
    directory: Path | None = typer.Argument(
        None,
        help="Folder with the reference layers (default: TIMPORA_REFERENCE_DATA_DIR, "
        "../shared/data).",
    ),
) -> None:
    """Load the catalogue's layers (admin areas, border, coast, land, places). Idempotent."""
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        report = load_reference_data(session=session, settings=settings, source_dir=directory)
    console.print(f"source: {report.source_dir}")
    console.print(_layers_table(report.layers))
    for layer in report.layers:
        for note in layer.notes:
            console.print(f"  {layer.layer}: {note}", highlight=False)
    if report.changed:
        console.print(
            f"zones rebuilt: {report.zones_changed}; points re-located: "
            f"{sum(report.relocated.values())}"
        )
    else:
        console.print("nothing changed")


@app.command("import")
@handle_errors
def import_(
    file: Path = typer.Argument(..., help="Shapefile (.shp or .zip), GeoPackage or GeoJSON."),
    level: str = typer.Option(..., "--level", help="kabupaten, kecamatan or desa."),
    name_field: str | None = typer.Option(None, "--name-field", help="Field with the name."),
    code_field: str | None = typer.Option(
        None, "--code-field", help="Field with the Kemendagri code."
    ),
    parent_field: str | None = typer.Option(
        None, "--parent-field", help="Field with the parent's code."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing."),
) -> None:
    """Replace one admin level with an office's official file (any CRS). All or nothing."""
    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            layer = import_boundaries(
                session=session,
                settings=settings,
                path=file,
                level=level,
                name_field=name_field,
                code_field=code_field,
                parent_field=parent_field,
                dry_run=dry_run,
            )
    except ImportRejectedError as exc:
        table = Table("feature", "field", "value", "reason", title=str(exc))
        for p in exc.details or []:
            table.add_row(str(p["feature"]), str(p["field"]), str(p["value"]), p["reason"])
        err_console.print(table)
        raise
    console.print(_layers_table([layer]))
    for note in layer.notes:
        console.print(f"  {note}", highlight=False)
    if dry_run:
        console.print("dry run: valid, nothing written")


STATUS_COLUMNS = (
    Column("target", "table"),
    Column("layer", "layer"),
    Column("features", "features"),
    Column("licence", "licence"),
    Column("sources", "source"),
    Column("loaded_at", "loaded (WIB)"),
)


@app.command("status")
@handle_errors
def status(fmt: OutputFormat = FORMAT_OPTION) -> None:
    """List the loaded layers with feature counts, sources, licences and when they were loaded."""
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        rows = boundary_status(session=session)
    print_records(rows, STATUS_COLUMNS, fmt)
    if not rows:
        say("no reference data loaded; run: timpora boundaries load", fmt)


def setup_step(settings: Settings, db: Database) -> None:
    """``timpora setup``: load the reference layers (a no-op when they are current)."""
    with db.session() as session:
        report = load_reference_data(session=session, settings=settings)
    state = "loaded" if report.changed else "current"
    console.print(
        f"reference geography {state} ({sum(x.features for x in report.layers)} features)"
    )
