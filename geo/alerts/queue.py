"""The triage queue: open alert episodes in priority order with their totals, and one alert's
triage record (notes, where its subjects are). What people do with them: ``geo.alerts.triage``.

Priority order (docs/alerts.md, "The triage queue"): severity, highest first; then the WIB day
the episode was last seen, latest first; then its occurrences, most first; then the exact last
time seen and the id, latest first. Within one severity and one day, an episode that keeps
recurring comes before one seen once; across days, recency wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access, roles
from geo.alerts.catalogue import PARAMETERS
from geo.audit import record
from geo.errors import PermissionDeniedError, ValidationError
from geo.models import ALERT_STATUSES, OPEN_ALERT_STATUSES
from geo.registry.filters import (
    MAX_ID,
    MAX_OFFSET,
    ListFilters,
    parse_choices,
    parse_int,
    parse_kecamatan,
    parse_window,
    split_values,
)
from geo.registry.layers import FilterColumn
from geo.registry.where import FilterTarget, where_clause
from geo.times import WIB
from geo.users import Principal

QUEUE_MAX_LIMIT: Final = 500
QUEUE_DEFAULT_LIMIT: Final = 50
SEVERITIES: Final = ("1", "2", "3", "4", "5")
# ``status=open`` is shorthand for the open statuses (new and acknowledged).
OPEN: Final = "open"
UNASSIGNED: Final = "none"

# What the queue filters compare: ``kind`` is the rule; a period selects the episodes whose
# first-to-last-seen span overlaps it.
QUEUE: Final = FilterTarget(
    name="alerts",
    time_column="last_seen_at",
    filters={
        "kind": FilterColumn("rule_kind"),
        "status": FilterColumn("status"),
        "kecamatan": FilterColumn("kecamatan_code"),
        "severity": FilterColumn("severity", sql_type="smallint"),
        "assignee": FilterColumn("assigned_to", null_value=UNASSIGNED),
    },
    span_columns=("first_seen_at", "last_seen_at"),
)

SEEN_DAY: Final = "(a.last_seen_at AT TIME ZONE 'Asia/Pontianak')::date"
# The priority order and the same key as a row value, for keyset paging (all descending).
ORDER_BY: Final = (
    f"a.severity DESC, {SEEN_DAY} DESC, a.occurrences DESC, a.last_seen_at DESC, a.id DESC"
)
ORDER_KEY: Final = f"(a.severity, {SEEN_DAY}, a.occurrences, a.last_seen_at, a.id)"
AFTER_KEY_SQL: Final = text(
    "SELECT a.severity, (a.last_seen_at AT TIME ZONE 'Asia/Pontianak')::date AS seen_day, "
    "a.occurrences, a.last_seen_at, a.id FROM alert a WHERE a.id = :after"
)

# Columns every role may read (the aggregate role's grants): rule, severity, status, area, span.
AGGREGATE_COLUMNS: Final = """
a.id, a.rule_kind, a.severity, a.status, a.kecamatan_code, a.kecamatan_name, a.desa_code,
a.desa_name, a.first_seen_at, a.last_seen_at, a.occurrences
"""
# The sharing of the record an alert is about, when it is not the whole Timpora (None
# otherwise): its level, reporting agency and the agencies named. The sighting is found by its
# id and time (its partition's key), as the alert's row policy finds it; whoever sees the alert
# sees that record. A scalar subquery, so only the rows of the page pay for it.
RECORD_SHARING: Final = """(
    SELECT jsonb_build_object(
               'sharing', r.sharing, 'agency', g.short_name,
               'shared_with', ARRAY(SELECT x.short_name FROM agency x
                                    WHERE x.id = ANY(r.shared_with) ORDER BY x.short_name))
    FROM (SELECT s.sharing, s.agency_id, s.shared_with FROM sighting s
          WHERE s.id = a.sighting_id AND s.observed_at = a.event_at
          UNION ALL
          SELECT i.sharing, i.agency_id, i.shared_with FROM incident i
          WHERE i.id = a.incident_id) r
    LEFT JOIN agency g ON g.id = r.agency_id
    WHERE r.sharing <> 'timpora'
    LIMIT 1)"""
PERSONAL_SELECT: Final = f"""
SELECT {AGGREGATE_COLUMNS}, a.assigned_to, a.assigned_at, a.closed_reason, a.subjects,
       a.distance_m, a.worst_distance_m, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
       a.foreigner_id, f.full_name AS foreigner_name, w.name AS workplace_name,
       z.name AS zone_name,
       (SELECT count(*) FROM alert_note n WHERE n.alert_id = a.id) AS notes,
       {RECORD_SHARING} AS record_sharing
