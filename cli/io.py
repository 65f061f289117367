"""``timpora import``, ``timpora export`` and ``timpora demo seed``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import (
    acting_user,
    console,
    err_console,
    handle_errors,
    load_settings,
    open_database,
)
from geo.db import Database
from geo.errors import ImportRejectedError
from geo.settings import Settings

demo_app = typer.Typer(help="Synthetic demo data with a known answer.", no_args_is_help=True)

AUTHOR_HELP = (
    "A registered user (timpora users list) the audit log names; default: the account running "
    "this command, as administrator."
)
IMPORT_AUTHOR_HELP = (
    "A registered user (timpora users list) the import is made by: it runs like their API "
    "import (their agency on the new rows, their role's rights); default: the account running "
    "this command, as administrator, without an agency."
)
PROGRESS_FROM_BYTES = 2 * 1024 * 1024  # show a bar for files above 2 MiB
REPORT_ROWS_SHOWN = 50


def _rejection_table(details: dict[str, Any]) -> Table:
    table = Table("row", "field", "value", "reason", title="rejected rows")
    for problem in details.get("problems", [])[:REPORT_ROWS_SHOWN]:
        table.add_row(
            str(problem["row"]), problem["field"], str(problem["value"] or ""), problem["reason"]
        )
    return table


class _Bar:
    """A rich progress bar fed by the importer's (stage, done, total) callback."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1))
        self.progress.update(self.tasks[stage], completed=done, total=max(total, 1))


@contextmanager
def _bar(shown: bool) -> Iterator[_Bar | None]:
    """A progress bar on stderr while the block runs, or None when not ``shown``."""
    if not shown:
        yield None
        return
    with Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        yield _Bar(progress)


@handle_errors
def import_command(
    layer: str = typer.Argument(..., help="foreigners, workplaces, incidents or sightings."),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV, XLSX, GeoJSON, GeoPackage or zipped SHP."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing."),
    author: str | None = typer.Option(None, help=IMPORT_AUTHOR_HELP),
    sharing: str | None = typer.Option(
        None,
        help="Whom the new incidents or sightings are shared with: timpora (default), agencies "
        "(with --shared-with) or agency (the author's only); needs --author when narrower.",
    ),
    shared_with: list[str] = typer.Option(
        [], "--shared-with", help="An agency short name for --sharing agencies (repeatable)."
    ),
) -> None:
    """Import a file into a layer: all rows or none; re-importing the same file changes nothing."""
    from geo import access
    from geo.io import ImportOptions, import_file
    from geo.io.importer import check_sharing
    from geo.sharing import parse_sharing

    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session() as session, _bar(file.stat().st_size >= PROGRESS_FROM_BYTES) as bar:
            principal = acting_user(session, author)
            if principal.agency_id is not None:
                access.check(principal.role, access.WRITE)
            asked = parse_sharing(
                session=session,
                sharing=sharing,
                shared_with=shared_with,
                agency_id=principal.agency_id,
            )
            check_sharing(layer, asked)
            report = import_file(
                session=session,
                layer=layer,
                path=file,
                area=settings.area,
                principal=principal,
                dry_run=dry_run,
                progress=bar,
                client="cli",
                options=ImportOptions(sharing=asked),
            )
    except ImportRejectedError as exc:
        details = exc.details or {}
        console.print(_rejection_table(details))
        shown = min(len(details.get("problems", [])), REPORT_ROWS_SHOWN)
        total = details.get("total_problems", shown)
        if total > shown:
            console.print(f"… {total - shown} more problem(s) not shown")
        raise
    finally:
        db.dispose()
    verb = "would import" if report.dry_run else "imported"
    console.print(
        f"{report.layer}: {verb} {report.rows:,} rows from {report.source} — "
        f"{report.inserted:,} new, {report.updated:,} changed, {report.unchanged:,} unchanged "
        f"({report.seconds:.1f} s)",
        highlight=False,
    )
    if report.sharing is not None:
        shared = report.sharing
        with_ = f" ({', '.join(shared['shared_with'])})" if shared["shared_with"] else ""
        console.print(f"  new rows shared with: {shared['sharing']}{with_}", highlight=False)
    for note in report.notes:
        console.print(f"  note: {note}", highlight=False)


