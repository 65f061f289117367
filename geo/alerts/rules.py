"""The rule catalogue (docs/alerts.md) as set-based SQL.

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
import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from geo.alerts.prepared import (
    BATCH_SETTINGS_SQL,
    BIND,
    FORCE_GENERIC_SQL,
    RESTORE_BATCH_SETTINGS_SQL,
    RESTORE_PLAN_MODE_SQL,
    Prepared,
    execute_prepared,
    prepared,
)
from geo.errors import ValidationError
from geo.times import WIB

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

# State-changing sightings (not in the hysteresis band (D, D + H]) of the targets' foreigners,
# in time order: an entry is a near one whose previous state-changing sighting was not near.
# One window pass replaces a per-sighting look-up of the previous sighting.
SIGHTING_NEAR_BORDER_SQL: Final = """
WITH target AS MATERIALIZED (
    SELECT s.id, s.observed_at, s.foreigner_id, s.distance_to_border_m, s.geom,
           s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name, s.source
    FROM {target}
),
state AS (
    SELECT h.id, h.observed_at, h.foreigner_id,
           coalesce(h.border_side = 'ID' AND h.distance_to_border_m <= :distance_m, false)
               AS is_near
    FROM sighting h
    WHERE h.foreigner_id IN (SELECT t.foreigner_id FROM target t)
      AND h.observed_at <= (SELECT max(t.observed_at) FROM target t)
      AND NOT coalesce(h.border_side = 'ID' AND h.distance_to_border_m > :distance_m
                       AND h.distance_to_border_m <= :rearm_m, false)
),
entry AS (
    SELECT e.id, e.observed_at, e.foreigner_id,
           lag(e.observed_at) OVER (PARTITION BY e.foreigner_id
                                    ORDER BY e.observed_at, e.id) AS previous_entry_at
    FROM (
        SELECT st.id, st.observed_at, st.foreigner_id, st.is_near,
               lag(st.is_near) OVER (PARTITION BY st.foreigner_id
                                     ORDER BY st.observed_at, st.id) AS was_near
        FROM state st
    ) e
    WHERE e.is_near AND NOT coalesce(e.was_near, false)
),
fire AS (
    SELECT t.* FROM target t WHERE t.foreigner_id IS NULL
    UNION ALL
    SELECT t.* FROM entry e
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
FROM fire s
ORDER BY s.observed_at, s.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

# The near sightings in scope: on write read from sighting, in batch from the facts table.
BORDER_TARGET_BY_SCOPE: Final = (
    "sighting s WHERE {scope} AND s.border_side = 'ID' AND s.distance_to_border_m <= :distance_m"
)
BORDER_TARGET_IN_BATCH: Final = "pg_temp.alert_batch_sighting s WHERE s.near_border"

# Zone entry. Containment is tested on the zone's subdivided pieces (zone_piece, active zones
# only, kept by a trigger), never on the whole polygon. {entry} decides whether the previous
# sighting of the foreigner was outside the zone (ZONE_ENTRY_* below).
SIGHTING_IN_ZONE_SQL: Final = """
WITH hit AS MATERIALIZED (
    SELECT DISTINCT ON (s.id, zp.zone_id) s.id, s.observed_at, s.foreigner_id, zp.zone_id,
           s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name, s.source
    FROM zone_piece zp
    JOIN sighting s ON ST_Intersects(zp.geom_utm, s.geom_utm)
    WHERE zp.kind = ANY(CAST(:zone_kinds AS text[])) AND {scope}
    ORDER BY s.id, zp.zone_id
),
seq AS (
    SELECT h.*, lag(h.observed_at) OVER w AS prev_hit_at, lag(h.id) OVER w AS prev_hit_id
    FROM hit h
    WINDOW w AS (PARTITION BY h.foreigner_id, h.zone_id ORDER BY h.observed_at, h.id)
)
INSERT INTO alert ({columns})
SELECT :rule_id, 'sighting_in_zone', :severity,
       'sighting_in_zone:zone=' || z.id || '\\:sighting=' || s.id,
       NULL, s.id, s.foreigner_id, NULL, z.id,
       jsonb_strip_nulls(jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                                            'zone_id', z.id)),
       NULL, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('zone_name', z.name, 'zone_kind', z.kind, 'source', s.source),
       s.observed_at
FROM seq h
JOIN zone z ON z.id = h.zone_id
CROSS JOIN LATERAL (SELECT h.*) s
WHERE h.foreigner_id IS NULL OR {entry}
ORDER BY s.observed_at, s.id, z.id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

# The latest earlier sighting of the foreigner, whatever it is, was outside the zone (or none).
ZONE_ENTRY_BY_PREVIOUS: Final = """NOT EXISTS (
    SELECT 1 FROM (
        SELECT p.geom_utm FROM sighting p
        WHERE p.foreigner_id = h.foreigner_id AND p.observed_at <= h.observed_at
          AND (p.observed_at, p.id) < (h.observed_at, h.id)
        ORDER BY p.observed_at DESC, p.id DESC
        LIMIT 1
    ) p
    WHERE EXISTS (SELECT 1 FROM zone_piece q
                  WHERE q.zone_id = h.zone_id AND ST_Intersects(q.geom_utm, p.geom_utm))
)"""
# In batch every sighting since T is in scope, so for a hit whose foreigner had an earlier hit
# of the same zone in scope, the previous sighting was inside the zone exactly when no
# sighting of the foreigner lies between the two hits (any such sighting is in scope and not a
# hit, so outside). Only a foreigner's first hit needs the look-up of the previous sighting.
ZONE_ENTRY_IN_BATCH: Final = (
    """CASE WHEN h.prev_hit_at IS NULL THEN """
    + ZONE_ENTRY_BY_PREVIOUS
    + """
ELSE EXISTS (
    SELECT 1 FROM sighting b
    WHERE b.foreigner_id = h.foreigner_id
      AND b.observed_at >= h.prev_hit_at AND b.observed_at <= h.observed_at
      AND (b.observed_at, b.id) > (h.prev_hit_at, h.prev_hit_id)
      AND (b.observed_at, b.id) < (h.observed_at, h.id)
) END"""
)

# Per foreigner and WIB day: the earliest sighting of the day carries the alert.
PER_DAY_KEY: Final = (
    "'{rule}:foreigner=' || s.foreigner_id || '\\:day=' "
    "|| to_char(s.observed_at AT TIME ZONE 'Asia/Pontianak', 'YYYY-MM-DD')"
)

# permit_expires_on < the sighting's WIB date, also written as a range on observed_at so an
# index on (foreigner_id, observed_at) and partition pruning can serve it.
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
    FROM foreigner f
    JOIN sighting s ON s.foreigner_id = f.id
     AND s.observed_at >= ((f.permit_expires_on + 1)::timestamp AT TIME ZONE 'Asia/Pontianak')
    WHERE {scope} AND f.permit_expires_on IS NOT NULL
      AND f.permit_expires_on < (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date
) c
ORDER BY dedup_key, event_at, order_id
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

# Outside every active PLB area zone: no piece contains the sighting (an indexed
# point-in-polygon on small pieces). The distance to the nearest PLB zone, a true-distance KNN
# over the pieces, is measured only for the sighting that carries the day's alert; ties between
# zones go to the lowest zone id.
PLB_OUTSIDE_AREA_SQL: Final = """
WITH c AS (
    SELECT DISTINCT ON (dedup_key) {day_key} AS dedup_key, f.permit_type, s.id, s.observed_at,
           s.foreigner_id, s.geom, s.geom_utm, s.kecamatan_code, s.kecamatan_name,
           s.desa_code, s.desa_name
    FROM sighting s
    JOIN foreigner f ON f.id = s.foreigner_id AND f.permit_type = 'PLB'
    WHERE {scope}
      AND NOT EXISTS (SELECT 1 FROM zone_piece zp
                      WHERE zp.kind = 'plb_area' AND ST_Intersects(zp.geom_utm, s.geom_utm))
    ORDER BY dedup_key, s.observed_at, s.id
)
INSERT INTO alert ({columns})
SELECT :rule_id, 'plb_outside_area', :severity, c.dedup_key,
       NULL, s.id, s.foreigner_id, NULL, a.zone_id,
       jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                          'zone_id', a.zone_id),
       a.distance_m, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('permit_type', c.permit_type, 'zone_name', z.name),
       s.observed_at
