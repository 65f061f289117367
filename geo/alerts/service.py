"""Reading alerts as GeoJSON, their lifecycle (new → acknowledged → resolved), rules, webhooks."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any, Final

import orjson
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo import access
from geo.alerts import queue, triage
from geo.alerts.catalogue import PARAMETERS, validate_parameters
from geo.alerts.targets import check_target
from geo.audit import record
from geo.errors import NotFoundError, ValidationError
from geo.models import ALERT_STATUSES
from geo.registry.filters import (
    MAX_OFFSET,
    ListFilters,
    parse_bbox,
    parse_choices,
    parse_int,
    parse_kecamatan,
    parse_window,
)
from geo.registry.layers import FilterColumn
from geo.registry.where import FilterTarget, where_clause
from geo.times import WIB
from geo.users import Principal

MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100

FEATURE_SELECT: Final = """
SELECT a.id, a.rule_kind, a.severity, a.status, a.incident_id, a.sighting_id, a.foreigner_id,
       a.workplace_id, a.zone_id, a.subjects, a.distance_m,
       ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
       a.kecamatan_code, a.kecamatan_name, a.desa_code, a.desa_name, a.details, a.event_at,
       a.created_at, a.acknowledged_at, a.acknowledged_by, a.ack_note,
       a.resolved_at, a.resolved_by, a.resolve_note,
       a.first_seen_at, a.last_seen_at, a.occurrences, a.worst_distance_m, a.assigned_to,
       a.assigned_at, a.closed_reason,
       f.full_name AS foreigner_name, w.name AS workplace_name, z.name AS zone_name
