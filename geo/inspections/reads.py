"""Reading inspections: a filtered page, one inspection, and the period's tally by agency.

Roles with personal data get each finding's person, note and the summary (audited). The others
get each inspection's findings as counts of persons per finding and action, small counts
suppressed, with no totals beside them (a total next to a "<3" would give it back;
docs/privacy.md); their queries read only the columns ``timpora_aggregate`` is granted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit
from geo.access import sees_personal_data, suppress_count
from geo.errors import NotFoundError, ValidationError
from geo.inspections.model import ACTIONS, FINDINGS, VIOLATIONS, AgencyRef, agency_ref
from geo.inspections.record import resolve_agencies
from geo.users import Principal

MAX_LIMIT: Final = 500
MAX_OFFSET: Final = 1_000_000
MAX_PERIOD_DAYS: Final = 3_660


@dataclass(frozen=True)
class InspectionQuery:
    workplace_id: int | None = None
    agency: AgencyRef | None = None  # led by or present
    start: dt.date | None = None  # inspected on or after
    end: dt.date | None = None  # inspected on or before
    include_void: bool = False
    limit: int = 100
    offset: int = 0


def parse_query(
    *,
    workplace_id: int | None = None,
    agency: int | str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    include_void: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> InspectionQuery:
    """The list's filters, each checked against its cap; errors name the value."""
    if workplace_id is not None and not 1 <= workplace_id <= 2**31 - 1:
        raise ValidationError(
            f"workplace_id must be a record id; got {workplace_id}", field="workplace_id"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1 to {MAX_LIMIT}; got {limit}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationError(f"offset must be 0 to {MAX_OFFSET}; got {offset}", field="offset")
    days = []
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value.strip())
            except ValueError:
                raise ValidationError(
                    f"{name} must be a date (YYYY-MM-DD); got {value!r}", field=name, value=value
                ) from None
        days.append(value)
    first, last = days
    if first is not None and last is not None and first > last:
        raise ValidationError(f"start ({first}) must not be after end ({last})", field="start")
    ref: AgencyRef | None = None
    if agency is not None:
        if isinstance(agency, str) and agency.strip().isdigit():
            agency = int(agency.strip())
        ref = agency_ref("agency", agency)
    return InspectionQuery(workplace_id, ref, first, last, include_void, limit, offset)


# Only columns the aggregate role is granted (migration 0026).
LIST_SQL = text(
    """
    SELECT i.id, i.workplace_id, w.name AS workplace_name, w.kecamatan_name, w.desa_name,
           i.inspected_on, i.led_by_agency_id, i.plan_stop_id, i.created_at, i.voided_at,
           count(*) OVER () AS total
      FROM inspection i
      JOIN workplace w ON w.id = i.workplace_id
     WHERE (CAST(:workplace_id AS integer) IS NULL OR i.workplace_id = :workplace_id)
       AND (CAST(:agency_id AS integer) IS NULL OR EXISTS (
                SELECT 1 FROM inspection_agency x
                 WHERE x.inspection_id = i.id AND x.agency_id = :agency_id))
       AND (CAST(:start AS date) IS NULL OR i.inspected_on >= :start)
       AND (CAST(:end AS date) IS NULL OR i.inspected_on <= :end)
       AND (:include_void OR i.voided_at IS NULL)
       AND (CAST(:only_id AS integer) IS NULL OR i.id = :only_id)
     ORDER BY i.inspected_on DESC, i.id DESC
     LIMIT :limit OFFSET :offset
    """
)
AGENCIES_SQL = text(
    """
    SELECT x.inspection_id, a.id, a.short_name, a.name, a.kind
      FROM inspection_agency x JOIN agency a ON a.id = x.agency_id
     WHERE x.inspection_id = ANY (CAST(:ids AS integer[]))
     ORDER BY x.inspection_id, a.short_name
    """
)
COUNTS_SQL = text(
    """
    SELECT inspection_id, finding, action_taken, count(*) AS n
      FROM inspection_finding
     WHERE inspection_id = ANY (CAST(:ids AS integer[]))
     GROUP BY 1, 2, 3
    """
)
# Personal roles only: the aggregate role cannot read these columns at all.
PERSONAL_SQL = text(
    """
    SELECT id, summary, created_by, voided_by, void_reason
      FROM inspection WHERE id = ANY (CAST(:ids AS integer[]))
    """
)
FINDINGS_SQL = text(
    """
    SELECT x.inspection_id, x.id, x.foreigner_id, f.full_name, f.nationality,
           f.sponsor_workplace_id, x.finding, x.action_taken, x.note
      FROM inspection_finding x JOIN foreigner f ON f.id = x.foreigner_id
     WHERE x.inspection_id = ANY (CAST(:ids AS integer[]))
     ORDER BY x.inspection_id, x.id
    """
)


