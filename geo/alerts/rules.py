"""The rule catalogue of DESIGN §6 as set-based SQL.

Every rule is one ``INSERT INTO alert ... SELECT ... ON CONFLICT (dedup_key) DO NOTHING``. The
same statement serves both paths: on write it is restricted to the written ids (``{scope}`` is
``x.id = ANY(:ids)``), in batch to records since a time. Each rule's definition depends only on
the data at or before the triggering record (previous sightings, earlier incidents), never on
which alerts already exist, so evaluating rows one by one as they are written (in time order)
and evaluating them all at once give the same alert set.

Distances are exact, in EPSG:32649, with ``ST_DWithin``/``ST_Distance`` on ``geom_utm`` (the
border distance is the column ``distance_to_border_m`` the location trigger filled with
``ST_Distance`` on the same pieces). No buffer polygons are used for a distance test.

Semantics that need a word (see docs/alerts.md):

- ``sighting_near_border``: a sighting of a foreigner *enters* the near state when it lies
  within D on the Indonesian side and the foreigner's latest earlier sighting outside the
  hysteresis band (D, D + H] was not near (or there was none); sightings inside the band keep the
  state as it was. An entry raises an alert unless another entry of that foreigner happened in the
  cooldown before it. Anonymous sightings (no foreigner) alert each.
- ``sighting_in_zone``: entry into an active zone of the configured kinds: the foreigner's
  previous sighting was outside that zone, or there was none.
- Permit rules compare the permit expiry with the sighting's own date (WIB).
- ``incident_cluster``: incident A completes a cluster when at least N incidents (A included)
  lie within R of A in the T days up to A; it alerts unless an earlier incident within R and T
  of A already completed one.
- ``permit_expiring``: the narrowest notice window containing the days left (WIB date).

Dedup keys are rule + subjects + time window, so concurrent writers collapse onto one row;
on-write evaluation also takes a transaction-level advisory lock per foreigner (and one for
incident clusters) so that state-based rules see each other's committed rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.errors import ValidationError

WIB: Final = ZoneInfo("Asia/Pontianak")
LAYERS: Final = ("sightings", "incidents", "workplaces", "foreigners")

# Advisory-lock namespaces (pg_advisory_xact_lock(class, id)).
LOCK_FOREIGNER: Final = 0x7A1E
LOCK_INCIDENT_CLUSTER: Final = 0x7A1F

ALERT_COLUMNS: Final = """
    rule_id, rule_kind, severity, dedup_key, incident_id, sighting_id, foreigner_id,
    workplace_id, zone_id, subjects, distance_m, geom, kecamatan_code, kecamatan_name,
    desa_code, desa_name, details, event_at
"""

# ---------------------------------------------------------------------------------------------
# Rule SQL. ``{scope}`` is filled from code (never from users) with one of the SCOPES below.

INCIDENT_NEAR_WORKPLACE_SQL: Final = """
INSERT INTO alert ({columns})
SELECT :rule_id, 'incident_near_workplace', :severity,
       'incident_near_workplace:incident=' || i.id || '\\:workplace=' || w.id,
       i.id, NULL, NULL, w.id, NULL,
       jsonb_build_object('incident_id', i.id, 'workplace_id', w.id),
       ST_Distance(i.geom_utm, w.geom_utm), i.geom,
       i.kecamatan_code, i.kecamatan_name, i.desa_code, i.desa_name,
       jsonb_build_object('radius_m', CAST(:radius_m AS float8), 'incident_kind', i.kind,
                          'incident_severity', i.severity, 'workplace_name', w.name),
       i.occurred_at
FROM {driver}
ORDER BY i.occurred_at, i.id, w.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

# Driven from the small table: each workplace probes the incident (or sighting) GiST index.
INW_DRIVER_BY_WORKPLACE: Final = """
workplace w
CROSS JOIN LATERAL (
    SELECT i.* FROM incident i
    WHERE ST_DWithin(i.geom_utm, w.geom_utm, :radius_m) AND {scope}
) i
WHERE {wscope}
"""
INW_DRIVER_BY_INCIDENT: Final = """
incident i
JOIN workplace w ON ST_DWithin(w.geom_utm, i.geom_utm, :radius_m)
WHERE {scope}
"""