FROM alert a
LEFT JOIN foreigner f ON f.id = a.foreigner_id
LEFT JOIN workplace w ON w.id = a.workplace_id
LEFT JOIN zone z ON z.id = a.zone_id
"""
AGGREGATE_SELECT: Final = f"SELECT {AGGREGATE_COLUMNS} FROM alert a"
AGGREGATE_BY_IDS_SQL: Final = text(
    f"{AGGREGATE_SELECT} WHERE a.id = ANY(:ids) AND a.foreigner_id IS NULL "
    "AND a.sighting_id IS NULL ORDER BY a.id"
)
PAGE_SQL: Final = "{select}\nWHERE {where}\nORDER BY {order}\nLIMIT :fetch OFFSET :offset"
TOTALS_SQL: Final = """
SELECT a.rule_kind, a.severity, a.status, count(*) AS n,
       grouping(a.rule_kind, a.severity, a.status) AS level
FROM alert a
WHERE {where}
GROUP BY GROUPING SETS ((a.rule_kind), (a.severity), (a.status), ())
"""
ASSIGNEES_SQL: Final = text("SELECT name FROM app_user WHERE name = ANY(:names)")
# By the role each user acts with: its stored role in its agency (``access.role_in_agency``).
ASSIGNABLE_SQL: Final = text(
    "SELECT u.name FROM app_user u JOIN agency g ON g.id = u.agency_id "
    "WHERE u.revoked_at IS NULL AND u.role = ANY(CASE WHEN g.personal_data THEN "
    "CAST(:with_personal AS text[]) ELSE CAST(:without_personal AS text[]) END) "
    "ORDER BY u.name LIMIT 500"
)


@dataclass(frozen=True)
class QueueQuery:
    """A validated queue request: the filters (``kind`` is the rule), the page and its cursor
    (``after``: the id of the last alert of the previous page, in queue order)."""

    filters: ListFilters
    after: int | None = None

    def query_params(self) -> dict[str, str]:
        """The filters as query-string values (for ``next`` links), without the page."""
        f = self.filters
        out: dict[str, str] = {}
        if f.kind:
            out["rule"] = ",".join(f.kind)
        for name in ("severity", "status", "kecamatan", "assignee"):
            values = getattr(f, name)
            if values:
                out[name] = ",".join(values)
        if f.start:
            out["start"] = f.start.isoformat()
        if f.end:
            out["end"] = f.end.isoformat()
        return out


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue, the totals of the whole filtered queue, and whether more follow."""

    features: list[dict[str, Any]]
    total: int
    totals: dict[str, dict[str, int]]
    has_more: bool
    last_id: int | None
    limit: int
    offset: int


def parse_queue_filters(
    *,
    rule: str | Sequence[str] | None = None,
    severity: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    assignee: str | Sequence[str] | None = None,
    limit: int | str | None = None,
    offset: int | str | None = None,
    after: int | str | None = None,
) -> QueueQuery:
    """The queue's filters, parsed by the filter family; open episodes unless ``status``."""
    start_at, end_at = parse_window(start, end)
    statuses = parse_choices(
        "status", status, allowed=(OPEN, *ALERT_STATUSES), subject="the alert queue"
    )
    if not statuses or OPEN in statuses:
        statuses = tuple(dict.fromkeys([*OPEN_ALERT_STATUSES, *(s for s in statuses if s != OPEN)]))
    assignees = split_values(assignee)
    for name in assignees:
        if len(name) > 100:
            raise ValidationError("assignee is too long", field="assignee", value=name[:100])
    return QueueQuery(
        filters=ListFilters(
            start=start_at,
            end=end_at,
            kind=parse_choices("rule", rule, allowed=tuple(PARAMETERS), subject="alerts"),
            status=statuses,
            kecamatan=parse_kecamatan(kecamatan),
            severity=parse_choices("severity", severity, allowed=SEVERITIES, subject="alerts"),
            assignee=assignees,
            limit=parse_int(
                limit, field="limit", default=QUEUE_DEFAULT_LIMIT, low=1, high=QUEUE_MAX_LIMIT
            ),
            offset=parse_int(offset, field="offset", default=0, low=0, high=MAX_OFFSET),
        ),
        after=None
        if after is None or after == ""
        else parse_int(after, field="after", default=0, low=1, high=MAX_ID),
    )


def wib(value: dt.datetime | None) -> str | None:
    return value.astimezone(WIB).isoformat() if value is not None else None


