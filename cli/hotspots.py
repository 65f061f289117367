"""``timpora hotspots`` and ``timpora patrol plan | log add | log list``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import typer
from rich.table import Table

from cli.common import console, handle_errors, load_settings, open_database
from geo.errors import ValidationError
from geo.hotspots import hotspots, to_feature_collection
from geo.patrol import list_patrols, log_patrol, plan_patrol, plan_to_feature_collection
from geo.times import parse_time

patrol_app = typer.Typer(
    help="Plan patrols on hotspots and keep the patrol log.", no_args_is_help=True
)
log_app = typer.Typer(help="Where and when patrols went.", no_args_is_help=True)
patrol_app.add_typer(log_app, name="log")


def _write(path: Path, collection: dict[str, object]) -> None:
    path.write_bytes(orjson.dumps(collection, option=orjson.OPT_SERIALIZE_NUMPY))
    console.print(f"wrote {path}")


LAYER = typer.Option("incidents", "--layer", help="incidents or sightings.")
CELL_M = typer.Option(1000.0, "--cell-m", help="Hexagon side in metres (EPSG:32649).")
START = typer.Option(None, "--start", help="ISO date/time (WIB if no offset).")
END = typer.Option(None, "--end", help="ISO date/time (WIB if no offset).")
KIND = typer.Option(None, "--kind", help="Incident kind / sighting source (repeatable).")
WEIGHT = typer.Option("count", "--weight", help="count or severity (incidents).")


@handle_errors
def hotspots_command(
    layer: str = LAYER,
    cell_m: float = CELL_M,
    start: str | None = START,
    end: str | None = END,
    kind: list[str] | None = KIND,
    weight: str = WEIGHT,
    slice_unit: str = typer.Option("week", "--slice", help="Trend time slice: week or month."),
    top: int = typer.Option(15, "--top", help="How many of the hottest cells to list."),
    out: Path | None = typer.Option(None, "--out", help="Write all cells as GeoJSON here."),
) -> None:
    """Getis-Ord Gi* hot spots on a hex grid (FDR-corrected 90/95/99 %) and their trends."""
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        result = hotspots(
            session=session,
            layer=layer,
            cell_m=cell_m,
            start=parse_time(start, field="start"),
            end=parse_time(end, field="end"),
            kinds=kind or None,
            weighting=weight,
            slice_unit=slice_unit,
            reference_data_dir=settings.area.reference_data_dir,
        )
    meta = result.metadata
    console.print(
        f"{meta['n_cells']} cells of {cell_m:g} m over {meta['area_source']}, "
        f"{meta['n_points']} {layer}, {len(meta['slices'])} {slice_unit} slices: "
        f"{meta['n_hot']} hot, {meta['n_cold']} cold (Gi*, Benjamini-Hochberg FDR)",
        highlight=False,
    )
    cells = result.cells
    if len(cells):
        centroids = cells.geometry.to_crs(32649).centroid.to_crs(4326)
        table = Table("cell", "lon", "lat", "count", "Gi* z", "p (FDR)", "confidence", "trend")
        for idx in cells.sort_values("gi_z", ascending=False).index[:top]:
            row = cells.loc[idx]
            table.add_row(
                str(row["cell_id"]),
                f"{centroids.loc[idx].x:.5f}",
                f"{centroids.loc[idx].y:.5f}",
                str(row["count"]),
                f"{row['gi_z']:.2f}",
                f"{row['p_fdr']:.3g}",
                str(row["confidence"]),
                str(row["trend"]),
            )
        console.print(table)
    if out is not None:
        _write(out, to_feature_collection(result))


@patrol_app.command("plan")
@handle_errors
def plan(
    k: int = typer.Option(4, "--k", help="Maximum number of patrol points."),
    radius_m: float = typer.Option(2000.0, "--radius-m", help="Radius a patrol point covers."),
    start_lon: float | None = typer.Option(None, "--start-lon", help="Default: the office."),
    start_lat: float | None = typer.Option(None, "--start-lat"),
    layer: str = LAYER,
    cell_m: float = CELL_M,
    start: str | None = START,
    end: str | None = END,
    kind: list[str] | None = KIND,
    weight: str = WEIGHT,
    avoid_recent_days: int = typer.Option(
        7, "--avoid-recent-days", help="Down-weight cells patrolled in the last N days (0: off)."
    ),
    one_way: bool = typer.Option(False, "--one-way", help="Do not return to the start."),
    out: Path | None = typer.Option(None, "--out", help="Write the plan as GeoJSON here."),
) -> None:
    """Choose up to k patrol points covering the most hotspot weight, and a route through them."""
    if (start_lon is None) != (start_lat is None):
        raise ValidationError("--start-lon and --start-lat go together", field="start_lon")
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        result = plan_patrol(
            session=session,
            k=k,
            radius_m=radius_m,
            start_point=(start_lon, start_lat)
            if start_lon is not None and start_lat is not None
            else None,
            area=settings.area,
            layer=layer,
            cell_m=cell_m,
            start=parse_time(start, field="start"),
            end=parse_time(end, field="end"),
            kinds=kind or None,
            weighting=weight,
            return_to_start=not one_way,
            avoid_recent_days=avoid_recent_days or None,
        )
    table = Table("#", "lon", "lat", "covered weight", "cells")
    for p in result.points:
        table.add_row(
            str(p.order), f"{p.lon:.5f}", f"{p.lat:.5f}", f"{p.covered_weight:g}",
            str(len(p.cells_covered)),
        )  # fmt: skip
    console.print(table)
    console.print(
        f"start {result.start[0]:.5f}, {result.start[1]:.5f}; covered share "
        f"{result.covered_share:.1%} of {result.total_weight:g}; route {result.length_km:.1f} km",
        highlight=False,
    )
    if out is not None:
        _write(out, plan_to_feature_collection(result))


@log_app.command("add")
@handle_errors
def log_add(
    lon: float = typer.Option(..., "--lon"),
    lat: float = typer.Option(..., "--lat"),
    at: str | None = typer.Option(None, "--at", help="When (ISO, WIB if no offset); default now."),
    team: str | None = typer.Option(None, "--team"),
    radius_m: float = typer.Option(1000.0, "--radius-m"),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record a patrol (where and when)."""
    when = parse_time(at, field="at") or dt.datetime.now(dt.UTC)
    db = open_database(load_settings())
    with db.session() as session:
        entry = log_patrol(
            session=session,
            lon=lon,
            lat=lat,
            patrolled_at=when,
            team=team,
            radius_m=radius_m,
            note=note,
        )
        console.print(f"patrol log entry {entry.id} at {entry.patrolled_at.isoformat()}")


@log_app.command("list")
@handle_errors
def log_list(
    start: str | None = START,
    end: str | None = END,
    limit: int = typer.Option(50, "--limit"),
) -> None:
    """The patrol log, newest first."""
    db = open_database(load_settings())
    with db.session() as session:
        rows = list_patrols(
            session=session,
            start=parse_time(start, field="start"),
            end=parse_time(end, field="end"),
            limit=limit,
        )
        table = Table("id", "when (UTC)", "lon", "lat", "radius m", "team")
        for entry, lon, lat in rows:
            table.add_row(
                str(entry.id), entry.patrolled_at.strftime("%Y-%m-%d %H:%M"), f"{lon:.5f}",
                f"{lat:.5f}", f"{entry.radius_m:g}", entry.team or "",
            )  # fmt: skip
    console.print(table)