SIGHTING_NEAR_BORDER_SQL: Final = """
WITH target AS (
    SELECT s.id, s.observed_at, s.foreigner_id FROM sighting s
    WHERE {scope} AND s.border_side = 'ID' AND s.distance_to_border_m <= :distance_m
),
near AS (
    SELECT s.id, s.observed_at, s.foreigner_id FROM sighting s
    WHERE s.foreigner_id IN (SELECT t.foreigner_id FROM target t)
      AND s.border_side = 'ID' AND s.distance_to_border_m <= :distance_m
      AND s.observed_at >= (SELECT min(t.observed_at) FROM target t) - :cooldown
      AND s.observed_at <= (SELECT max(t.observed_at) FROM target t)
),
entry AS (
    SELECT n.id, n.observed_at, n.foreigner_id,
           lag(n.observed_at) OVER (PARTITION BY n.foreigner_id
                                    ORDER BY n.observed_at, n.id) AS previous_entry_at
    FROM near n
    LEFT JOIN LATERAL (
        SELECT p.border_side = 'ID' AND p.distance_to_border_m <= :distance_m AS was_near
        FROM sighting p
        WHERE p.foreigner_id = n.foreigner_id
          AND (p.observed_at, p.id) < (n.observed_at, n.id)
          AND NOT coalesce(p.border_side = 'ID' AND p.distance_to_border_m > :distance_m
                           AND p.distance_to_border_m <= :rearm_m, false)
        ORDER BY p.observed_at DESC, p.id DESC
        LIMIT 1
    ) prev ON true
    WHERE NOT coalesce(prev.was_near, false)
),
fire AS (
    SELECT t.id, t.observed_at FROM target t WHERE t.foreigner_id IS NULL
    UNION ALL
    SELECT e.id, e.observed_at FROM entry e
    JOIN target t ON t.id = e.id AND t.observed_at = e.observed_at
    WHERE e.previous_entry_at IS NULL OR e.previous_entry_at < e.observed_at - :cooldown
)
INSERT INTO alert ({columns})
SELECT :rule_id, 'sighting_near_border', :severity,
       CASE WHEN s.foreigner_id IS NULL
            THEN 'sighting_near_border:sighting=' || s.id
            ELSE 'sighting_near_border:foreigner=' || s.foreigner_id || '\\:window='
                 || floor(extract(epoch FROM s.observed_at) / :cooldown_s)::bigint
       END,
       NULL, s.id, s.foreigner_id, NULL, NULL,
       jsonb_strip_nulls(jsonb_build_object('sighting_id', s.id,
                                            'foreigner_id', s.foreigner_id)),
       s.distance_to_border_m, s.geom,
       s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('threshold_m', CAST(:distance_m AS float8),
                          'hysteresis_m', CAST(:hysteresis_m AS float8),
                          'cooldown_h', CAST(:cooldown_h AS float8), 'source', s.source),
       s.observed_at
FROM fire
JOIN sighting s ON s.id = fire.id AND s.observed_at = fire.observed_at
ORDER BY s.observed_at, s.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

SIGHTING_IN_ZONE_SQL: Final = """
INSERT INTO alert ({columns})
SELECT :rule_id, 'sighting_in_zone', :severity,
       'sighting_in_zone:zone=' || z.id || '\\:sighting=' || s.id,
       NULL, s.id, s.foreigner_id, NULL, z.id,
       jsonb_strip_nulls(jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                                            'zone_id', z.id)),
       NULL, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('zone_name', z.name, 'zone_kind', z.kind, 'source', s.source),
       s.observed_at
FROM sighting s
JOIN zone z ON z.active AND z.kind = ANY(CAST(:zone_kinds AS text[]))
           AND ST_Intersects(z.geom_utm, s.geom_utm)