def _check_assignees(session: Session, names: Sequence[str]) -> None:
    wanted = [n for n in names if n != UNASSIGNED]
    if not wanted:
        return
    known = set(session.execute(ASSIGNEES_SQL, {"names": wanted}).scalars())
    for name in wanted:
        if name not in known:
            raise ValidationError(
                f"assignee {name!r} is not a user (or give {UNASSIGNED!r} for unassigned)",
                field="assignee",
                value=name,
            )


def assignable_users(*, session: Session) -> list[str]:
    """Names of the active users alerts may be assigned to (those who may act on them, with the
    role they act with in their agency; users of an agency without personal data only on the
    alerts not about a person, which ``geo.alerts.triage`` checks per selection). Staff names,
    read as the service: the aggregate role reads no ``app_user``."""
    stored = [r for r in access.ROLE_PERMISSIONS if r not in access.FACES]
    params = {
        "with_personal": [r for r in stored if access.allowed(r, access.ACK_ALERTS)],
        "without_personal": [
            r for r in stored if access.allowed(access.role_in_agency(r, False), access.ACK_ALERTS)
        ],
    }
    with roles.service_step(session):
        return list(session.execute(ASSIGNABLE_SQL, params).scalars())


def aggregate_features(*, session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The alerts of ``ids`` as the queue shows them to roles without personal data (rule,
    severity, status, area, span), by id; none about a person (as the aggregate role's policy)."""
    rows = session.execute(AGGREGATE_BY_IDS_SQL, {"ids": list(ids)})
    return [_queue_feature(r, False) for r in rows]


def _queue_feature(row: Any, personal: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": row.id,
        "rule": row.rule_kind,
        "severity": row.severity,
        "status": row.status,
        "kecamatan_code": row.kecamatan_code,
        "kecamatan": row.kecamatan_name,
        "desa_code": row.desa_code,
        "desa": row.desa_name,
        "first_seen_at": wib(row.first_seen_at),
        "last_seen_at": wib(row.last_seen_at),
        "occurrences": row.occurrences,
    }
    geometry = None
    if personal:
        names = {"foreigner": row.foreigner_name} if row.foreigner_name else {}
        props.update(
            assigned_to=row.assigned_to,
            assigned_at=wib(row.assigned_at),
            closed_reason=row.closed_reason,
            subjects=row.subjects,
            subject_names=names,
            workplace_name=row.workplace_name,
            zone_name=row.zone_name,
            sharing=row.record_sharing,
            distance_m=round(row.distance_m, 1) if row.distance_m is not None else None,
            worst_distance_m=(
                round(row.worst_distance_m, 1) if row.worst_distance_m is not None else None
            ),
            notes=row.notes,
        )
        if row.lon is not None:
            geometry = {"type": "Point", "coordinates": [row.lon, row.lat]}
    return {"type": "Feature", "id": row.id, "geometry": geometry, "properties": props}


def read_queue(*, session: Session, principal: Principal, query: QueueQuery) -> QueuePage:
    """A page of the queue in priority order, with totals by rule, severity and status.

    Roles with personal data get each episode's subjects, names, position, assignee and note
    count (and an audit row when names are shown); the others get rule, severity, status, area
    and span only, and no alert about a person (the database hides those rows from them).
    """
    personal = access.sees_personal_data(principal.role)
    filters = query.filters
    if filters.assignee and not personal:
        raise PermissionDeniedError(
            f"role {principal.role!r} may not filter by assignee: assignees are shown with "
            "personal data only"
        )
    _check_assignees(session, filters.assignee)
    where = where_clause(QUEUE, filters, session=session, alias="a")
    params: dict[str, Any] = dict(where.params)
    condition = where.sql
    if query.after is not None:
        key = session.execute(AFTER_KEY_SQL, {"after": query.after}).first()
        if key is None:
            raise ValidationError(
                f"after must be the id of an alert (the next link sets it); got {query.after}",
                field="after",
                value=query.after,
            )
        condition = (
            f"{condition} AND {ORDER_KEY} < "
            "(CAST(:k_sev AS smallint), CAST(:k_day AS date), CAST(:k_occ AS integer), "
            "CAST(:k_last AS timestamptz), CAST(:k_id AS bigint))"
        )
        params.update(
            k_sev=key.severity,
            k_day=key.seen_day,
            k_occ=key.occurrences,
            k_last=key.last_seen_at,
            k_id=key.id,
        )
    sql = PAGE_SQL.format(
        select=PERSONAL_SELECT if personal else AGGREGATE_SELECT,
        where=condition,
        order=ORDER_BY,
    )
    rows = session.execute(
        text(sql), {**params, "fetch": filters.limit + 1, "offset": filters.offset}
    ).all()
    has_more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    features = [_queue_feature(r, personal) for r in rows]
    totals: dict[str, dict[str, int]] = {"rule": {}, "severity": {}, "status": {}}
    total = 0
    for r in session.execute(text(TOTALS_SQL.format(where=where.sql)), where.params):
        if r.level == 7:
            total = r.n
        elif r.rule_kind is not None and r.level == 3:
            totals["rule"][r.rule_kind] = r.n
        elif r.severity is not None and r.level == 5:
            totals["severity"][str(r.severity)] = r.n
        elif r.status is not None and r.level == 6:
            totals["status"][r.status] = r.n
    named = sum(1 for f in features if f["properties"].get("subject_names"))
    if named:
        record(
            session=session,
            principal=principal,
            action="read",
            resource="alerts/queue",
            record_count=named,
            details={"personal": True},
        )
    return QueuePage(
        features=features,
        total=total,
        totals=totals,
        has_more=has_more,
        last_id=features[-1]["id"] if features and has_more else None,
        limit=filters.limit,
        offset=filters.offset,
    )


# --- one alert's triage record ------------------------------------------------------------------

NOTES_SQL: Final = text(
    "SELECT n.id, n.author, a.short_name AS agency, n.action, n.body, n.created_at "
    "FROM alert_note n LEFT JOIN agency a ON a.id = n.agency_id "
    "WHERE n.alert_id = :id ORDER BY n.created_at, n.id"
)
# Where an alert's subjects are, to show them on the map: the workplace, the incident, the
# first and the last sighting of the episode, the zone (simplified outline).
SUBJECTS_SQL: Final = text(
    """
    SELECT 'workplace' AS kind, w.id, w.name AS label, ST_AsGeoJSON(w.geom, 6) AS geometry
    FROM workplace w WHERE w.id = :workplace_id
    UNION ALL
    SELECT 'incident', i.id, i.kind, ST_AsGeoJSON(i.geom, 6)
    FROM incident i WHERE i.id = :incident_id
    UNION ALL
    SELECT 'sighting', s.id, NULL, ST_AsGeoJSON(s.geom, 6)
    FROM sighting s WHERE s.id = ANY(CAST(:sighting_ids AS bigint[]))
    UNION ALL
    SELECT 'zone', z.id, z.name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(z.geom, 0.0005), 6)
    FROM zone z WHERE z.id = :zone_id
    """
)
EPISODE_SQL: Final = text(
    "SELECT first_seen_at, last_seen_at, occurrences, worst_distance_m, last_sighting_id, "
    "assigned_to, assigned_at, closed_reason, incident_id, sighting_id, workplace_id, zone_id "
    "FROM alert WHERE id = :id"
)


def notes_of(*, session: Session, alert_id: int) -> list[dict[str, Any]]:
    """The alert's triage history, oldest first (free text: for roles with personal data)."""
    return [
        {
            "id": r.id,
            "author": r.author,
            "agency": r.agency,
            "action": r.action,
            "body": r.body,
            "created_at": wib(r.created_at),
        }
        for r in session.execute(NOTES_SQL, {"id": alert_id})
    ]


def triage_record(*, session: Session, alert_id: int) -> dict[str, Any]:
    """Episode span, assignee, notes and where the subjects are (roles with personal data)."""
    row = session.execute(EPISODE_SQL, {"id": alert_id}).first()
    if row is None:
        return {}
    sightings = [s for s in {row.sighting_id, row.last_sighting_id} if s is not None]
    subjects = [
        {"kind": s.kind, "id": s.id, "label": s.label, "geometry": s.geometry}
        for s in session.execute(
            SUBJECTS_SQL,
            {
                "workplace_id": row.workplace_id,
                "incident_id": row.incident_id,
                "sighting_ids": sorted(sightings),
                "zone_id": row.zone_id,
            },
        )
    ]
    for s in subjects:
        s["geometry"] = orjson.loads(s["geometry"]) if s["geometry"] else None
    return {
        "first_seen_at": wib(row.first_seen_at),
        "last_seen_at": wib(row.last_seen_at),
        "occurrences": row.occurrences,
        "worst_distance_m": (
            round(row.worst_distance_m, 1) if row.worst_distance_m is not None else None
        ),
        "assigned_to": row.assigned_to,
        "assigned_at": wib(row.assigned_at),
        "closed_reason": row.closed_reason,
        "notes": notes_of(session=session, alert_id=alert_id),
        "subject_places": subjects,
    }
