"""SQL of the per-sighting rules in batch: one pass over the sightings for four rules' facts.

On write each rule reads its few rows itself. In batch every rule would scan all the sightings
in scope and join their foreigners again; instead one pass computes, per sighting, whether it
is near the border, sighted after its permit expired, a KITAS holder far from the sponsor, or a
PLB holder outside the PLB area, and keeps only the sightings for which one of them holds
(with the columns the alerts carry) in a temporary table the rule statements then read. A
disabled rule's fact is the constant false. The filter tests the cheap facts first, so the PLB
fact (an index probe) is evaluated for PLB holders' sightings that none of the others keeps,
and again in the select list only for the rows kept.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text

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

# The near sightings of the batch for sighting_near_border (its on-write target reads sighting).
BORDER_TARGET_IN_BATCH: Final = "pg_temp.alert_batch_sighting s WHERE s.near_border"