FROM c
CROSS JOIN LATERAL (SELECT c.*) s
CROSS JOIN LATERAL (
    SELECT zp.geom_utm <-> s.geom_utm AS distance_m
    FROM zone_piece zp WHERE zp.kind = 'plb_area'
    ORDER BY zp.geom_utm <-> s.geom_utm
    LIMIT 1
) n
CROSS JOIN LATERAL (  -- the lowest zone id among those at that distance, as before pieces
    SELECT min(zp.zone_id) AS zone_id, n.distance_m FROM zone_piece zp
    WHERE zp.kind = 'plb_area' AND ST_DWithin(zp.geom_utm, s.geom_utm, n.distance_m)
) a
JOIN zone z ON z.id = a.zone_id
ORDER BY c.dedup_key
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

# ---------------------------------------------------------------------------------------------
# Batch: one pass over the sightings in scope for the per-sighting facts of four rules.
#
# On write each rule reads its few rows itself. In batch every rule would scan all the sightings
# in scope and join their foreigners again; instead one pass computes, per sighting, whether it
# is near the border, sighted after its permit expired, a KITAS holder far from the sponsor, or a
# PLB holder outside the PLB area, and keeps only the sightings for which one of them holds
# (with the columns the alerts carry) in a temporary table the rule statements then read. A
# disabled rule's fact is the constant false. The filter tests the cheap facts first, so the PLB
# fact (an index probe) is evaluated for PLB holders' sightings that none of the others keeps,
# and again in the select list only for the rows kept.
BATCH_FACTS_TABLE: Final = "pg_temp.alert_batch_sighting"
BATCH_FACTS_SQL: Final = """
CREATE TEMP TABLE alert_batch_sighting ON COMMIT DROP AS
SELECT s.id, s.observed_at, s.foreigner_id, s.source, s.geom, s.geom_utm,
       s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name, s.distance_to_border_m,
       f.permit_type, f.permit_expires_on,
       w.id AS sponsor_id, w.name AS sponsor_name, w.geom_utm AS sponsor_geom_utm,
       {near_border} AS near_border,
       {expired} AS expired,
       {far_from_sponsor} AS far_from_sponsor,
       {plb_outside} AS plb_outside
FROM sighting s
LEFT JOIN (  -- the expiry as an instant once per foreigner, not per sighting
    SELECT f.id, f.permit_type, f.permit_expires_on, f.sponsor_workplace_id,
           (f.permit_expires_on + 1)::timestamp AT TIME ZONE 'Asia/Pontianak' AS overdue_from
    FROM foreigner f
    OFFSET 0
) f ON f.id = s.foreigner_id
LEFT JOIN workplace w ON w.id = f.sponsor_workplace_id AND f.permit_type = 'KITAS'
WHERE {scope}
  AND ({near_border} OR {expired} OR {far_from_sponsor} OR {plb_outside})
"""
BATCH_FACTS: Final[dict[str, str]] = {
    # Each fact is exactly the condition of the rule's own statement (on write).
    "sighting_near_border": (
        "coalesce(s.border_side = 'ID' AND s.distance_to_border_m <= :near_distance_m, false)"
    ),
    # The range on observed_at first (cheap), the WIB date of the sighting only when it holds.
    "expired_permit_sighting": (
        "coalesce(s.observed_at >= f.overdue_from "
        "AND f.permit_expires_on < (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date, false)"
    ),
    "plb_outside_area": (
        "(coalesce(f.permit_type = 'PLB', false) AND NOT EXISTS ("
        "SELECT 1 FROM zone_piece zp WHERE zp.kind = 'plb_area' "
        "AND ST_Intersects(zp.geom_utm, s.geom_utm)))"
    ),
    "far_from_sponsor": (
        "coalesce(NOT ST_DWithin(s.geom_utm, w.geom_utm, :far_distance_m), false)"
    ),
}
BATCH_FACT_COLUMNS: Final = {
    "sighting_near_border": "near_border",
    "expired_permit_sighting": "expired",
    "plb_outside_area": "plb_outside",
    "far_from_sponsor": "far_from_sponsor",
}
DROP_BATCH_FACTS_SQL: Final = text(f"DROP TABLE IF EXISTS {BATCH_FACTS_TABLE}")