def _agency_id(session: Session, ref: AgencyRef | None) -> int | None:
    if ref is None:
        return None
    return resolve_agencies(session=session, refs=[("agency", ref)])["agency"]


def _cells(counts: dict[tuple[str, str], int], role: str) -> list[dict[str, Any]]:
    """Persons per (finding, action) in vocabulary order, small counts suppressed, no totals."""
    return [
        {"finding": f, "action_taken": a, "persons": suppress_count(counts[(f, a)], role)}
        for f in FINDINGS
        for a in ACTIONS
        if counts.get((f, a))
    ]


def list_inspections(
    *,
    session: Session,
    principal: Principal,
    query: InspectionQuery,
    client: str | None = None,
    only_id: int | None = None,
) -> dict[str, Any]:
    """A page of inspections, newest first; for personal roles with their persons (audited)."""
    role = principal.role
    params = {
        "workplace_id": query.workplace_id,
        "agency_id": _agency_id(session, query.agency),
        "start": query.start,
        "end": query.end,
        "include_void": query.include_void or only_id is not None,
        "only_id": only_id,
        "limit": query.limit,
        "offset": query.offset,
    }
    rows = session.execute(LIST_SQL, params).all()
    ids = [int(r.id) for r in rows]
    agencies: dict[int, list[dict[str, Any]]] = {}
    counts: dict[int, dict[tuple[str, str], int]] = {}
    if ids:
        for a in session.execute(AGENCIES_SQL, {"ids": ids}):
            agencies.setdefault(a.inspection_id, []).append(
                {"id": a.id, "short_name": a.short_name, "name": a.name, "kind": a.kind}
            )
        for c in session.execute(COUNTS_SQL, {"ids": ids}):
            counts.setdefault(c.inspection_id, {})[(c.finding, c.action_taken)] = int(c.n)
    items = []
    for r in rows:
        present = agencies.get(r.id, [])
        items.append(
            {
                "id": r.id,
                "workplace_id": r.workplace_id,
                "workplace_name": r.workplace_name,
                "kecamatan_name": r.kecamatan_name,
                "desa_name": r.desa_name,
                "inspected_on": r.inspected_on.isoformat(),
                "led_by": next((a for a in present if a["id"] == r.led_by_agency_id), None),
                "agencies": present,
                "plan_stop_id": r.plan_stop_id,
                "created_at": r.created_at.isoformat(),
                "void": r.voided_at is not None,
                "voided_at": r.voided_at.isoformat() if r.voided_at else None,
                "counts": _cells(counts.get(r.id, {}), role),
            }
        )
    body: dict[str, Any] = {
        "total": int(rows[0].total) if rows else 0,
        "limit": query.limit,
        "offset": query.offset,
        "inspections": items,
    }
    if sees_personal_data(role) and ids:
        extra = {int(p.id): p for p in session.execute(PERSONAL_SQL, {"ids": ids})}
        persons: dict[int, list[dict[str, Any]]] = {}
        for f in session.execute(FINDINGS_SQL, {"ids": ids}):
            persons.setdefault(f.inspection_id, []).append(
                {
                    "id": f.id,
                    "foreigner_id": f.foreigner_id,
                    "full_name": f.full_name,
                    "nationality": f.nationality,
                    "sponsor_workplace_id": f.sponsor_workplace_id,
                    "finding": f.finding,
                    "action_taken": f.action_taken,
                    "note": f.note,
                }
            )
        for item in items:
            p = extra[item["id"]]
            item |= {
                "summary": p.summary,
                "created_by": p.created_by,
                "voided_by": p.voided_by,
                "void_reason": p.void_reason,
                "findings": persons.get(item["id"], []),
            }
        n_persons = sum(len(v) for v in persons.values())
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource=f"inspections/{only_id}" if only_id is not None else "inspections",
            record_count=n_persons,
            client=client,
            details={"inspections": len(items), "persons": n_persons},
        )
    return body


def get_inspection(
    *, session: Session, principal: Principal, inspection_id: int, client: str | None = None
) -> dict[str, Any]:
    """One inspection (void ones too); NotFoundError when there is none."""
    page = list_inspections(
        session=session,
        principal=principal,
        query=InspectionQuery(limit=1),
        client=client,
        only_id=inspection_id,
    )
    if not page["inspections"]:
        raise NotFoundError(f"no inspection with id {inspection_id}")
    item: dict[str, Any] = page["inspections"][0]
    return item


