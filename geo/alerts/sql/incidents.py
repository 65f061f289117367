"""SQL of the incident rules: ``incident_near_workplace`` and ``incident_cluster``.

``incident_cluster``: incident A completes a cluster when at least N incidents (A included) lie
within R of A in the T days up to A; it alerts unless an earlier incident within R and T of A
already completed one.
"""

from __future__ import annotations

from typing import Final

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