# The earliest sighting per foreigner and WIB day among those with the rule's fact, from the
# facts table (grouped on integers and dates; the dedup key text is built for the kept rows).
# The statements insert in dedup-key order, as before, so alert ids follow the same order.
BATCH_PER_DAY: Final = """(
    SELECT DISTINCT ON (b.foreigner_id, b.day) b.* FROM (
        SELECT t.*, (t.observed_at AT TIME ZONE 'Asia/Pontianak')::date AS day
        FROM pg_temp.alert_batch_sighting t WHERE t.{fact}
    ) b
    ORDER BY b.foreigner_id, b.day, b.observed_at, b.id
) s"""

EXPIRED_PERMIT_SIGHTING_BATCH_SQL: Final = """
INSERT INTO alert ({columns})
SELECT :rule_id, 'expired_permit_sighting', :severity, {day_key},
       NULL, s.id, s.foreigner_id, NULL, NULL,
       jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id),
       NULL, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('permit_type', s.permit_type, 'permit_expires_on', s.permit_expires_on,
                          'days_overdue', s.day - s.permit_expires_on),
       s.observed_at
FROM {per_day}
ORDER BY {day_key}
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

PLB_OUTSIDE_AREA_BATCH_SQL: Final = """
INSERT INTO alert ({columns})
SELECT :rule_id, 'plb_outside_area', :severity, {day_key},
       NULL, s.id, s.foreigner_id, NULL, a.zone_id,
       jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                          'zone_id', a.zone_id),
       a.distance_m, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('permit_type', s.permit_type, 'zone_name', z.name),
       s.observed_at