# --- the period by agency (the briefing pack) ---------------------------------------------------

AGENCY_TALLY_SQL = text(
    """
    WITH period AS (
        SELECT i.id, i.led_by_agency_id
          FROM inspection i
         WHERE i.voided_at IS NULL
           AND (CAST(:start AS date) IS NULL OR i.inspected_on >= :start)
           AND (CAST(:end AS date) IS NULL OR i.inspected_on < :end)
           AND (:no_kecamatan OR EXISTS (
                    SELECT 1 FROM workplace w
                     WHERE w.id = i.workplace_id AND w.kecamatan_code = ANY (:kecamatan)))
    ),
    persons AS (
        SELECT inspection_id,
               count(*) FILTER (WHERE finding = ANY (CAST(:violations AS text[]))) AS violations
          FROM inspection_finding
         WHERE inspection_id IN (SELECT id FROM period)
         GROUP BY 1
    )
    SELECT a.id, a.short_name, a.name,
           count(*) FILTER (WHERE p.led_by_agency_id = a.id) AS led,
           count(*) AS present,
           coalesce(sum(s.violations), 0) AS violations
      FROM period p
      JOIN inspection_agency x ON x.inspection_id = p.id
      JOIN agency a ON a.id = x.agency_id
      LEFT JOIN persons s ON s.inspection_id = p.id
     GROUP BY a.id, a.short_name, a.name
     ORDER BY count(*) DESC, a.short_name
    """
)
FINDING_TALLY_SQL = text(
    """
    SELECT x.finding, x.action_taken, count(*) AS n
      FROM inspection_finding x
      JOIN inspection i ON i.id = x.inspection_id
     WHERE i.voided_at IS NULL
       AND (CAST(:start AS date) IS NULL OR i.inspected_on >= :start)
       AND (CAST(:end AS date) IS NULL OR i.inspected_on < :end)
       AND (:no_kecamatan OR EXISTS (
                SELECT 1 FROM workplace w
                 WHERE w.id = i.workplace_id AND w.kecamatan_code = ANY (:kecamatan)))
     GROUP BY 1, 2
    """
)
COUNT_SQL = text(
    """
    SELECT count(*) AS inspections, count(DISTINCT i.workplace_id) AS workplaces
      FROM inspection i
     WHERE i.voided_at IS NULL
       AND (CAST(:start AS date) IS NULL OR i.inspected_on >= :start)
       AND (CAST(:end AS date) IS NULL OR i.inspected_on < :end)
       AND (:no_kecamatan OR EXISTS (
                SELECT 1 FROM workplace w
                 WHERE w.id = i.workplace_id AND w.kecamatan_code = ANY (:kecamatan)))
    """
)


@dataclass(frozen=True)
class AgencyTally:
    short_name: str
    name: str
    led: int  # inspections it led
    present: int  # inspections it took part in (leading included)
    # Persons found in violation at them. No "persons checked" beside it: the difference of
    # the two would be a count of persons nobody suppressed.
    violations: int


@dataclass(frozen=True)
class InspectionTally:
    """The period's inspections: counts only (persons counted, never named)."""

    inspections: int
    workplaces: int
    agencies: list[AgencyTally]
    cells: dict[tuple[str, str], int]  # (finding, action) -> persons


def tally(
    *,
    session: Session,
    start: dt.date | None = None,
    end: dt.date | None = None,
    kecamatan: tuple[str, ...] | list[str] = (),
) -> InspectionTally:
    """Inspections on days in [start, end) (WIB dates) of workplaces in ``kecamatan`` (all
    when empty), by agency and by finding and action; voided inspections left out."""
    params = {
        "start": start,
        "end": end,
        "no_kecamatan": not kecamatan,
        "kecamatan": list(kecamatan),
        "violations": list(VIOLATIONS),
    }
    head = session.execute(COUNT_SQL, params).one()
    return InspectionTally(
        inspections=int(head.inspections),
        workplaces=int(head.workplaces),
        agencies=[
            AgencyTally(
                short_name=r.short_name,
                name=r.name,
                led=int(r.led),
                present=int(r.present),
                violations=int(r.violations),
            )
            for r in session.execute(AGENCY_TALLY_SQL, params)
        ],
        cells={
            (r.finding, r.action_taken): int(r.n)
            for r in session.execute(FINDING_TALLY_SQL, params)
        },
    )
