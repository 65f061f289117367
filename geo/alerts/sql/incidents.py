"""Trigger queries of the incident rules: ``incident_near_workplace`` and ``incident_cluster``.

- ``incident_near_workplace``: an incident within R of a registered workplace that is the
  incident's own (reported at it), or, for an incident reported at no workplace, the only
  workplace within R (among several, as in a town's shops, the nearness says nothing about any
  one of them, and a hot spot there is the cluster rule's); one episode per workplace.
- ``incident_cluster``: incident A completes a cluster when at least N incidents (A included)
  lie within R of A in the T days up to A; one episode per place: the square of ``cell_m`` (in
  EPSG:32649) that A lies in, so completions there keep it open and a cluster elsewhere in the
  same desa opens an episode of its own (a desa is tens of square kilometres: one episode per
  desa let a busy spot hide every new cluster in it).
"""

from __future__ import annotations

from typing import Final

INCIDENT_NEAR_WORKPLACE_TRIGGERS: Final = """
SELECT 'incident_near_workplace:workplace=' || w.id AS episode_key,
       i.id::bigint AS ord, NULL::text AS restart,
       i.id AS incident_id, NULL::bigint AS sighting_id, NULL::int AS foreigner_id,
       w.id AS workplace_id, NULL::int AS zone_id,
       jsonb_build_object('incident_id', i.id, 'workplace_id', w.id) AS subjects,
       ST_Distance(i.geom_utm, w.geom_utm) AS distance_m, i.geom,
       i.kecamatan_code, i.kecamatan_name, i.desa_code, i.desa_name,
       jsonb_build_object('radius_m', CAST(:radius_m AS float8), 'incident_kind', i.kind,
                          'incident_severity', i.severity, 'workplace_name', w.name) AS details,
       i.occurred_at AS event_at
FROM {driver}
  AND (i.workplace_id = w.id
       OR (i.workplace_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM workplace o
                           WHERE o.id <> w.id
                             AND ST_DWithin(o.geom_utm, i.geom_utm, :radius_m))))
"""

# Driven from the small table: each workplace probes the incident GiST index.
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

# The targets, and the later incidents whose window a (backdated) target joins, are the
# incidents that may complete a cluster now.
INCIDENT_CLUSTER_TRIGGERS: Final = """
WITH target AS (
    SELECT i.id, i.occurred_at, i.geom_utm FROM incident i WHERE {scope}
),
anchor AS (
    SELECT t.id, t.occurred_at, t.geom_utm FROM target t
    UNION
    SELECT a.id, a.occurred_at, a.geom_utm FROM target t
    JOIN incident a ON ST_DWithin(a.geom_utm, t.geom_utm, :radius_m)
     AND (a.occurred_at, a.id) > (t.occurred_at, t.id)
     AND a.occurred_at <= t.occurred_at + :window
)
SELECT 'incident_cluster:cell=' || CAST(:cell_m AS float8) || 'm:'
           || floor(ST_X(i.geom_utm) / :cell_m)::bigint || ','
           || floor(ST_Y(i.geom_utm) / :cell_m)::bigint AS episode_key,
       i.id::bigint AS ord, NULL::text AS restart,
       i.id AS incident_id, NULL::bigint AS sighting_id, NULL::int AS foreigner_id,
       NULL::int AS workplace_id, NULL::int AS zone_id,
       jsonb_build_object('incident_id', i.id, 'incident_ids', to_jsonb(m.ids)) AS subjects,
       m.max_distance_m AS distance_m, i.geom,
       i.kecamatan_code, i.kecamatan_name, i.desa_code, i.desa_name,
       jsonb_build_object('min_incidents', CAST(:min_incidents AS int),
                          'radius_m', CAST(:radius_m AS float8),
                          'window_days', CAST(:window_days AS float8),
                          'cell_m', CAST(:cell_m AS float8),
                          'incident_count', cardinality(m.ids)) AS details,
       i.occurred_at AS event_at
FROM anchor a
JOIN incident i ON i.id = a.id
CROSS JOIN LATERAL (
    SELECT array_agg(j.id ORDER BY j.id) AS ids, count(*) AS n,
           max(ST_Distance(j.geom_utm, a.geom_utm)) AS max_distance_m
    FROM incident j
    WHERE ST_DWithin(j.geom_utm, a.geom_utm, :radius_m)
      AND (j.occurred_at, j.id) <= (a.occurred_at, a.id)
      AND j.occurred_at >= a.occurred_at - :window
) m
WHERE m.n >= :min_incidents
"""