FROM {per_day}
CROSS JOIN LATERAL (
    -- The nearest-zone search is the costly part, so a day already alerted (a re-run after the
    -- on-write alerts) skips it: the NOT EXISTS names no zone piece, so it gates the search once
    -- per row (a dedup-key index probe). ON CONFLICT still settles races with writers.
    SELECT zp.geom_utm <-> s.geom_utm AS distance_m
    FROM zone_piece zp
    WHERE zp.kind = 'plb_area' AND NOT EXISTS (SELECT 1 FROM alert x WHERE x.dedup_key = {day_key})
    ORDER BY zp.geom_utm <-> s.geom_utm
    LIMIT 1
) n
CROSS JOIN LATERAL (  -- the lowest zone id among those at that distance, as on write
    SELECT min(zp.zone_id) AS zone_id, n.distance_m FROM zone_piece zp
    WHERE zp.kind = 'plb_area' AND ST_DWithin(zp.geom_utm, s.geom_utm, n.distance_m)
) a
JOIN zone z ON z.id = a.zone_id
ORDER BY {day_key}
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

FAR_FROM_SPONSOR_BATCH_SQL: Final = """
INSERT INTO alert ({columns})
SELECT :rule_id, 'far_from_sponsor', :severity, {day_key},
       NULL, s.id, s.foreigner_id, s.sponsor_id, NULL,
       jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id,
                          'workplace_id', s.sponsor_id),
       ST_Distance(s.geom_utm, s.sponsor_geom_utm), s.geom,
       s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name,
       jsonb_build_object('threshold_m', CAST(:distance_m AS float8),
                          'workplace_name', s.sponsor_name),
       s.observed_at
FROM {per_day}
ORDER BY {day_key}
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

# Lock the written sightings' foreigners (in id order, so writers cannot deadlock) and return
# the rows' time bounds, which the rule statements use to prune partitions.
LOCK_FOREIGNERS_SQL: Final = text(
    """
    WITH w AS MATERIALIZED (SELECT foreigner_id, observed_at FROM sighting WHERE id = ANY(:ids)),
    locked AS (
        SELECT count(pg_advisory_xact_lock(:cls, f.foreigner_id)) AS n
        FROM (SELECT DISTINCT foreigner_id FROM w
              WHERE foreigner_id IS NOT NULL ORDER BY 1) f
    )
    SELECT min(w.observed_at), max(w.observed_at), (SELECT n FROM locked) FROM w
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
        # The time bounds of the written rows prune the monthly partitions of sighting.
        "sighting": "s.id = ANY(:ids) AND s.observed_at BETWEEN :at_min AND :at_max",
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

    def per_day(rule: str) -> str:
        return BATCH_PER_DAY.format(fact=BATCH_FACT_COLUMNS[rule])

    if mode == "since":  # the four per-sighting rules read the batch facts table
        border_target = BORDER_TARGET_IN_BATCH
        expired = _sql(
            EXPIRED_PERMIT_SIGHTING_BATCH_SQL,
            per_day=per_day("expired_permit_sighting"),
            day_key=day("expired_permit_sighting"),
        )
        plb = _sql(
            PLB_OUTSIDE_AREA_BATCH_SQL,
            per_day=per_day("plb_outside_area"),
            day_key=day("plb_outside_area"),
        )
        far = _sql(
            FAR_FROM_SPONSOR_BATCH_SQL,
            per_day=per_day("far_from_sponsor"),
            day_key=day("far_from_sponsor"),
        )
    else:
        border_target = BORDER_TARGET_BY_SCOPE.format(scope=sc["sighting"])
        expired = _sql(
            EXPIRED_PERMIT_SIGHTING_SQL,
            scope=sc["sighting"],
            day_key=day("expired_permit_sighting"),
        )
        plb = _sql(PLB_OUTSIDE_AREA_SQL, scope=sc["sighting"], day_key=day("plb_outside_area"))
        far = _sql(FAR_FROM_SPONSOR_SQL, scope=sc["sighting"], day_key=day("far_from_sponsor"))

    return {
        "incident_near_workplace": [inw_by_workplace if mode == "since" else inw_by_incident],
        "incident_near_workplace@workplaces": [inw_by_workplace],
        "sighting_near_border": [_sql(SIGHTING_NEAR_BORDER_SQL, target=border_target)],
        "sighting_in_zone": [
            _sql(
                SIGHTING_IN_ZONE_SQL,
                scope=sc["sighting"],
                entry=ZONE_ENTRY_IN_BATCH if mode == "since" else ZONE_ENTRY_BY_PREVIOUS,
            )
        ],
        "expired_permit_sighting": [expired],
        "plb_outside_area": [plb],
        "far_from_sponsor": [far],
        "incident_cluster": [_sql(INCIDENT_CLUSTER_SQL, scope=sc["incident"])],
        "permit_expiring": [_sql(PERMIT_EXPIRING_SQL, scope=sc["foreigner"])],
    }