LEFT JOIN LATERAL (
    SELECT p.geom_utm FROM sighting p
    WHERE p.foreigner_id = s.foreigner_id AND (p.observed_at, p.id) < (s.observed_at, s.id)
    ORDER BY p.observed_at DESC, p.id DESC
    LIMIT 1
) prev ON true
WHERE {scope}
  AND (prev.geom_utm IS NULL OR NOT ST_Intersects(z.geom_utm, prev.geom_utm))
ORDER BY s.observed_at, s.id, z.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

# Per foreigner and WIB day: the earliest sighting of the day carries the alert.
PER_DAY_KEY: Final = (
    "'{rule}:foreigner=' || s.foreigner_id || '\\:day=' "
    "|| to_char(s.observed_at AT TIME ZONE 'Asia/Pontianak', 'YYYY-MM-DD')"
)

EXPIRED_PERMIT_SIGHTING_SQL: Final = """
INSERT INTO alert ({columns})
SELECT DISTINCT ON (dedup_key) {columns} FROM (
    SELECT :rule_id AS rule_id, 'expired_permit_sighting' AS rule_kind, :severity AS severity,
           {day_key} AS dedup_key,
           NULL::int AS incident_id, s.id AS sighting_id, s.foreigner_id,
           NULL::int AS workplace_id, NULL::int AS zone_id,
           jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id) AS subjects,
           NULL::float8 AS distance_m, s.geom,
           s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
           jsonb_build_object('permit_type', f.permit_type,
                              'permit_expires_on', f.permit_expires_on,
                              'days_overdue', (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date
                                              - f.permit_expires_on) AS details,
           s.observed_at AS event_at, s.id AS order_id
    FROM sighting s
    JOIN foreigner f ON f.id = s.foreigner_id
    WHERE {scope} AND f.permit_expires_on IS NOT NULL
      AND f.permit_expires_on < (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date
) c
ORDER BY dedup_key, event_at, order_id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

PLB_OUTSIDE_AREA_SQL: Final = """
INSERT INTO alert ({columns})
SELECT DISTINCT ON (dedup_key) {columns} FROM (
    SELECT :rule_id AS rule_id, 'plb_outside_area' AS rule_kind, :severity AS severity,
           {day_key} AS dedup_key,
           NULL::int AS incident_id, s.id AS sighting_id, s.foreigner_id,
           NULL::int AS workplace_id, a.zone_id,
           jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                              'zone_id', a.zone_id) AS subjects,
           a.distance_m, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
           jsonb_build_object('permit_type', f.permit_type, 'zone_name', a.zone_name) AS details,
           s.observed_at AS event_at, s.id AS order_id
    FROM sighting s
    JOIN foreigner f ON f.id = s.foreigner_id AND f.permit_type = 'PLB'
    CROSS JOIN LATERAL (
        SELECT z.id AS zone_id, z.name AS zone_name,
               ST_Distance(z.geom_utm, s.geom_utm) AS distance_m
        FROM zone z WHERE z.active AND z.kind = 'plb_area'
        ORDER BY ST_Distance(z.geom_utm, s.geom_utm), z.id
        LIMIT 1
    ) a
    WHERE {scope} AND a.distance_m > 0
) c
ORDER BY dedup_key, event_at, order_id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

