"""``timpora inspections plan`` and ``timpora inspections plans``: inspection plans from the
risk ranking (docs/risk.md, "Inspection plan")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from geo import inspection_plan
from geo.inspection_plan import service
from geo.users import operator_principal
from maps.inspection_plan_pdf import plan_pdf_file

app = typer.Typer(help="Joint inspections of workplaces: plans and records.", no_args_is_help=True)


def _factors_text(factors: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{f['factor'].replace('_', ' ')} {f['value']:.2f}"
        if isinstance(f["value"], float)
        else f"{f['factor'].replace('_', ' ')} {f['value']}"
        for f in factors
        if f["value"] not in (0, 0.0)
    )


def _persons_text(reasons: dict[str, list[dict[str, Any]]]) -> str:
    return "; ".join(
        f"{factor}: " + ", ".join(f"{p['foreigner_id']} {p['full_name']}" for p in persons)
        for factor, persons in reasons.items()
    )


def _agencies_text(agencies: list[dict[str, Any]]) -> str:
    parts = []
    for entry in agencies:
        names = [a["short_name"] or a["name"] for a in entry["agencies"]]
        parts.append(", ".join(names) if names else entry["kind"])
    return "; ".join(parts)


STOP_COLUMNS = (
    Column("position", "#"),
    Column("visit_on", "day"),
    Column("workplace_id", "id"),
    Column("name", "workplace"),
    Column("kecamatan_name", "kecamatan"),
    Column("leg_km", "leg km", lambda v: f"{v:.1f}"),
    Column("score", "score", lambda v: f"{v:.2f}"),
    Column("risk_rank", "rank"),
    Column("factors", "reasons"),
    Column("agencies", "agencies"),
    Column("persons", "persons"),
)
PLAN_COLUMNS = (
    Column("id", "id"),
    Column("created_by", "by"),
    Column("period", "period"),
    Column("starts_on", "from"),
    Column("ends_on", "to"),
    Column("kecamatan_code", "kecamatan"),
    Column("start", "start"),
    Column("n_stops", "stops"),
    Column("route_length_km", "km", lambda v: f"{v:.1f}"),
)


def stop_records(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per stop, its reasons, agencies and persons as text."""
    records = []
    for feature in plan["features"]:
        props = feature["properties"]
        if props["kind"] != "stop":
            continue
        records.append(
            {
                **{k: props[k] for k in ("position", "visit_on", "workplace_id", "name")},
                **{k: props[k] for k in ("kecamatan_name", "leg_km", "score", "risk_rank")},
                "factors": _factors_text(props["factors"]),
                "agencies": _agencies_text(props["agencies"]),
                "persons": _persons_text(props.get("reasons", {})),
            }
        )
    return records


@app.command("plan")
@handle_errors
def plan_command(
    start_lon: float | None = typer.Option(None, "--start-lon", help="Default: the office."),
    start_lat: float | None = typer.Option(None, "--start-lat"),
    start_place: str | None = typer.Option(
        None, "--start-place", help="A named start, e.g. 'PLBN Aruk' (crossing post, town, ...)."
    ),
    period: str = typer.Option("day", "--period", help="day, or week (Monday to Friday)."),
    date: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default today, WIB)."),
    max_route_km: float = typer.Option(
        service.DEFAULT_ROUTE_KM, "--max-route-km", help="One day's route, return included."
    ),
    max_stops: int = typer.Option(
        service.DEFAULT_STOPS, "--max-stops", help="Stops per day (at most 12)."
    ),
    kecamatan: str | None = typer.Option(None, "--kecamatan", help="Kemendagri code or name."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Also write the one-page field sheet."),
    lang: str | None = typer.Option(None, "--lang", help="The sheet's language: id or en."),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Plan joint inspections: the top-risk workplaces within the route length, in visiting
    order, with reasons and agencies; saved, and with --pdf printed on one A4 page (the command
    line acts as an administrator, so the persons behind the reasons are listed; audited)."""
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        request = inspection_plan.parse_request(
            session=session,
            area=settings.area,
            start_lon=start_lon,
            start_lat=start_lat,
            start_place=start_place,
            period=period,
            date=date,
            max_route_km=max_route_km,
            max_stops=max_stops,
            kecamatan=kecamatan,
        )
        principal = operator_principal()
        plan = inspection_plan.make_plan(
            session=session, request=request, principal=principal, client="cli"
        )
        if pdf is not None:
            made = plan_pdf_file(
                session=session,
                settings=settings,
                principal=principal,
                plan_id=plan["id"],
                lang=lang,
                client="cli",
            )
            pdf.write_bytes(made.content)
    meta = plan["plan"]
    start = meta["start"]["name"] or f"{meta['start']['lon']:.5f}, {meta['start']['lat']:.5f}"
    say(
        f"plan {meta['id']}: {meta['period']} {meta['starts_on']}, from {start}, "
        f"{meta['n_stops']} stops, {meta['route_length_km']:.1f} km "
        f"(at most {meta['max_route_km']:g} km and {meta['max_stops']} stops a day)",
        fmt,
    )
    print_records(stop_records(plan), STOP_COLUMNS, fmt)
    if pdf is not None:
        say(f"wrote {pdf}", fmt)


@app.command("plans")
@handle_errors
def plans_command(
    limit: int = typer.Option(20, "--limit", help="How many (at most 200), newest first."),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Saved inspection plans, newest first."""
    db = open_database(load_settings())
    with db.session() as session:
        plans = inspection_plan.list_plans(session=session, limit=limit)
    records = [
        p | {"start": p["start"]["name"] or f"{p['start']['lon']:.4f},{p['start']['lat']:.4f}"}
        for p in plans
    ]
    print_records(records, PLAN_COLUMNS, fmt)
