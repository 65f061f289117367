"""SQL of the per-sighting rules, on write (``sightings_batch`` holds their batch form).

- ``sighting_near_border``: a sighting of a foreigner *enters* the near state when it lies
  within D on the Indonesian side and the foreigner's latest earlier sighting outside the
  hysteresis band (D, D + H] was not near (or there was none); sightings inside the band keep the
  state as it was. An entry raises an alert unless another entry of that foreigner happened in the
  cooldown before it. Anonymous sightings (no foreigner) alert each.
- ``sighting_in_zone``: entry into an active zone of the configured kinds: the foreigner's
  previous sighting was outside that zone, or there was none.
- Permit rules (``expired_permit_sighting``, ``plb_outside_area``, ``far_from_sponsor``) compare
  with the sighting's own date (WIB) and alert once per foreigner and day.
"""

from __future__ import annotations

from typing import Final

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

# The near sightings in scope, on write (in batch: sightings_batch.BORDER_TARGET_IN_BATCH).
BORDER_TARGET_BY_SCOPE: Final = (
    "sighting s WHERE {scope} AND s.border_side = 'ID' AND s.distance_to_border_m <= :distance_m"
)

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