@handle_errors
def export_command(
    layer: str = typer.Argument(..., help="foreigners, workplaces, incidents or sightings."),
    format: str = typer.Option("geojson", "--format", "-f", help="geojson, csv, gpkg or xlsx."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write."),
    role: str = typer.Option(
        "analyst", "--role", help="Whose view: roles without personal data get none."
    ),
    bbox: str | None = typer.Option(None, help="minLon,minLat,maxLon,maxLat"),
    start: str | None = typer.Option(None, help="ISO 8601 (no offset = WIB)"),
    end: str | None = typer.Option(None, help="ISO 8601, exclusive"),
    kind: list[str] | None = typer.Option(None, help="Kind (incidents), sector, source."),
    status: list[str] | None = typer.Option(None),
    nationality: list[str] | None = typer.Option(None),
    permit_type: list[str] | None = typer.Option(None, "--permit-type"),
    kecamatan: list[str] | None = typer.Option(None, help="Kemendagri code or name."),
    author: str | None = typer.Option(None, help=AUTHOR_HELP),
) -> None:
    """Export a layer with the API's filters (personal fields only for roles that see them)."""
    from geo.access import ROLE_PERMISSIONS
    from geo.io.service import export_request

    if role not in ROLE_PERMISSIONS:
        raise typer.BadParameter(f"unknown role {role!r}", param_hint="--role")
    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            result = export_request(
                session=session,
                layer=layer,
                fmt=format,
                principal=acting_user(session, author, writes=False),
                client="cli",
                role=role,
                out=out,
                raw_filters={
                    "bbox": bbox,
                    "start": start,
                    "end": end,
                    "kind": kind,
                    "status": status,
                    "nationality": nationality,
                    "permit_type": permit_type,
                    "kecamatan": kecamatan,
                },
            )
    finally:
        db.dispose()
    personal = "with personal fields" if result.personal else "without personal fields"
    console.print(f"{result.layer}: {result.count:,} rows → {out} ({result.format}, {personal})")


def seed_demo(
    settings: Settings,
    db: Database,
    *,
    seed: int,
    size: str,
    end: dt.date | None = None,
    ground_truth: Path | None = None,
    show_progress: bool = False,
) -> None:
    from geo.demo import default_ground_truth_path
    from geo.demo import seed as seed_data

    path = ground_truth or default_ground_truth_path(
        settings.database.data_dir.resolve(), seed, size
    )
    with db.session() as session, _bar(show_progress) as bar:
        report = seed_data(
            session=session,
            seed=seed,
            size=size,
            end=end,
            area=settings.area,
            ground_truth_path=path,
            progress=bar,
        )
    table = Table("layer", "rows", "new", "changed", "unchanged", title=f"demo {size}, seed {seed}")
    for layer, info in report.layers.items():
        table.add_row(
            layer,
            f"{info['rows']:,}",
            f"{info['inserted']:,}",
            f"{info['updated']:,}",
            f"{info['unchanged']:,}",
        )
    console.print(table)
    if report.followup:
        console.print(
            f"coordination meetings: {report.followup['meetings']} new, follow-up actions: "
            f"{report.followup['actions']} new (timpora actions list)"
        )
    if report.inspections:
        console.print(f"inspections recorded: {report.inspections} (timpora inspections list)")
    console.print(f"ground truth (planted hotspots): {path}", highlight=False)
    console.print(f"loaded in {report.seconds:.1f} s")


@demo_app.command("seed")
@handle_errors
def demo_seed(
    seed: int = typer.Option(7, "--seed", help="Same seed, same data."),
    size: str = typer.Option("small", "--size", help="small or large."),
    end: str | None = typer.Option(
        None, "--end", help="Last day (YYYY-MM-DD, exclusive) of the 12 months; default today."
    ),
    ground_truth: Path | None = typer.Option(
        None, "--ground-truth", help="Where to write the answer key (JSON)."
    ),
) -> None:
    """Load synthetic demo data (fake names marked 'Sintetis'); planted hotspots → JSON."""
    if size not in ("small", "large"):
        raise typer.BadParameter("size must be small or large", param_hint="--size")
    end_date = dt.date.fromisoformat(end) if end else None
    settings = load_settings()
    db = open_database(settings)
    try:
        seed_demo(
            settings,
            db,
            seed=seed,
            size=size,
            end=end_date,
            ground_truth=ground_truth,
            show_progress=size == "large",
        )
    finally:
        db.dispose()


def setup_step(settings: Settings, db: Database) -> None:
    """First run only: seed the small demo set when there are no foreigners yet."""
    from geo.demo.seed import first_run_skip_reason

    with db.session() as session:
        reason = first_run_skip_reason(session=session)
    if reason is not None:
        console.print(f"demo data: skipped ({reason})")
        return
    seed_demo(settings, db, seed=7, size="small")