def _batch_facts(
    rules: dict[str, Rule], names: tuple[str, ...]
) -> tuple[TextClause, dict[str, Any]] | None:
    """The facts-table statement for the enabled per-sighting rules among ``names``, or None."""
    wanted = [n for n in BATCH_FACTS if n in names and n in rules and rules[n].enabled]
    if not wanted:
        return None
    facts = {
        BATCH_FACT_COLUMNS[n]: (BATCH_FACTS[n] if n in wanted else "false") for n in BATCH_FACTS
    }
    params: dict[str, Any] = {}
    if "sighting_near_border" in wanted:
        params["near_distance_m"] = float(rules["sighting_near_border"].parameters["distance_m"])
    if "far_from_sponsor" in wanted:
        params["far_distance_m"] = float(rules["far_from_sponsor"].parameters["distance_m"])
    stmt = text(BATCH_FACTS_SQL.format(scope=SCOPES["since"]["sighting"], **facts))
    return stmt, params


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


PREPARED_LOCK_FOREIGNERS: Final = prepared("timpora_alert_lock_foreigners", LOCK_FOREIGNERS_SQL)


# On write, the enabled rules of a layer run as ONE statement, each rule's INSERT a
# data-modifying CTE (they share the statement's snapshot, taken after the foreigner locks, and
# none reads another's alerts): one round trip instead of five. Parameters other than the scope
# are renamed per rule (``distance_m`` means 2 km for the border and 25 km for the sponsor).
SHARED_PARAMS: Final = frozenset({"ids", "at_min", "at_max"})
_COMBINED: dict[tuple[str, ...], Prepared] = {}