FAR_FROM_SPONSOR_SQL: Final = """
INSERT INTO alert ({columns})
SELECT DISTINCT ON (dedup_key) {columns} FROM (
    SELECT :rule_id AS rule_id, 'far_from_sponsor' AS rule_kind, :severity AS severity,
           {day_key} AS dedup_key,
           NULL::int AS incident_id, s.id AS sighting_id, s.foreigner_id,
           w.id AS workplace_id, NULL::int AS zone_id,
           jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                              'workplace_id', w.id) AS subjects,
           ST_Distance(s.geom_utm, w.geom_utm) AS distance_m, s.geom,
           s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
           jsonb_build_object('threshold_m', CAST(:distance_m AS float8),
                              'workplace_name', w.name) AS details,
           s.observed_at AS event_at, s.id AS order_id
    FROM sighting s
    JOIN foreigner f ON f.id = s.foreigner_id AND f.permit_type = 'KITAS'
    JOIN workplace w ON w.id = f.sponsor_workplace_id
    WHERE {scope} AND NOT ST_DWithin(s.geom_utm, w.geom_utm, :distance_m)
) c
ORDER BY dedup_key, event_at, order_id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

INCIDENT_CLUSTER_SQL: Final = """
WITH target AS (
    SELECT i.id, i.occurred_at, i.geom_utm FROM incident i WHERE {scope}
),
anchor AS (  -- the targets and later incidents whose window a (backdated) target joins
    SELECT t.id, t.occurred_at, t.geom_utm FROM target t
    UNION
    SELECT a.id, a.occurred_at, a.geom_utm FROM target t
    JOIN incident a ON ST_DWithin(a.geom_utm, t.geom_utm, :radius_m)
     AND (a.occurred_at, a.id) > (t.occurred_at, t.id)
     AND a.occurred_at <= t.occurred_at + :window
),
candidate AS (  -- the anchors and the earlier incidents that may have completed a cluster first
    SELECT a.id, a.occurred_at, a.geom_utm FROM anchor a
    UNION
    SELECT b.id, b.occurred_at, b.geom_utm FROM anchor a
    JOIN incident b ON ST_DWithin(b.geom_utm, a.geom_utm, :radius_m)
     AND (b.occurred_at, b.id) < (a.occurred_at, a.id)
     AND b.occurred_at >= a.occurred_at - :window
),
complete AS (
    SELECT c.id, c.occurred_at, c.geom_utm, m.ids, m.max_distance_m FROM candidate c
    CROSS JOIN LATERAL (
        SELECT array_agg(j.id ORDER BY j.id) AS ids, count(*) AS n,
               max(ST_Distance(j.geom_utm, c.geom_utm)) AS max_distance_m
        FROM incident j
        WHERE ST_DWithin(j.geom_utm, c.geom_utm, :radius_m)
          AND (j.occurred_at, j.id) <= (c.occurred_at, c.id)
          AND j.occurred_at >= c.occurred_at - :window
    ) m
    WHERE m.n >= :min_incidents
)
INSERT INTO alert ({columns})
SELECT :rule_id, 'incident_cluster', :severity,
       'incident_cluster:incident=' || i.id,
       i.id, NULL, NULL, NULL, NULL,
       jsonb_build_object('incident_id', i.id, 'incident_ids', to_jsonb(q.ids)),
       q.max_distance_m, i.geom, i.kecamatan_code, i.kecamatan_name, i.desa_code, i.desa_name,
       jsonb_build_object('min_incidents', CAST(:min_incidents AS int),
                          'radius_m', CAST(:radius_m AS float8),
                          'window_days', CAST(:window_days AS float8),
                          'incident_count', cardinality(q.ids)),
       i.occurred_at
FROM complete q
JOIN anchor a ON a.id = q.id
JOIN incident i ON i.id = q.id
WHERE NOT EXISTS (
    SELECT 1 FROM complete b
    WHERE b.id <> q.id AND ST_DWithin(b.geom_utm, q.geom_utm, :radius_m)
      AND (b.occurred_at, b.id) < (q.occurred_at, q.id)
      AND b.occurred_at >= q.occurred_at - :window
)
ORDER BY i.occurred_at, i.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

