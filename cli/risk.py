"""``timpora risk``: workplaces ranked for joint inspections (docs/risk.md)."""

from __future__ import annotations

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
from geo import risk
from geo.users import operator_principal


def _reasons_text(reasons: dict[str, list[dict[str, Any]]]) -> str:
    return "; ".join(
        f"{factor}: " + ", ".join(f"{p['foreigner_id']} {p['full_name']}" for p in persons)
        for factor, persons in reasons.items()
    )


COLUMNS = (
    Column("rank", "#"),
    Column("workplace_id", "id"),
    Column("name", "workplace"),
    Column("sector", "sector"),
    Column("kecamatan_name", "kecamatan"),
    Column("score", "score", lambda v: f"{v:.2f}"),
    *(Column(name, name.replace("_", " ")) for name in risk.FACTOR_NAMES),
    Column("reasons", "persons"),
)


@handle_errors
def risk_command(
    limit: int = typer.Option(
        20, "--limit", help=f"How many workplaces (at most {risk.MAX_LIMIT})."
    ),
    radius_m: float = typer.Option(300.0, "--radius-m", help="A workplace's area, in metres."),
    window_days: int = typer.Option(90, "--window-days", help="Sightings/incidents this recent."),
    as_of: str | None = typer.Option(None, "--as-of", help="Reference date (default today)."),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Workplaces ranked for inspection: score, each factor's value, and the persons behind them
    (the command line acts as an administrator; reading them is audited)."""
    query = risk.parse_query(limit=limit, radius_m=radius_m, window_days=window_days, as_of=as_of)
    db = open_database(load_settings())
    with db.session() as session:
        body = risk.rank(session=session, query=query, principal=operator_principal(), client="cli")
    weights = ", ".join(f"{k} {v:g}" for k, v in body["weights"].items())
    say(f"as of {body['as_of']}, radius {query.radius_m:g} m; weights: {weights}", fmt)
    records = []
    for item in body["workplaces"]:
        record = {k: v for k, v in item.items() if k not in ("factors", "reasons")}
        record |= {f["factor"]: f["value"] for f in item["factors"]}
        record["reasons"] = _reasons_text(item.get("reasons", {}))
        records.append(record)
    print_records(records, COLUMNS, fmt)
