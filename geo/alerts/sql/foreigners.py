"""Trigger query of the foreigner rule ``permit_expiring``: the narrowest notice window
containing the days left (WIB date), evaluated daily in batch and when a foreigner is written.
One episode per foreigner and expiry date: the next, narrower notice is an occurrence of it."""

from __future__ import annotations

from typing import Final

PERMIT_EXPIRING_TRIGGERS: Final = """
SELECT 'permit_expiring:foreigner=' || f.id || '\\:expires=' || f.permit_expires_on
           AS episode_key,
       win.window_days::bigint AS ord, NULL::text AS restart,
       NULL::int AS incident_id, NULL::bigint AS sighting_id, f.id AS foreigner_id,
       f.sponsor_workplace_id AS workplace_id, NULL::int AS zone_id,
       jsonb_strip_nulls(jsonb_build_object('foreigner_id', f.id,
                                            'workplace_id', f.sponsor_workplace_id)) AS subjects,
       NULL::float8 AS distance_m, f.geom, f.kecamatan_code, f.kecamatan_name, f.desa_code,
       f.desa_name,
       jsonb_build_object('permit_type', f.permit_type, 'permit_expires_on', f.permit_expires_on,
                          'window_days', win.window_days) AS details,
       (f.permit_expires_on - win.window_days)::timestamp AT TIME ZONE 'Asia/Pontianak'
           AS event_at
FROM foreigner f
CROSS JOIN LATERAL (
    SELECT min(w) AS window_days FROM unnest(CAST(:windows_days AS int[])) AS w
    WHERE f.permit_expires_on - CAST(:today AS date) BETWEEN 0 AND w
) win
WHERE {scope} AND f.status = 'active' AND f.permit_expires_on IS NOT NULL
  AND win.window_days IS NOT NULL
"""