PERMIT_EXPIRING_SQL: Final = """
INSERT INTO alert ({columns})
SELECT :rule_id, 'permit_expiring', :severity,
       'permit_expiring:foreigner=' || f.id || '\\:expires=' || f.permit_expires_on
       || '\\:window=' || win.window_days,
       NULL, NULL, f.id, f.sponsor_workplace_id, NULL,
       jsonb_strip_nulls(jsonb_build_object('foreigner_id', f.id,
                                            'workplace_id', f.sponsor_workplace_id)),
       NULL, f.geom, f.kecamatan_code, f.kecamatan_name, f.desa_code, f.desa_name,
       jsonb_build_object('permit_type', f.permit_type, 'permit_expires_on', f.permit_expires_on,
                          'window_days', win.window_days),
       (f.permit_expires_on - win.window_days)::timestamp AT TIME ZONE 'Asia/Pontianak'
FROM foreigner f
CROSS JOIN LATERAL (
    SELECT min(w) AS window_days FROM unnest(CAST(:windows_days AS int[])) AS w
    WHERE f.permit_expires_on - CAST(:today AS date) BETWEEN 0 AND w
) win
WHERE {scope} AND f.status = 'active' AND f.permit_expires_on IS NOT NULL
  AND win.window_days IS NOT NULL
ORDER BY f.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

LOCK_FOREIGNERS_SQL: Final = text(
    """
    SELECT count(pg_advisory_xact_lock(:cls, f.foreigner_id))
    FROM (SELECT DISTINCT foreigner_id FROM sighting
          WHERE id = ANY(:ids) AND foreigner_id IS NOT NULL ORDER BY 1) f
    """
)
LOCK_CLUSTER_SQL: Final = text("SELECT pg_advisory_xact_lock(:cls, 0)")
RULES_SQL: Final = text("SELECT id, kind, parameters, severity, enabled FROM alert_rule")


# ---------------------------------------------------------------------------------------------
# Parameters: defaults (also seeded by migration 0005) and their bounds, for validation.


@dataclass(frozen=True)
class Param:
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, name: str, value: Any) -> Any:
        if self.kind is list:
            return _check_list(name, value, self)
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(
                    f"{name} must be a number; got {value!r}", field=name, value=value
                )
            value = float(value)
        elif self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError(
                f"{name} must be an integer; got {value!r}", field=name, value=value
            )
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(
                f"{name} must be at least {self.minimum:g}; got {value!r}", field=name, value=value
            )
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(
                f"{name} must be at most {self.maximum:g}; got {value!r}", field=name, value=value
            )
        return value


def _check_list(name: str, value: Any, spec: Param) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{name} must be a non-empty list; got {value!r}", field=name)
    out: list[Any] = []
    for item in value:
        if spec.choices:
            if item not in spec.choices:
                raise ValidationError(
                    f"{name}: {item!r} is not one of {', '.join(spec.choices)}",
                    field=name,
                    value=item,
                )
        elif (
            isinstance(item, bool)
            or not isinstance(item, int)
            or not ((spec.minimum or 0) <= item <= (spec.maximum or item))
        ):
            raise ValidationError(
                f"{name}: each value must be an integer from {spec.minimum:g} to "
                f"{spec.maximum:g}; got {item!r}",
                field=name,
                value=item,
            )
        out.append(item)
    return out


PARAMETERS: Final[dict[str, dict[str, Param]]] = {
    "incident_near_workplace": {"radius_m": Param(float, 1, 50_000)},
    "sighting_near_border": {
        "distance_m": Param(float, 1, 100_000),
        "cooldown_h": Param(float, 0, 24 * 365),
        "hysteresis_m": Param(float, 0, 50_000),
    },
    "sighting_in_zone": {
        "zone_kinds": Param(
            list, choices=("watch", "restricted", "patrol_sector", "border_band", "plb_area")
        )
    },
    "expired_permit_sighting": {},
    "plb_outside_area": {},
    "far_from_sponsor": {"distance_m": Param(float, 1, 1_000_000)},
    "incident_cluster": {
        "min_incidents": Param(int, 2, 1000),
        "radius_m": Param(float, 1, 100_000),
        "window_days": Param(float, 0.01, 3650),
    },
    "permit_expiring": {"windows_days": Param(list, 0, 3650)},
}

DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "incident_near_workplace": {"radius_m": 500.0},
    "sighting_near_border": {"distance_m": 2000.0, "cooldown_h": 24.0, "hysteresis_m": 250.0},
    "sighting_in_zone": {"zone_kinds": ["watch", "restricted"]},
    "expired_permit_sighting": {},
    "plb_outside_area": {},
    "far_from_sponsor": {"distance_m": 25_000.0},
    "incident_cluster": {"min_incidents": 3, "radius_m": 1000.0, "window_days": 14.0},
    "permit_expiring": {"windows_days": [30, 7]},
}


def validate_parameters(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` checked against the rule's schema; errors name ``parameters.<name>``."""
    if kind not in PARAMETERS:
        raise ValidationError(f"unknown rule {kind!r}", field="kind", value=kind)
    spec = PARAMETERS[kind]
    if not isinstance(parameters, dict):
        raise ValidationError("parameters must be an object", field="parameters")
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if name not in spec:
            allowed = ", ".join(spec) or "none"
            raise ValidationError(
                f"parameters.{name}: rule {kind} has no such parameter (allowed: {allowed})",
                field=f"parameters.{name}",
                value=name,
            )
        out[name] = spec[name].check(f"parameters.{name}", value)
    return out


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    parameters: dict[str, Any]
    severity: int
    enabled: bool


