"""``timpora inspections record|list``: joint inspections and their findings
(docs/inspections.md). The commands join the ``inspections`` group of ``cli.inspections``
(``cli/main.py``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final

import typer

from cli.common import (
    FORMAT_OPTION,
    Column,
    OutputFormat,
    acting_user,
    handle_errors,
    load_settings,
    open_database,
    print_records,
    say,
)
from geo import access, inspections
from geo.errors import ValidationError
from geo.users import operator_principal

MAX_FILE_BYTES: Final = 5_000_000


def read_findings(path: Path) -> dict[str, Any]:
    """A findings file: a JSON array of findings, a JSON object (a whole inspection, whose
    fields the options then override), or CSV with a header of finding fields."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValidationError(
            f"{path}: a findings file must be at most {MAX_FILE_BYTES // 1_000_000} MB",
            field="findings",
        )
    raw = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(raw)))
        findings = []
        for row in rows:
            finding: dict[str, Any] = {
                k: v.strip() for k, v in row.items() if k and v and v.strip()
            }
            if finding.get("foreigner_id", "").isdigit():
                finding["foreigner_id"] = int(finding["foreigner_id"])
            findings.append(finding)
        return {"findings": findings}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(data, list):
        return {"findings": data}
    if isinstance(data, dict):
        return data
    raise ValidationError(f"{path}: must hold a JSON array of findings or an inspection object")


def _findings_text(item: dict[str, Any]) -> str:
    if "findings" in item:
        return "; ".join(
            f"{f['foreigner_id']} {f['full_name']}: {f['finding']}/{f['action_taken']}"
            for f in item["findings"]
        )
    return "; ".join(
        f"{c['finding']}/{c['action_taken']} {c['persons']}" for c in item.get("counts", [])
    )


COLUMNS = (
    Column("id", "id"),
    Column("inspected_on", "inspected"),
    Column("workplace_id", "workplace id"),
    Column("workplace_name", "workplace"),
    Column("kecamatan_name", "kecamatan"),
    Column("led_by", "led by"),
    Column("agencies", "agencies"),
    Column("findings", "findings"),
    Column("void", "void"),
    Column("summary", "summary"),
)


def _record(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in item.items() if k not in ("led_by", "agencies", "findings")},
        "led_by": (item.get("led_by") or {}).get("short_name"),
        "agencies": ", ".join(a["short_name"] for a in item.get("agencies", [])),
        "findings": _findings_text(item),
    }


@handle_errors
def record_command(
    findings: Path = typer.Option(
        ...,
        "--findings",
        exists=True,
        dir_okay=False,
        help="JSON (array of findings, or a whole inspection) or CSV (foreigner_id, finding, "
        "action_taken, note, permit_expires_on, status).",
    ),
    workplace: int | None = typer.Option(None, "--workplace", help="The workplace's id."),
    inspected_on: str | None = typer.Option(None, "--on", help="The day (YYYY-MM-DD)."),
    led_by: str | None = typer.Option(None, "--led-by", help="Leading agency: id or short name."),
    agency: list[str] = typer.Option([], "--agency", help="An agency present (repeatable)."),
    summary: str | None = typer.Option(None, "--summary", help="Free text (personal data)."),
    external_ref: str | None = typer.Option(None, "--external-ref", help="Your reference."),
    checked_at: str | None = typer.Option(None, "--checked-at", help="When (ISO 8601, WIB)."),
    author: str | None = typer.Option(
        None, "--as", help="Record as this registered user (default: the operator, as admin)."
    ),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Record an inspection and its findings; the registry is updated in the same transaction
    (a failure writes nothing)."""
    body = read_findings(findings)
    options: dict[str, Any] = {
        "workplace_id": workplace,
        "inspected_on": inspected_on,
        "led_by": int(led_by) if led_by and led_by.isdigit() else led_by,
        "agencies": [int(a) if a.isdigit() else a for a in agency] or None,
        "summary": summary,
        "external_ref": external_ref,
        "checked_at": checked_at,
    }
    body |= {k: v for k, v in options.items() if v is not None}
    settings = load_settings()
    db = open_database(settings)
    with db.session() as session:
        principal = acting_user(session, author)
        access.check(principal.role, access.WRITE)
        new_id = inspections.record(
            session=session, principal=principal, body=body, area=settings.area, client="cli"
        )
        item = inspections.get_inspection(
            session=session, principal=principal, inspection_id=new_id, client="cli"
        )
    say(f"recorded inspection {new_id} ({len(body.get('findings') or [])} persons checked)", fmt)
    print_records([_record(item)], COLUMNS, fmt)


@handle_errors
def list_command(
    workplace: int | None = typer.Option(None, "--workplace", help="Only this workplace (id)."),
    agency: str | None = typer.Option(None, "--agency", help="Led or attended by (id or name)."),
    start: str | None = typer.Option(None, "--start", help="Inspected on or after (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Inspected on or before (YYYY-MM-DD)."),
    include_void: bool = typer.Option(False, "--include-void", help="Voided ones too."),
    limit: int = typer.Option(
        100, "--limit", help=f"How many (at most {inspections.reads.MAX_LIMIT})."
    ),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Inspections, newest first, with the persons checked (the command line acts as an
    administrator; reading them is audited)."""
    query = inspections.parse_query(
        workplace_id=workplace,
        agency=agency,
        start=start,
        end=end,
        include_void=include_void,
        limit=limit,
    )
    db = open_database(load_settings())
    with db.session() as session:
        page = inspections.list_inspections(
            session=session, principal=operator_principal(), query=query, client="cli"
        )
    say(f"{page['total']} inspection(s); showing {len(page['inspections'])}", fmt)
    print_records([_record(i) for i in page["inspections"]], COLUMNS, fmt)
