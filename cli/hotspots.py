"""``timpora hotspots`` and ``timpora patrol plan | log add | log list``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
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
    say,
)
from geo.errors import ValidationError
from geo.hotspots import hotspots, to_feature_collection
from geo.patrol import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    list_patrols,
    log_patrol,
    plan_patrol,
    plan_to_feature_collection,
)
from geo.times import format_wib, parse_time

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


def _fixed(digits: int) -> Callable[[Any], str]:
    return lambda value: f"{value:.{digits}f}"


HOTSPOT_COLUMNS = (
    Column("cell_id", "cell"),
    Column("lon", "lon", _fixed(5)),
    Column("lat", "lat", _fixed(5)),
    Column("count", "count"),
    Column("gi_z", "Gi* z", _fixed(2)),
    Column("p_fdr", "p (FDR)", lambda value: f"{value:.3g}"),
    Column("confidence", "confidence"),
    Column("trend", "trend"),
)


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
    fmt: OutputFormat = FORMAT_OPTION,
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
    say(
        f"{meta['n_cells']} cells of {cell_m:g} m over {meta['area_source']}, "
        f"{meta['n_points']} {layer}, {len(meta['slices'])} {slice_unit} slices: "
        f"{meta['n_hot']} hot, {meta['n_cold']} cold (Gi*, Benjamini-Hochberg FDR)",
        fmt,
    )
    cells = result.cells
    records = []
    if len(cells):
        centroids = cells.geometry.to_crs(32649).centroid.to_crs(4326)
        for idx in cells.sort_values("gi_z", ascending=False).index[:top]:
            row = cells.loc[idx]
            records.append(
                {
                    "cell_id": row["cell_id"],
                    "lon": centroids.loc[idx].x,
                    "lat": centroids.loc[idx].y,
                    "count": row["count"],
                    "gi_z": row["gi_z"],
                    "p_fdr": row["p_fdr"],
                    "confidence": row["confidence"],
                    "trend": row["trend"],
                }
            )
    if records or fmt is not OutputFormat.table:
        print_records(records, HOTSPOT_COLUMNS, fmt)
    if out is not None:
        _write(out, to_feature_collection(result))


STOP_COLUMNS = (
    Column("order", "#"),
    Column("lon", "lon", _fixed(5)),
    Column("lat", "lat", _fixed(5)),
    Column("covered_weight", "covered weight"),
    Column("demand", "demand"),
    Column("recently_patrolled_cells", "recently patrolled cells"),
    Column("cells", "cells"),
)


@patrol_app.command("plan")
@handle_errors
def plan(
    k: int = typer.Option(DEFAULT_K, "--k", help="Maximum number of patrol points."),
    radius_m: float = typer.Option(DEFAULT_RADIUS_M, "--radius-m", help="Radius a stop covers."),
    start_lon: float | None = typer.Option(None, "--start-lon", help="Default: the office."),
    start_lat: float | None = typer.Option(None, "--start-lat"),
    layer: str = LAYER,
    cell_m: float = CELL_M,
    start: str | None = START,
    end: str | None = END,
    kind: list[str] | None = KIND,
    weight: str = WEIGHT,
    avoid_recent_days: int = typer.Option(
        DEFAULT_AVOID_RECENT_DAYS,
        "--avoid-recent-days",
        help="Down-weight cells patrolled in the last N days (0: off).",
    ),
    one_way: bool = typer.Option(False, "--one-way", help="Do not return to the start."),
    out: Path | None = typer.Option(None, "--out", help="Write the plan as GeoJSON here."),
    fmt: OutputFormat = FORMAT_OPTION,
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
    records = [
        {
            "order": p.order,
            "lon": p.lon,
            "lat": p.lat,
            "covered_weight": p.covered_weight,
            "demand": p.demand,
            "recently_patrolled_cells": p.recently_patrolled_cells,
            "cells": len(p.cells_covered),
        }
        for p in result.points
    ]
    print_records(records, STOP_COLUMNS, fmt)
    say(
        f"start {result.start[0]:.5f}, {result.start[1]:.5f}; covered share "
        f"{result.covered_share:.1%} of {result.total_weight:g}; route {result.length_km:.1f} km",
        fmt,
    )
    if result.recently_patrolled_cells:
        say(
            f"{result.recently_patrolled_cells} hot cell(s) patrolled in the last "
            f"{avoid_recent_days} days count {result.metadata['recent_factor']:g}x: "
            f"demand {result.covered_demand:g} of the covered {result.covered_weight:g}",
            fmt,
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
    radius_m: float = typer.Option(
        DEFAULT_RADIUS_M, "--radius-m", help="The area patrolled (the plan's default reach)."
    ),
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
        console.print(
            f"patrol log entry {entry.id} at {format_wib(entry.patrolled_at)} WIB, "
            f"{entry.radius_m:g} m around {lon:.5f}, {lat:.5f}",
            highlight=False,
        )


LOG_COLUMNS = (
    Column("id", "id"),
    Column("patrolled_at", "when (WIB)"),
    Column("ended_at", "until (WIB)"),
    Column("lon", "lon", _fixed(5)),
    Column("lat", "lat", _fixed(5)),
    Column("radius_m", "radius m"),
    Column("team", "team"),
)


@log_app.command("list")
@handle_errors
def log_list(
    start: str | None = START,
    end: str | None = END,
    limit: int = typer.Option(50, "--limit"),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """The patrol log, newest first; times in WIB."""
    db = open_database(load_settings())
    with db.session() as session:
        rows = list_patrols(
            session=session,
            start=parse_time(start, field="start"),
            end=parse_time(end, field="end"),
            limit=limit,
        )
        records = [
            {
                "id": entry.id,
                "patrolled_at": entry.patrolled_at,
                "ended_at": entry.ended_at,
                "lon": lon,
                "lat": lat,
                "radius_m": entry.radius_m,
                "team": entry.team,
            }
            for entry, lon, lat in rows
        ]
    print_records(records, LOG_COLUMNS, fmt)