def load_rules(session: Session) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for row in session.execute(RULES_SQL):
        params = {**DEFAULTS.get(row.kind, {}), **(row.parameters or {})}
        rules[row.kind] = Rule(row.id, row.kind, params, row.severity, row.enabled)
    return rules


# ---------------------------------------------------------------------------------------------
# Statement assembly.

# What restricts each statement: on write, the written ids; in batch, records since a time.
SCOPES: Final[dict[str, dict[str, str]]] = {
    "ids": {
        "sighting": "s.id = ANY(:ids)",
        "incident": "i.id = ANY(:ids)",
        "workplace": "w.id = ANY(:ids)",
        "foreigner": "f.id = ANY(:ids)",
    },
    "since": {
        "sighting": "s.observed_at >= :since",
        "incident": "i.occurred_at >= :since",
        "workplace": "true",
        "foreigner": "true",
    },
}


def _sql(template: str, **parts: str) -> TextClause:
    return text(template.format(columns=ALERT_COLUMNS, **parts))


def _statements(mode: str) -> dict[str, list[TextClause]]:
    sc = SCOPES[mode]
    inw_by_incident = _sql(
        INCIDENT_NEAR_WORKPLACE_SQL,
        driver=INW_DRIVER_BY_INCIDENT.format(scope=sc["incident"]),
    )
    inw_by_workplace = _sql(
        INCIDENT_NEAR_WORKPLACE_SQL,
        driver=INW_DRIVER_BY_WORKPLACE.format(
            scope=sc["incident"] if mode == "since" else "true", wscope=sc["workplace"]
        ),
    )

    def day(rule: str) -> str:
        return PER_DAY_KEY.format(rule=rule)

    return {
        "incident_near_workplace": [inw_by_workplace if mode == "since" else inw_by_incident],
        "incident_near_workplace@workplaces": [inw_by_workplace],
        "sighting_near_border": [_sql(SIGHTING_NEAR_BORDER_SQL, scope=sc["sighting"])],
        "sighting_in_zone": [_sql(SIGHTING_IN_ZONE_SQL, scope=sc["sighting"])],
        "expired_permit_sighting": [
            _sql(
                EXPIRED_PERMIT_SIGHTING_SQL,
                scope=sc["sighting"],
                day_key=day("expired_permit_sighting"),
            )
        ],
        "plb_outside_area": [
            _sql(PLB_OUTSIDE_AREA_SQL, scope=sc["sighting"], day_key=day("plb_outside_area"))
        ],
        "far_from_sponsor": [
            _sql(FAR_FROM_SPONSOR_SQL, scope=sc["sighting"], day_key=day("far_from_sponsor"))
        ],
        "incident_cluster": [_sql(INCIDENT_CLUSTER_SQL, scope=sc["incident"])],
        "permit_expiring": [_sql(PERMIT_EXPIRING_SQL, scope=sc["foreigner"])],
    }


STATEMENTS: Final = {mode: _statements(mode) for mode in SCOPES}

# Which rules a write of each layer can trigger.
LAYER_RULES: Final[dict[str, tuple[str, ...]]] = {
    "sightings": (
        "sighting_near_border",
        "sighting_in_zone",
        "expired_permit_sighting",
        "plb_outside_area",
        "far_from_sponsor",
    ),
    "incidents": ("incident_near_workplace", "incident_cluster"),
    "workplaces": ("incident_near_workplace@workplaces",),
    "foreigners": ("permit_expiring",),
}
BATCH_RULES: Final = (
    "incident_near_workplace",
    "incident_cluster",
    "sighting_near_border",
    "sighting_in_zone",
    "expired_permit_sighting",
    "plb_outside_area",
    "far_from_sponsor",
    "permit_expiring",
)


