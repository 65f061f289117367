"""``timpora snapshot --out FILE.png|FILE.pdf`` and ``timpora briefing --out FILE.pdf``.

The same filters, layers, checks and audit row as ``GET /maps/snapshot.{png,pdf}`` and
``GET /maps/briefing.pdf`` (both call ``maps.products``). The sheet names who made it:
``--author`` (a registered user, with the role stored for them) or else the operator of the
command line (``geo.users.operator_principal``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import acting_user, console, fail, handle_errors, load_settings, open_database

AUTHOR_HELP = (
    "A registered user (timpora users list) who makes the sheet; their name and role are printed "
    "and audited. Default: the account running this command, as administrator."
)


def _format(out: Path) -> str:
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf"):
        fail(f"--out must end in .png or .pdf; got {str(out)!r}")
    return fmt


@handle_errors
def snapshot_command(
    out: Path = typer.Option(..., "--out", "-o", help="FILE.png (200 dpi) or FILE.pdf."),
    layer: str = typer.Option(
        "heat", help="heat, kde, hexbins, choropleth, hotspots, incidents, patrol or risk."
    ),
    source: str = typer.Option("incidents", help="incidents or sightings."),
    start: str | None = typer.Option(None, help="ISO date/time; WIB if no offset."),
    end: str | None = typer.Option(None, help="ISO date/time (exclusive); WIB if no offset."),
    kind: list[str] = typer.Option([], help="Incident kind or sighting source (repeatable)."),
    kecamatan: list[str] = typer.Option([], help="Kemendagri code (repeatable)."),
    lang: str | None = typer.Option(None, help="id (default) or en."),
    cell_m: float | None = typer.Option(None, "--cell-m", help="Cell size in metres."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Layer risk: the ranking's date, YYYY-MM-DD (default today)."
    ),
    limit: int | None = typer.Option(
        None, help="Layer risk: workplaces drawn, 1-200 (default 50)."
    ),
    author: str | None = typer.Option(None, help=AUTHOR_HELP),
) -> None:
    """Write an A4 landscape map snapshot (PNG at 200 dpi, or PDF) for a briefing."""
    from maps.products import snapshot_file

    fmt = _format(out)
    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            made = snapshot_file(
                fmt,
                session=session,
                settings=settings,
                principal=acting_user(session, author, writes=False),
                client="cli",
                layer=layer,
                source=None if layer == "risk" else source,
                start=start,
                end=end,
                kind=kind,
                kecamatan=kecamatan,
                lang=lang,
                cell_m=cell_m,
                as_of=as_of,
                limit=limit,
            )
    finally:
        db.dispose()
    out.write_bytes(made.content)
    console.print(
        f"wrote {out} ({len(made.content) / 1024:.0f} KiB, layer {made.details['layer']}, "
        f"{made.record_count} {made.details.get('source', 'workplaces')})"
    )


@handle_errors
def briefing_command(
    out: Path = typer.Option(..., "--out", "-o", help="FILE.pdf"),
    start: str | None = typer.Option(None, help="ISO date/time; WIB if no offset."),
    end: str | None = typer.Option(None, help="ISO date/time (exclusive); WIB if no offset."),
    kind: list[str] = typer.Option([], help="Incident kind (repeatable)."),
    kecamatan: list[str] = typer.Option([], help="Kemendagri code (repeatable)."),
    lang: str | None = typer.Option(None, help="id (default) or en."),
    author: str | None = typer.Option(None, help=AUTHOR_HELP),
    patrol_coverage: bool = typer.Option(
        False,
        "--patrol-coverage",
        help="Add the teams' patrol coverage page (an author whose role manages patrols; "
        "a period of at most 31 days).",
    ),
) -> None:
    """Write the briefing pack: seven A4 landscape pages of aggregates (PDF), and with
    --patrol-coverage a page of the patrol teams' tracks against the hot cells."""
    from maps.products import briefing_file

    if _format(out) != "pdf":
        fail(f"the briefing pack is a PDF; --out must end in .pdf, got {str(out)!r}")
    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            made = briefing_file(
                session=session,
                settings=settings,
                principal=acting_user(session, author, writes=False),
                client="cli",
                start=start,
                end=end,
                kind=kind,
                kecamatan=kecamatan,
                lang=lang,
                patrol_coverage=patrol_coverage,
            )
    finally:
        db.dispose()
    out.write_bytes(made.content)
    console.print(
        f"wrote {out} ({len(made.content) / 1024:.0f} KiB, {made.details['pages']} pages)"
    )
