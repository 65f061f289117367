"""``timpora map VIEW --out FILE.html``: the same views, filters and checks as ``GET /maps/{view}``
(both call ``maps.products.map_page``)."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import console, fail, handle_errors, load_settings, open_database
from geo.models import ROLES


@handle_errors
def map_command(
    view: str = typer.Argument(..., help="heatmap, overview, hexbins, timeline, …"),
    out: Path = typer.Option(..., "--out", "-o", help="The HTML file to write (self-contained)."),
    start: str | None = typer.Option(None, help="ISO date/time; WIB if no offset."),
    end: str | None = typer.Option(None, help="ISO date/time (exclusive); WIB if no offset."),
    kind: list[str] = typer.Option([], help="Incident kind or sighting source (repeatable)."),
    kecamatan: list[str] = typer.Option([], help="Kemendagri code (repeatable)."),
    layer: str = typer.Option("incidents", help="incidents or sightings."),
    lang: str | None = typer.Option(None, help="id (default) or en."),
    cell_m: float | None = typer.Option(None, "--cell-m", help="Cell size in metres."),
    period: str = typer.Option("month", help="week or month (timeline)."),
    measure: str = typer.Option("count", help="count, per_km2 or per_foreigner (overview)."),
    role: str = typer.Option(
        "viewer",
        help="Whose view to render; the default hides small person counts, as for a briefing. "
        f"One of: {', '.join(ROLES)}.",
    ),
) -> None:
    """Write a map view as one offline HTML file (Leaflet inlined; no request leaves the page)."""
    from maps.products import map_page

    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}; got {role!r}")
    settings = load_settings()
    db = open_database(settings)
    try:
        with db.session() as session:
            page = map_page(
                view,
                session=session,
                settings=settings,
                role=role,
                layer=layer,
                start=start,
                end=end,
                kind=kind,
                kecamatan=kecamatan,
                lang=lang,
                cell_m=cell_m,
                period=period,
                measure=measure,
            )
    finally:
        db.dispose()
    out.write_text(page, encoding="utf-8")
    console.print(f"wrote {out} ({len(page.encode()) / 1024:.0f} KiB, view {view}, role {role})")