FROM alert a
LEFT JOIN foreigner f ON f.id = a.foreigner_id
LEFT JOIN workplace w ON w.id = a.workplace_id
LEFT JOIN zone z ON z.id = a.zone_id
"""

# The alert list: FEATURE_SELECT with the filter family's conditions (geo.registry.where).
LIST_SQL: Final = FEATURE_SELECT + "WHERE {where}\nORDER BY a.id DESC\nLIMIT :limit OFFSET :offset"
# What the list filters compare on an alert: ``rule`` is the alert's kind.
ALERTS: Final = FilterTarget(
    name="alerts",
    time_column="event_at",
    filters={
        "kind": FilterColumn("rule_kind"),
        "status": FilterColumn("status"),
        "kecamatan": FilterColumn("kecamatan_code"),
    },
)
BY_IDS_SQL: Final = text(FEATURE_SELECT + " WHERE a.id = ANY(:ids) ORDER BY a.id")


def wib(value: dt.datetime | None) -> str | None:
    return value.astimezone(WIB).isoformat() if value is not None else None


def to_feature(row: Any) -> dict[str, Any]:
    """One alert as a GeoJSON Feature, with every name included (strip with ``for_role``)."""
    names = {
        k: v for k, v in (("foreigner", row.foreigner_name),) if v is not None and row.foreigner_id
    }
    props: dict[str, Any] = {
        "id": row.id,
        "rule": row.rule_kind,
        "severity": row.severity,
        "status": row.status,
        "subjects": row.subjects,
        "subject_names": names,
        "workplace_name": row.workplace_name,
        "zone_name": row.zone_name,
        "distance_m": round(row.distance_m, 2) if row.distance_m is not None else None,
        "kecamatan_code": row.kecamatan_code,
        "kecamatan": row.kecamatan_name,
        "desa_code": row.desa_code,
        "desa": row.desa_name,
        "event_at": wib(row.event_at),
        "created_at": wib(row.created_at),
        "acknowledged_at": wib(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "ack_note": row.ack_note,
        "resolved_at": wib(row.resolved_at),
        "resolved_by": row.resolved_by,
        "resolve_note": row.resolve_note,
        "first_seen_at": wib(row.first_seen_at),
        "last_seen_at": wib(row.last_seen_at),
        "occurrences": row.occurrences,
        "worst_distance_m": (
            round(row.worst_distance_m, 2) if row.worst_distance_m is not None else None
        ),
        "assigned_to": row.assigned_to,
        "assigned_at": wib(row.assigned_at),
        "closed_reason": row.closed_reason,
        "details": row.details,
    }
    geometry = {"type": "Point", "coordinates": [row.lon, row.lat]} if row.lon is not None else None
    return {"type": "Feature", "id": row.id, "geometry": geometry, "properties": props}


# What an alert about a person keeps for roles without personal data (webhooks included): the
# rule, when, and the kecamatan and desa; not where (position, distance), nor the sponsor or zone.
PERSON_ALERT_HIDDEN: Final = ("distance_m", "workplace_name", "zone_name")


def about_person(feature: dict[str, Any]) -> bool:
    subjects = feature["properties"].get("subjects") or {}
    return bool(subjects.get("foreigner_id") or subjects.get("sighting_id"))


def for_role(feature: dict[str, Any], role: str) -> dict[str, Any]:
    """The feature as ``role`` may see it (docs/privacy.md): names, subjects, free text only
    for roles with personal data; for the others an alert about a person has no position."""
    props = access.strip_personal("alert", feature["properties"], role)
    if access.sees_personal_data(role) or not about_person(feature):
        return {**feature, "properties": props}
    kept = {k: v for k, v in props.items() if k not in PERSON_ALERT_HIDDEN}
    return {**feature, "geometry": None, "properties": kept}


def parse_alert_filters(
    *,
    status: str | Sequence[str] | None = None,
    rule: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    bbox: str | Sequence[float] | None = None,
    limit: int | str | None = None,
    offset: int | str | None = None,
) -> ListFilters:
    """The alert list's filters, parsed by the filter family (same messages as every list)."""
    start_at, end_at = parse_window(start, end)
    return ListFilters(
        bbox=parse_bbox(bbox),
        start=start_at,
        end=end_at,
        kind=parse_choices("rule", rule, allowed=tuple(PARAMETERS), subject="alerts"),
        status=parse_choices("status", status, allowed=ALERT_STATUSES, subject="alerts"),
        kecamatan=parse_kecamatan(kecamatan),
        limit=parse_int(limit, field="limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        offset=parse_int(offset, field="offset", default=0, low=0, high=MAX_OFFSET),
    )


def _audit_names(
    session: Session,
    principal: Principal,
    features: list[dict[str, Any]],
    *,
    resource: str = "alerts",
    client: str | None = None,
) -> None:
    shown = sum(1 for f in features if f["properties"].get("subject_names"))
    if shown and access.sees_personal_data(principal.role):
        record(
            session=session,
            principal=principal,
            action="read",
            resource=resource,
            record_count=shown,
            client=client,
            details={"personal": True},
        )


def audit_streamed(
    *, session: Session, principal: Principal, features: list[dict[str, Any]], client: str | None
) -> None:
    """An audit row for alerts sent on the stream when they name persons the role may see."""
    _audit_names(session, principal, features, resource="alerts/stream", client=client)


def list_alerts(
    *, session: Session, principal: Principal, filters: ListFilters
) -> list[dict[str, Any]]:
    """A page of alerts, newest first (filters from :func:`parse_alert_filters`)."""
    where = where_clause(ALERTS, filters, session=session, alias="a")
    rows = session.execute(
        text(LIST_SQL.format(where=where.sql)),
        {**where.params, "limit": filters.limit, "offset": filters.offset},
    )
    features = [to_feature(r) for r in rows]
    _audit_names(session, principal, features)
    return [for_role(f, principal.role) for f in features]


def features_by_ids(*, session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """Unfiltered features (all names) for the stream and webhooks; callers strip per role."""
    return [to_feature(r) for r in session.execute(BY_IDS_SQL, {"ids": list(ids)})]


def features_by_ids_engine(engine: Engine, ids: list[int]) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return features_by_ids(session=session, ids=ids)


def features_for(*, session: Session, principal: Principal, ids: list[int]) -> list[dict[str, Any]]:
    """The alerts of ``ids`` as ``principal`` may see them: roles without personal data get the
    queue's columns only (their database role reads no other)."""
    if not access.sees_personal_data(principal.role):
        return queue.aggregate_features(session=session, ids=ids)
    return [for_role(f, principal.role) for f in features_by_ids(session=session, ids=ids)]


def get_alert(*, session: Session, principal: Principal, alert_id: int) -> dict[str, Any]:
    """One alert; for roles with personal data with its triage record: the notes (oldest
    first) and where its subjects are (``geo.alerts.queue.triage_record``); for the others (who
    act on alerts not about a person) as the queue shows it."""
    if not access.sees_personal_data(principal.role):
        shown = queue.aggregate_features(session=session, ids=[alert_id])
        if not shown:
            raise NotFoundError(f"no alert with id {alert_id}")
        return shown[0]
    found = features_by_ids(session=session, ids=[alert_id])
    if not found:
        raise NotFoundError(f"no alert with id {alert_id}")
    _audit_names(session, principal, found)
    feature = for_role(found[0], principal.role)
    if access.sees_personal_data(principal.role):
        extra = queue.triage_record(session=session, alert_id=alert_id)
        feature = {**feature, "properties": {**feature["properties"], **extra}}
    return feature


def acknowledge(
    *, session: Session, principal: Principal, alert_id: int, note: str | None = None
) -> dict[str, Any]:
    """new → acknowledged (who, when, note), with an audit row and a triage note; 409 from
    any other state."""
    action = triage.parse_action("acknowledge", [alert_id], note=note)
    triage.act(session=session, principal=principal, action=action)
    return get_alert(session=session, principal=principal, alert_id=alert_id)


def resolve(
    *,
    session: Session,
    principal: Principal,
    alert_id: int,
    reason: str | None,
    note: str | None = None,
) -> dict[str, Any]:
    """new or acknowledged → resolved with a reason (``triage.RESOLVE_REASONS``), with an
    audit row and a triage note; 409 once closed."""
    action = triage.parse_action("resolve", [alert_id], reason=reason, note=note)
    triage.act(session=session, principal=principal, action=action)
    return get_alert(session=session, principal=principal, alert_id=alert_id)


# --- rules -------------------------------------------------------------------------------------

RULE_LIST_SQL: Final = text(
    "SELECT id, kind, parameters, severity, enabled, updated_at FROM alert_rule ORDER BY id"
)


def _rule_dict(row: Any) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "parameters": row.parameters,
        "severity": row.severity,
        "enabled": row.enabled,
        "updated_at": wib(row.updated_at),
    }


def list_rules(*, session: Session) -> list[dict[str, Any]]:
    return [_rule_dict(r) for r in session.execute(RULE_LIST_SQL)]


def update_rule(
    *,
    session: Session,
    principal: Principal,
    kind: str,
    parameters: dict[str, Any] | None = None,
    severity: int | None = None,
    enabled: bool | None = None,
) -> dict[str, Any]:
    """Change a rule's parameters (merged into the current ones), severity or switch."""
    if kind not in PARAMETERS:
        raise NotFoundError(f"no rule {kind!r}; rules: {', '.join(PARAMETERS)}")
    checked = validate_parameters(kind, parameters or {})
    if severity is not None and not 1 <= severity <= 5:
        raise ValidationError(f"severity must be 1 to 5; got {severity}", field="severity")
    row = session.execute(
        text(
            """
            UPDATE alert_rule
            SET parameters = parameters || CAST(:params AS jsonb),
                severity = coalesce(:severity, severity),
                enabled = coalesce(:enabled, enabled),
                updated_at = now()
            WHERE kind = :kind
            RETURNING id, kind, parameters, severity, enabled, updated_at
            """
        ),
        {
            "params": orjson.dumps(checked).decode(),
            "severity": severity,
            "enabled": enabled,
            "kind": kind,
        },
    ).first()
    if row is None:
        raise NotFoundError(f"rule {kind!r} is not in the database (run the migrations)")
    record(
        session=session,
        principal=principal,
        action="update",
        resource=f"alert-rules/{kind}",
        record_count=1,
        details={"parameters": checked, "severity": severity, "enabled": enabled},
    )
    return _rule_dict(row)


# --- webhooks ----------------------------------------------------------------------------------


def _webhook_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "active": row.active,
        "description": row.description,
        "created_by": row.created_by,
        "created_at": wib(row.created_at),
    }


