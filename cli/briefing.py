"""``timpora snapshot --out FILE.png|FILE.pdf`` and ``timpora briefing --out FILE.pdf``.

The same filters and layers as ``GET /maps/snapshot.{png,pdf}`` and ``GET /maps/briefing.pdf``.
The sheet names who made it: ``--author`` (default: the operating-system user) and ``--role``.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from cli.common import console, fail, handle_errors, load_settings, open_database
from geo.models import ROLES
from geo.users import Principal


def _principal(author: str | None, role: str) -> Principal:
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}; got {role!r}")
    name = (author or getpass.getuser() or "timpora").strip()
    return Principal(name=name, role=role)


def _format(out: Path) -> str:
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf"):
        fail(f"--out must end in .png or .pdf; got {str(out)!r}")
    return fmt


@handle_errors
def snapshot_command(
    out: Path = typer.Option(..., "--out", "-o", help="FILE.png (200 dpi) or FILE.pdf."),
    layer: str = typer.Option(
        "heat", help="heat, kde, hexbins, choropleth, hotspots, incidents or patrol."
    ),
    source: str = typer.Option("incidents", help="incidents or sightings."),
    start: str | None = typer.Option(None, help="ISO date/time; WIB if no offset."),
    end: str | None = typer.Option(None, help="ISO date/time (exclusive); WIB if no offset."),
    kind: list[str] = typer.Option([], help="Incident kind or sighting source (repeatable)."),
    kecamatan: list[str] = typer.Option([], help="Kemendagri code (repeatable)."),
    lang: str | None = typer.Option(None, help="id (default) or en."),
    cell_m: float | None = typer.Option(None, "--cell-m", help="Cell size in metres."),
    author: str | None = typer.Option(None, help="Name printed as the author of the sheet."),
    role: str = typer.Option("viewer", help=f"Role printed with it ({', '.join(ROLES)})."),
) -> None:
    """Write an A4 landscape map snapshot (PNG at 200 dpi, or PDF) for a briefing."""
    from geo import audit
    from maps.snapshot import parse_snapshot_params, render_snapshot

    fmt = _format(out)
    principal = _principal(author, role)
    settings = load_settings()
    params = parse_snapshot_params(
        layer=layer,
        source=source,
        start=start,
        end=end,
        kind=kind or None,
        kecamatan=kecamatan or None,
        lang=lang,
        cell_m=cell_m,
        default_lang=settings.service.default_lang,
    )
    db = open_database(settings)
    try:
        with db.session() as session:
            content, snap = render_snapshot(
                session=session, params=params, settings=settings, principal=principal, fmt=fmt
            )
            audit.record(
                session=session,
                principal=principal,
                action="export",
                resource=f"maps/snapshot.{fmt}",
                record_count=snap.layer.total,
                client="cli",
                details={"layer": params.layer, "source": params.filters.layer},
            )
    finally:
        db.dispose()
    out.write_bytes(content)
    console.print(
        f"wrote {out} ({len(content) / 1024:.0f} KiB, layer {params.layer}, "
        f"{snap.layer.total} {params.filters.layer})"
    )


@handle_errors
def briefing_command(
    out: Path = typer.Option(..., "--out", "-o", help="FILE.pdf"),
    start: str | None = typer.Option(None, help="ISO date/time; WIB if no offset."),
    end: str | None = typer.Option(None, help="ISO date/time (exclusive); WIB if no offset."),
    kind: list[str] = typer.Option([], help="Incident kind (repeatable)."),
    kecamatan: list[str] = typer.Option([], help="Kemendagri code (repeatable)."),
    lang: str | None = typer.Option(None, help="id (default) or en."),
    author: str | None = typer.Option(None, help="Name printed as the author of the pack."),
    role: str = typer.Option("viewer", help=f"Role printed with it ({', '.join(ROLES)})."),
) -> None:
    """Write the briefing pack: six A4 landscape pages of aggregates (PDF)."""
    from geo import audit
    from maps.briefing import PAGES, parse_briefing_params, render_briefing

    if _format(out) != "pdf":
        fail(f"the briefing pack is a PDF; --out must end in .pdf, got {str(out)!r}")
    principal = _principal(author, role)
    settings = load_settings()
    params = parse_briefing_params(
        start=start,
        end=end,
        kind=kind or None,
        kecamatan=kecamatan or None,
        lang=lang,
        default_lang=settings.service.default_lang,
    )
    db = open_database(settings)
    try:
        with db.session() as session:
            content, pack = render_briefing(
                session=session, params=params, settings=settings, principal=principal
            )
            audit.record(
                session=session,
                principal=principal,
                action="export",
                resource="maps/briefing.pdf",
                record_count=sum(s.count for s in pack.incidents),
                client="cli",
                details={"lang": params.lang, "pages": len(PAGES)},
            )
    finally:
        db.dispose()
    out.write_bytes(content)
    console.print(f"wrote {out} ({len(content) / 1024:.0f} KiB, {len(PAGES)} pages)")
