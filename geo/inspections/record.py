"""Recording an inspection: checked, then written in one transaction with its registry updates.

Everything that can be refused is checked before the first write: the workplace, the agencies,
the foreigners, and whether each finding agrees with the permit the registry holds or is given.
Then, inside one savepoint: the inspection, its agencies and findings; each finding's registry
update (permit expiry, status) through the registry's own update path; one sighting per person
checked at the workplace (source ``inspection``) through the registry's create path, which
evaluates the alert rules in the same transaction (docs/alerts.md); the audit row. A failure at
any step rolls the savepoint back: nothing of the inspection stays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.inspections.model import (
    EXPIRED_FINDINGS,
    AgencyRef,
    FindingIn,
    InspectionIn,
    parse_inspection,
    parse_reason,
)
from geo.models import INSPECTION_SOURCE
from geo.registry.layers import FOREIGNERS, SIGHTINGS
from geo.registry.writes import create_feature, update_feature
from geo.settings import AreaSettings
from geo.times import today_wib
from geo.users import Principal

AGENCIES_SQL = text(
    """
    SELECT id, short_name, active FROM agency
     WHERE id = ANY (CAST(:ids AS integer[])) OR lower(short_name) = ANY (CAST(:names AS text[]))
    """
)
WORKPLACE_SQL = text(
    "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM workplace WHERE id = :id"
)
FOREIGNERS_SQL = text(
    """
    SELECT id, permit_expires_on, status FROM foreigner
     WHERE id = ANY (CAST(:ids AS integer[])) FOR UPDATE
    """
)
PLAN_STOP_SQL = text("SELECT workplace_id FROM inspection_plan_stop WHERE id = :id")
EXTERNAL_REF_SQL = text("SELECT id FROM inspection WHERE external_ref = :ref")
INSERT_SQL = text(
    """
    INSERT INTO inspection (workplace_id, inspected_on, led_by_agency_id, plan_stop_id, summary,
                            external_ref, created_by)
    VALUES (:workplace_id, :inspected_on, :led_by, :plan_stop_id, :summary, :external_ref,
            :created_by)
    RETURNING id
    """
)
INSERT_AGENCIES_SQL = text(
    """
    INSERT INTO inspection_agency (inspection_id, agency_id)
    SELECT :id, unnest(CAST(:agencies AS integer[]))
    """
)
INSERT_FINDING_SQL = text(
    """
    INSERT INTO inspection_finding (inspection_id, foreigner_id, finding, action_taken, note)
    VALUES (:id, :foreigner_id, :finding, :action_taken, :note)
    """
)
VOID_SQL = text(
    """
    UPDATE inspection SET voided_at = now(), voided_by = :who, void_reason = :reason
     WHERE id = :id AND voided_at IS NULL
    RETURNING id
    """
)


def resolve_agencies(
    *, session: Session, refs: Sequence[tuple[str, AgencyRef]], active: bool = False
) -> dict[str, int]:
    """Each (path, id or short name) → the agency's id; 422 naming the first unknown one (or,
    with ``active``, the first that has left the team)."""
    ids = [r for _, r in refs if isinstance(r, int)]
    names = [r.lower() for _, r in refs if isinstance(r, str)]
    by_id: set[int] = set()
    by_name: dict[str, int] = {}
    retired: set[int] = set()
    for row in session.execute(AGENCIES_SQL, {"ids": ids, "names": names}):
        by_id.add(int(row.id))
        if not row.active:
            retired.add(int(row.id))
        by_name[str(row.short_name).lower()] = int(row.id)
    out: dict[str, int] = {}
    for path, ref in refs:
        if isinstance(ref, int):
            found = ref if ref in by_id else None
        else:
            found = by_name.get(ref.lower())
        if found is None:
            raise ValidationError(f"{path}: no agency {ref!r}", field=path, value=ref)
        if active and found in retired:
            raise ValidationError(
                f"{path}: agency {ref!r} is no longer active", field=path, value=ref
            )
        out[path] = found
    return out


def _check_plan_stop(*, session: Session, valid: InspectionIn) -> None:
    """The plan stop exists and is a stop at this workplace."""
    stop = session.execute(PLAN_STOP_SQL, {"id": valid.plan_stop_id}).one_or_none()
    if stop is None:
        raise ValidationError(
            f"plan_stop_id: no inspection plan stop with id {valid.plan_stop_id}",
            field="plan_stop_id",
            value=valid.plan_stop_id,
        )
    if stop.workplace_id != valid.workplace_id:
        raise ValidationError(
            f"plan_stop_id: stop {valid.plan_stop_id} is a stop at workplace {stop.workplace_id}, "
            f"not at workplace {valid.workplace_id}",
            field="plan_stop_id",
            value=valid.plan_stop_id,
        )


def _check_permit(index: int, finding: FindingIn, held: dt.date | None, day: dt.date) -> None:
    """A finding must agree with the permit expiry it leaves in the registry."""
    path = f"findings[{index}]"
    expiry = finding.permit_expires_on or held
    if finding.finding in EXPIRED_FINDINGS:
        if expiry is None or expiry >= day:
            shown = "no expiry" if held is None else f"a permit valid until {held}"
            raise ValidationError(
                f"{path}.permit_expires_on: a {finding.finding} finding needs the permit's "
                f"expiry before {day} (the registry holds {shown} for foreigner "
                f"{finding.foreigner_id}); give the date read on the document",
                field=f"{path}.permit_expires_on",
                value=None if finding.permit_expires_on is None else str(expiry),
            )
    elif finding.finding == "in_order" and expiry is not None and expiry < day:
        raise ValidationError(
            f"{path}.permit_expires_on: an in_order finding needs a permit valid on {day} (the "
            f"registry holds one that expired on {held}); give the renewed permit's expiry",
            field=f"{path}.permit_expires_on",
            value=None if finding.permit_expires_on is None else str(expiry),
        )


def record(
    *,
    session: Session,
    principal: Principal,
    body: Any,
    area: AreaSettings,
    client: str | None = None,
    today: dt.date | None = None,
) -> int:
    """Check and write one inspection with its findings; the new inspection's id.

    The caller checks the permission (``write``) and commits.
    """
    valid = parse_inspection(body, today=today or today_wib())
    return write(session=session, principal=principal, valid=valid, area=area, client=client)


def write(
    *,
    session: Session,
    principal: Principal,
    valid: InspectionIn,
    area: AreaSettings,
    client: str | None = None,
) -> int:
    workplace = session.execute(WORKPLACE_SQL, {"id": valid.workplace_id}).one_or_none()
    if workplace is None:
        raise ValidationError(
            f"workplace_id: no workplace with id {valid.workplace_id}",
            field="workplace_id",
            value=valid.workplace_id,
        )
    refs = [("led_by", valid.led_by)] + [
        (f"agencies[{i}]", a) for i, a in enumerate(valid.agencies)
    ]
    agency_ids = resolve_agencies(session=session, refs=refs, active=True)
    led_by = agency_ids["led_by"]
    present = sorted({led_by, *agency_ids.values()})
    if valid.plan_stop_id is not None:
        _check_plan_stop(session=session, valid=valid)
    if valid.external_ref is not None:
        owner = session.execute(EXTERNAL_REF_SQL, {"ref": valid.external_ref}).scalar()
        if owner is not None:
            raise ConflictError(
                f"an inspection with external_ref {valid.external_ref!r} already exists "
                f"(id {owner})",
                details={"id": owner, "field": "external_ref"},
            )
    ids = [f.foreigner_id for f in valid.findings]
    held = {int(r.id): r.permit_expires_on for r in session.execute(FOREIGNERS_SQL, {"ids": ids})}
    for i, finding in enumerate(valid.findings):
        if finding.foreigner_id not in held:
            raise ValidationError(
                f"findings[{i}].foreigner_id: no foreigner with id {finding.foreigner_id}",
                field=f"findings[{i}].foreigner_id",
                value=finding.foreigner_id,
            )
        _check_permit(i, finding, held[finding.foreigner_id], valid.inspected_on)

    with session.begin_nested():
        inspection_id = int(
            session.execute(
                INSERT_SQL,
                {
                    "workplace_id": valid.workplace_id,
                    "inspected_on": valid.inspected_on,
                    "led_by": led_by,
                    "plan_stop_id": valid.plan_stop_id,
                    "summary": valid.summary,
                    "external_ref": valid.external_ref,
                    "created_by": principal.name[:100],
                },
            ).scalar_one()
        )
        session.execute(INSERT_AGENCIES_SQL, {"id": inspection_id, "agencies": present})
        if valid.findings:
            session.execute(
                INSERT_FINDING_SQL,
                [
                    {
                        "id": inspection_id,
                        "foreigner_id": f.foreigner_id,
                        "finding": f.finding,
                        "action_taken": f.action_taken,
                        "note": f.note,
                    }
                    for f in valid.findings
                ],
            )
        observed_at = valid.sighted_at().isoformat()
        point = [float(workplace.lon), float(workplace.lat)]
        for i, f in enumerate(valid.findings):
            changes: dict[str, Any] = {}
            if f.permit_expires_on is not None and f.permit_expires_on != held[f.foreigner_id]:
                changes["permit_expires_on"] = f.permit_expires_on.isoformat()
            if f.status is not None:
                changes["status"] = f.status
            with _naming(i):
                if changes:
                    update_feature(
                        session=session,
                        layer=FOREIGNERS,
                        record_id=f.foreigner_id,
                        body={"type": "Feature", "properties": changes},
                        principal=principal,
                        area=area,
                        client=client,
                    )
                create_feature(
                    session=session,
                    layer=SIGHTINGS,
                    body={
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": point},
                        "properties": {
                            "observed_at": observed_at,
                            "foreigner_id": f.foreigner_id,
                            "source": INSPECTION_SOURCE,
                            "reported_by": principal.name[:100],
                            "external_ref": f"inspection-{inspection_id}-{f.foreigner_id}",
                        },
                    },
                    principal=principal,
                    area=area,
                    client=client,
                )
        audit.record(
            session=session,
            principal=principal,
            action="create",
            resource=f"inspections/{inspection_id}",
            record_count=len(valid.findings),
            client=client,
            details={
                "workplace_id": valid.workplace_id,
                "agencies": present,
                "findings": len(valid.findings),
            },
        )
    return inspection_id


@contextmanager
def _naming(index: int) -> Iterator[None]:
    """A registry write for ``findings[index]``: its refusal names the finding."""
    try:
        yield
    except ValidationError as error:
        raise ValidationError(
            f"findings[{index}]: the registry refused the update: {error.message}",
            field=f"findings[{index}]" + (f".{error.field}" if error.field else ""),
            value=error.value,
        ) from error


def void(
    *,
    session: Session,
    principal: Principal,
    inspection_id: int,
    reason: Any,
    client: str | None = None,
) -> None:
    """Mark an inspection void (it stays, with who, when and why); audited.

    A voided inspection no longer counts in the ranking or the briefing; the registry updates
    it made stay (the registry's own history; correct them there).
    """
    why = parse_reason(reason)
    done = session.execute(
        VOID_SQL, {"id": inspection_id, "who": principal.name[:100], "reason": why}
    ).scalar()
    if done is None:
        exists = session.execute(
            text("SELECT voided_at FROM inspection WHERE id = :id"), {"id": inspection_id}
        ).one_or_none()
        if exists is None:
            raise NotFoundError(f"no inspection with id {inspection_id}")
        raise ConflictError(f"inspection {inspection_id} is already void")
    audit.record(
        session=session,
        principal=principal,
        action="void",
        resource=f"inspections/{inspection_id}",
        record_count=1,
        client=client,
    )
