"""Writing the registry: create, update, delete, each validated, alerted in the same
transaction (docs/alerts.md) and audited (docs/privacy.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access, audit
from geo.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from geo.models import SRID
from geo.registry.layers import Layer
from geo.registry.reads import check_id, get_feature
from geo.registry.validation import MISSING, ValidFeature, validate_feature
from geo.roles import service_step
from geo.settings import AreaSettings
from geo.sharing import check_agency, check_level
from geo.users import Principal


def _columns(layer: Layer, valid: ValidFeature) -> tuple[list[str], list[str], dict[str, Any]]:
    cols: list[str] = []
    exprs: list[str] = []
    params: dict[str, Any] = {}
    for name, value in valid.values.items():
        spec = layer.by_name[name]
        if spec.kind == "ids":
            continue
        if value is None and spec.name in ("status", "active"):
            continue  # keep the column's default
        cols.append(name)
        params[f"v_{name}"] = value
        if spec.kind == "json":
            exprs.append(f"CAST(:v_{name} AS jsonb)")
        elif spec.kind == "agencies":
            exprs.append(f"CAST(:v_{name} AS integer[])")
        else:
            exprs.append(f":v_{name}")
    if valid.geometry is not MISSING:
        cols.append("geom")
        if valid.geometry is None:
            exprs.append("NULL")
        else:
            assert isinstance(valid.geometry, BaseGeometry)
            params["wkt"] = valid.geometry.wkt
            exprs.append(f"ST_GeomFromText(:wkt, {SRID})")
        if layer.name == "sightings":
            cols.append("out_of_area")
            params["v_out_of_area"] = valid.out_of_area
            exprs.append(":v_out_of_area")
    return cols, exprs, params


def _set_links(*, session: Session, layer: Layer, record_id: int, valid: ValidFeature) -> None:
    ids = valid.values.get("foreigner_ids")
    if "foreigner_ids" not in valid.values or layer.name != "incidents":
        return
    session.execute(
        text("DELETE FROM incident_foreigner WHERE incident_id = :id"), {"id": record_id}
    )
    if ids:
        session.execute(
            text(
                "INSERT INTO incident_foreigner (incident_id, foreigner_id) "
                "SELECT :id, unnest(CAST(:ids AS integer[]))"
            ),
            {"id": record_id, "ids": ids},
        )


def evaluate_alerts(*, session: Session, layer: Layer, ids: list[int]) -> bool:
    """Run the alert rules for the written rows in this transaction; whether any rule ran."""
    if layer.alerts_layer is None or not ids:
        return False
    # Imported here: geo.alerts reads the registry's filters, so a module-level import would
    # make a cycle.
    from geo.alerts import evaluate_for

    # The rules read persons, whoever wrote: under the service's role for the step, then back
    # to the writer's (docs/privacy.md, "Member agencies"); to see every agency's records the
    # evaluation enters the service scope itself.
    with service_step(session):
        evaluate_for(session=session, layer=layer.alerts_layer, ids=ids)
    return True


def check_writer(*, layer: Layer, body: Any, principal: Principal) -> None:
    """May ``principal`` write this feature of ``layer``? Persons need the full writer's
    permission (403); a writer without personal data sets no link to a person nor a reference
    (422 naming the field: their checks would answer about records it may not read)."""
    access.check(principal.role, access.write_permission(layer.record))
    if access.sees_personal_data(principal.role):
        return
    properties = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(properties, dict):
        return  # validation names what is wrong with the body
    for name in access.NOT_WRITTEN_WITHOUT_PERSONAL_DATA.get(layer.record, ()):
        if name in properties:
            raise ValidationError(
                f"properties.{name}: a writer without personal data (role "
                f"{principal.role!r}) may not set it: it links to persons or to references "
                "only roles with personal data read; leave it out",
                field=f"properties.{name}",
                value=str(properties[name])[:50],
            )


def _alert_and_audit(
    *,
    session: Session,
    layer: Layer,
    record_id: int,
    principal: Principal,
    client: str | None,
    action: str,
    fields: list[str],
    sharing: dict[str, Any] | None = None,
) -> None:
    """What follows every write of a feature: its alerts, then its audit row."""
    evaluate_alerts(session=session, layer=layer, ids=[record_id])
    audit.record(
        session=session,
        principal=principal,
        action=action,
        resource=f"{layer.name}/{record_id}",
        record_count=1,
        client=client,
        details={"fields": fields, **(sharing or {})},
    )


# Sharing levels from the narrowest: a record's level only ever moves right.
_WIDTH: Final = {"agency": 0, "agencies": 1, "timpora": 2}
SHARING_SQL: Final = "SELECT agency_id, sharing, shared_with FROM {table} WHERE id = :id"


def _sharing_of_new(valid: ValidFeature, principal: Principal) -> dict[str, Any] | None:
    """Check (and complete) the sharing a new record asks for; its audit details, if any."""
    if "sharing" not in valid.values and "shared_with" not in valid.values:
        return None
    shared_with = valid.values.get("shared_with") or []
    sharing = valid.values.get("sharing") or ("agencies" if shared_with else "timpora")
    check_level(sharing, shared_with, prefix="properties.")
    check_agency(sharing, principal.agency_id, prefix="properties.")
    valid.values["sharing"] = sharing
    valid.values["shared_with"] = shared_with
    return {"sharing": sharing, "shared_with": shared_with}


def _sharing_change(
    *, session: Session, layer: Layer, record_id: int, valid: ValidFeature, principal: Principal
) -> dict[str, Any] | None:
    """Check a PATCH's sharing: only the reporting agency changes it, and only ever wider
    (never narrowed, not even by an administrator: a trigger refuses it too). Returns the
    audit details ({"sharing": [old, new], "shared_with": [old, new]}) or None."""
    if "sharing" not in valid.values and "shared_with" not in valid.values:
        return None
    agency_id, old_level, old_with = session.execute(
        text(SHARING_SQL.format(table=layer.table)), {"id": record_id}
    ).one()
    old_with = sorted(old_with or [])
    level = valid.values.get("sharing") or old_level
    shared_with = valid.values.get("shared_with")
    if shared_with is None:
        shared_with = old_with if level == "agencies" else []
    if (level, shared_with) == (old_level, old_with):
        valid.values.pop("sharing", None)
        valid.values.pop("shared_with", None)
        return None
    if agency_id is None or agency_id != principal.agency_id:
        raise PermissionDeniedError(
            f"only the reporting agency changes the sharing of {layer.record} {record_id}"
        )
    check_level(level, shared_with, prefix="properties.")
    narrower = _WIDTH[level] < _WIDTH[old_level] or (
        level == old_level == "agencies" and not set(old_with) <= set(shared_with)
    )
    if narrower:
        raise ValidationError(
            f"properties.sharing: sharing is only ever widened (it is {old_level!r}"
            f"{' with ' + str(old_with) if old_with else ''}); got {level!r}"
            f"{' with ' + str(shared_with) if shared_with else ''}",
            field="properties.sharing",
            value=level,
        )
    valid.values["sharing"] = level
    valid.values["shared_with"] = shared_with
    return {"sharing": [old_level, level], "shared_with": [old_with, shared_with]}


@dataclass
class WriteResult:
    feature: dict[str, Any]
    created: bool
    notes: list[str]


def _external_ref_owner(*, session: Session, layer: Layer, external_ref: str) -> int | None:
    found = session.execute(
        text(f"SELECT id FROM {layer.table} WHERE external_ref = :ref LIMIT 1"),
        {"ref": external_ref},
    ).scalar()
    return int(found) if found is not None else None


def create_feature(
    *,
    session: Session,
    layer: Layer,
    body: Any,
    principal: Principal,
    area: AreaSettings,
    client: str | None = None,
) -> WriteResult:
    """Insert one feature; sightings with a known (external_ref, observed_at) are not duplicated.

    The caller authorises the writer (:func:`check_writer` for a user; a field device is
    authorised by its own token)."""
    valid = validate_feature(session=session, layer=layer, body=body, area=area)
    sharing = _sharing_of_new(valid, principal)
    cols, exprs, params = _columns(layer, valid)
    external_ref = valid.values.get("external_ref")
    conflict = ""
    if layer.name == "sightings":
        conflict = "ON CONFLICT (external_ref, observed_at) DO NOTHING"
    elif external_ref is not None:
        owner = _external_ref_owner(session=session, layer=layer, external_ref=external_ref)
        if owner is not None:
            raise ConflictError(
                f"a {layer.record} with external_ref {external_ref!r} already exists (id {owner})",
                details={"id": owner, "field": "properties.external_ref"},
            )
    if layer.name == "zones" and "name" in valid.values:
        _check_zone_name(session=session, name=valid.values["name"], exclude_id=None)
    sql = (
        f"INSERT INTO {layer.table} ({', '.join(cols)}) VALUES ({', '.join(exprs)}) "
        f"{conflict} RETURNING id"
    )
    new_id = session.execute(text(sql), params).scalar()
    created = new_id is not None
    if new_id is None:  # an identical sighting report was already stored: idempotent retry
        new_id = session.execute(
            text("SELECT id FROM sighting WHERE external_ref = :ref AND observed_at = :at"),
            {"ref": external_ref, "at": valid.values["observed_at"]},
        ).scalar_one()
    record_id = int(new_id)
    if created:
        _set_links(session=session, layer=layer, record_id=record_id, valid=valid)
        _alert_and_audit(
            session=session,
            layer=layer,
            record_id=record_id,
            principal=principal,
            client=client,
            action="create",
            fields=sorted(valid.values),
            sharing=sharing,
        )
    # A replayed report returns the stored sighting, not what was sent: a read to audit.
    feature = get_feature(
        session=session,
        layer=layer,
        record_id=record_id,
        role=principal.role,
        principal=principal,
        client=client,
        audit_read=not created,
    )
    return WriteResult(feature, created, valid.notes)


def _check_zone_name(*, session: Session, name: str, exclude_id: int | None) -> None:
    owner = session.execute(
        text("SELECT id FROM zone WHERE name = :name AND id IS DISTINCT FROM :exclude"),
        {"name": name, "exclude": exclude_id},
    ).scalar()
    if owner is not None:
        raise ConflictError(
            f"a zone named {name!r} already exists (id {owner})",
            details={"id": owner, "field": "properties.name"},
        )


def _guard_derived_zone(*, session: Session, layer: Layer, record_id: int) -> None:
    if layer.name != "zones":
        return
    derived = session.execute(
        text("SELECT derived FROM zone WHERE id = :id"), {"id": record_id}
    ).scalar()
    if derived:
        raise ConflictError(
            f"zone {record_id} is derived from the reference geography; "
            "reload boundaries to change it"
        )


def update_feature(
    *,
    session: Session,
    layer: Layer,
    record_id: int,
    body: Any,
    principal: Principal,
    area: AreaSettings,
    client: str | None = None,
) -> WriteResult:
    """Change the given properties (and geometry, if given) of one feature (the caller
    authorises the writer, as for :func:`create_feature`)."""
    record_id = check_id(record_id, layer)
    exists = session.execute(
        text(f"SELECT id FROM {layer.table} WHERE id = :id FOR UPDATE"), {"id": record_id}
    ).scalar()
    if exists is None:
        raise NotFoundError(f"no {layer.record} with id {record_id}")
    _guard_derived_zone(session=session, layer=layer, record_id=record_id)
    valid = validate_feature(session=session, layer=layer, body=body, area=area, partial=True)
    for name, value in valid.values.items():
        if value is None and layer.by_name[name].required:
            raise ValidationError(f"properties.{name}: is required", field=f"properties.{name}")
    sharing = _sharing_change(
        session=session, layer=layer, record_id=record_id, valid=valid, principal=principal
    )
    cols, exprs, params = _columns(layer, valid)
    external_ref = valid.values.get("external_ref")
    if external_ref is not None and layer.name != "sightings":
        owner = _external_ref_owner(session=session, layer=layer, external_ref=external_ref)
        if owner is not None and owner != record_id:
            raise ConflictError(
                f"a {layer.record} with external_ref {external_ref!r} already exists (id {owner})",
                details={"id": owner, "field": "properties.external_ref"},
            )
    if layer.name == "zones" and valid.values.get("name"):
        _check_zone_name(session=session, name=valid.values["name"], exclude_id=record_id)
    assignments = [f"{c} = {e}" for c, e in zip(cols, exprs, strict=True)]
    if layer.has_updated_at and (assignments or "foreigner_ids" in valid.values):
        assignments.append("updated_at = now()")
    if assignments:
        session.execute(
            text(f"UPDATE {layer.table} SET {', '.join(assignments)} WHERE id = :id"),
            {**params, "id": record_id},
        )
    _set_links(session=session, layer=layer, record_id=record_id, valid=valid)
    changed = sorted(valid.values) + (["geometry"] if valid.geometry is not MISSING else [])
    if changed:
        _alert_and_audit(
            session=session,
            layer=layer,
            record_id=record_id,
            principal=principal,
            client=client,
            action="update",
            fields=changed,
            sharing=sharing,
        )
    # The answer is the whole record, fields not sent included (also for an empty PATCH): a read.
    feature = get_feature(
        session=session,
        layer=layer,
        record_id=record_id,
        role=principal.role,
        principal=principal,
        client=client,
    )
    return WriteResult(feature, False, valid.notes)


def delete_feature(
    *,
    session: Session,
    layer: Layer,
    record_id: int,
    principal: Principal,
    client: str | None = None,
) -> None:
    """Delete one feature (admins only, enforced by the caller's permission check); audited."""
    record_id = check_id(record_id, layer)
    _guard_derived_zone(session=session, layer=layer, record_id=record_id)
    deleted = session.execute(
        text(f"DELETE FROM {layer.table} WHERE id = :id RETURNING id"), {"id": record_id}
    ).scalar()
    if deleted is None:
        raise NotFoundError(f"no {layer.record} with id {record_id}")
    audit.record(
        session=session,
        principal=principal,
        action="delete",
        resource=f"{layer.name}/{record_id}",
        record_count=1,
        client=client,
    )