def today_wib(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(WIB).date()


def _bind(rule: Rule, today: dt.date) -> dict[str, Any]:
    p = rule.parameters
    values: dict[str, Any] = {"rule_id": rule.id, "severity": rule.severity, "today": today}
    if rule.kind == "incident_near_workplace":
        values["radius_m"] = float(p["radius_m"])
    elif rule.kind == "sighting_near_border":
        cooldown_s = max(float(p["cooldown_h"]) * 3600.0, 1.0)
        values.update(
            distance_m=float(p["distance_m"]),
            hysteresis_m=float(p["hysteresis_m"]),
            rearm_m=float(p["distance_m"]) + float(p["hysteresis_m"]),
            cooldown_h=float(p["cooldown_h"]),
            cooldown_s=cooldown_s,
            cooldown=dt.timedelta(seconds=float(p["cooldown_h"]) * 3600.0),
        )
    elif rule.kind == "sighting_in_zone":
        values["zone_kinds"] = list(p["zone_kinds"])
    elif rule.kind == "far_from_sponsor":
        values["distance_m"] = float(p["distance_m"])
    elif rule.kind == "incident_cluster":
        values.update(
            min_incidents=int(p["min_incidents"]),
            radius_m=float(p["radius_m"]),
            window_days=float(p["window_days"]),
            window=dt.timedelta(days=float(p["window_days"])),
        )
    elif rule.kind == "permit_expiring":
        values["windows_days"] = sorted(int(w) for w in p["windows_days"])
    return values


def _run(
    session: Session,
    mode: str,
    names: tuple[str, ...],
    extra: dict[str, Any],
    today: dt.date,
    counts: dict[str, int] | None = None,
) -> list[int]:
    rules = load_rules(session)
    created: list[int] = []
    for name in names:
        kind = name.split("@", 1)[0]
        rule = rules.get(kind)
        if rule is None or not rule.enabled:
            continue
        params = {**_bind(rule, today), **extra}
        n = 0
        for stmt in STATEMENTS[mode][name]:
            ids = list(session.execute(stmt, params).scalars())
            created.extend(ids)
            n += len(ids)
        if counts is not None:
            counts[kind] = counts.get(kind, 0) + n
    return created


def evaluate_for(
    *, session: Session, layer: str, ids: list[int], today: dt.date | None = None
) -> list[int]:
    """Evaluate the rules a write of ``ids`` in ``layer`` can trigger; return new alert ids.

    Runs in the caller's transaction (no commit), right after the write, so the alerts commit or
    roll back with it. ``today`` (WIB) only matters for ``permit_expiring``.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}; got {layer!r}")
    ids = sorted({int(i) for i in ids})
    if not ids:
        return []
    if layer == "sightings":
        session.execute(LOCK_FOREIGNERS_SQL, {"cls": LOCK_FOREIGNER, "ids": ids})
    elif layer == "incidents":
        session.execute(LOCK_CLUSTER_SQL, {"cls": LOCK_INCIDENT_CLUSTER})
    return _run(session, "ids", LAYER_RULES[layer], {"ids": ids}, today or today_wib())


def run_batch(
    *,
    session: Session,
    since: dt.datetime | None = None,
    today: dt.date | None = None,
    rules: tuple[str, ...] | None = None,
) -> dict[str, int]:
    """Evaluate every enabled rule over all records (or those since ``since``).

    Returns the number of new alerts per rule. Runs in the caller's transaction.
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=WIB)
    names = rules or BATCH_RULES
    unknown = [n for n in names if n not in BATCH_RULES]
    if unknown:
        raise ValidationError(f"unknown rule {unknown[0]!r}", field="rule", value=unknown[0])
    counts: dict[str, int] = {n: 0 for n in names}
    extra = {"since": since or dt.datetime(1900, 1, 1, tzinfo=dt.UTC)}
    _run(session, "since", names, extra, today or today_wib(), counts)
    return counts