def _per_rule(kind: str, m: re.Match[str]) -> str:
    return m.group(0) if m.group(1) in SHARED_PARAMS else f":{kind}__{m.group(1)}"


def _combined(names: tuple[str, ...]) -> Prepared:
    """The enabled rules ``names`` (of one layer) as one prepared statement."""
    found = _COMBINED.get(names)
    if found is not None:
        return found
    parts, selects = [], []
    for k, name in enumerate(names):
        kind = name.split("@", 1)[0]
        (stmt,) = STATEMENTS["ids"][name]
        body = BIND.sub(functools.partial(_per_rule, kind), stmt.text)
        parts.append(f"r{k} AS (\n{body.strip()}\n)")
        selects.append(f"SELECT {k} AS r, id FROM r{k}")
    sql = "WITH " + ",\n".join(parts) + "\nSELECT id FROM (" + "\nUNION ALL ".join(selects)
    sql += ") q ORDER BY r, id"
    digest = hashlib.sha256("|".join(names).encode()).hexdigest()[:16]
    found = prepared(f"timpora_alert_write_{digest}", text(sql))
    _COMBINED[names] = found
    return found


def _run(
    session: Session,
    mode: str,
    names: tuple[str, ...],
    extra: dict[str, Any],
    today: dt.date,
    counts: dict[str, int] | None = None,
) -> list[int]:
    rules = load_rules(session)
    enabled = [
        (name, rules[name.split("@", 1)[0]])
        for name in names
        if name.split("@", 1)[0] in rules and rules[name.split("@", 1)[0]].enabled
    ]
    if mode == "ids":
        if not enabled:
            return []
        params = dict(extra)
        for _name, rule in enabled:
            params.update({f"{rule.kind}__{k}": v for k, v in _bind(rule, today).items()})
        prep = _combined(tuple(name for name, _ in enabled))
        return [int(r[0]) for r in execute_prepared(session, prep, params)]
    created: list[int] = []
    facts = _batch_facts(rules, names) if mode == "since" else None
    if facts is not None:
        stmt, params = facts
        session.execute(DROP_BATCH_FACTS_SQL)  # left by an earlier pass in this transaction
        session.execute(stmt, {**params, **extra})
    for name, rule in enabled:
        params = {**_bind(rule, today), **extra}
        n = 0
        for stmt in STATEMENTS[mode][name]:
            ids = list(session.execute(stmt, params).scalars())
            created.extend(ids)
            n += len(ids)
        if counts is not None:
            counts[rule.kind] = counts.get(rule.kind, 0) + n
    if facts is not None:
        session.execute(DROP_BATCH_FACTS_SQL)
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
    extra: dict[str, Any] = {"ids": ids}
    # Generic plans for our prepared statements, the caller's setting back afterwards.
    caller_mode = session.execute(FORCE_GENERIC_SQL).one()[0]
    try:
        if layer == "sightings":
            ((at_min, at_max, _),) = execute_prepared(
                session, PREPARED_LOCK_FOREIGNERS, {"cls": LOCK_FOREIGNER, "ids": ids}
            )
            if at_min is None:
                return []
            extra.update(at_min=at_min, at_max=at_max)
        elif layer == "incidents":
            session.execute(LOCK_CLUSTER_SQL, {"cls": LOCK_INCIDENT_CLUSTER})
        return _run(session, "ids", LAYER_RULES[layer], extra, today or today_wib())
    finally:
        session.execute(RESTORE_PLAN_MODE_SQL, {"mode": caller_mode})


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
    caller = session.execute(BATCH_SETTINGS_SQL).one()
    try:
        _run(session, "since", names, extra, today or today_wib(), counts)
    finally:
        session.execute(RESTORE_BATCH_SETTINGS_SQL, {"work_mem": caller[0], "jit": caller[1]})
    return counts
