"""SQL of the foreigner rule ``permit_expiring``: the narrowest notice window containing the days
left (WIB date), evaluated daily in batch and when a foreigner is written."""

from __future__ import annotations

from typing import Final

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