def list_webhooks(*, session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        text("SELECT id, url, active, description, created_by, created_at FROM webhook ORDER BY id")
    )
    return [_webhook_dict(r) for r in rows]


def create_webhook(
    *,
    session: Session,
    principal: Principal | None,
    url: str,
    secret: str | None = None,
    description: str | None = None,
    allow_private: bool = False,
) -> tuple[dict[str, Any], str]:
    """Register a receiver; returns it and its signing secret (shown once).

    The URL must reach public addresses only unless ``allow_private`` (``geo.alerts.targets``).
    """
    check_target(url, allow_private=allow_private)
    secret = secret or secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise ValidationError("secret must be at least 16 characters", field="secret")
    row = session.execute(
        text(
            """
            INSERT INTO webhook (url, secret, description, created_by)
            VALUES (:url, :secret, :description, :by)
            RETURNING id, url, active, description, created_by, created_at
            """
        ),
        {
            "url": url,
            "secret": secret,
            "description": description,
            "by": principal.name if principal else None,
        },
    ).one()
    record(
        session=session,
        principal=principal,
        action="create",
        resource=f"webhooks/{row.id}",
        record_count=1,
    )
    return _webhook_dict(row), secret


def delete_webhook(*, session: Session, principal: Principal | None, webhook_id: int) -> None:
    done = session.execute(
        text("DELETE FROM webhook WHERE id = :id RETURNING id"), {"id": webhook_id}
    ).first()
    if done is None:
        raise NotFoundError(f"no webhook with id {webhook_id}")
    record(
        session=session,
        principal=principal,
        action="delete",
        resource=f"webhooks/{webhook_id}",
        record_count=1,
    )
