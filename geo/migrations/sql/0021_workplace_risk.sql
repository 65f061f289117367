CREATE FUNCTION timpora_workplace_risk(
    as_of date, radius_m double precision, window_days integer, expiring_days integer,
    border_scale_m double precision
)
RETURNS TABLE (
    workplace_id integer, active_workers integer, over_quota integer, expired_permits integer,
    expiring_permits integer, sighted_elsewhere integer, open_alerts integer, incidents integer,
    border_m double precision, border_proximity double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
WITH workers AS (
    SELECT f.sponsor_workplace_id AS wid,
           count(*)::int AS active,
           count(*) FILTER (WHERE f.permit_expires_on < as_of)::int AS expired,
           count(*) FILTER (
               WHERE f.permit_expires_on >= as_of
                 AND f.permit_expires_on <= as_of + expiring_days
           )::int AS expiring
      FROM foreigner f
     WHERE f.status = 'active' AND f.sponsor_workplace_id IS NOT NULL
     GROUP BY f.sponsor_workplace_id
),
elsewhere AS (
    SELECT w.id AS wid, count(DISTINCT s.foreigner_id)::int AS n
      FROM workplace w
      JOIN sighting s
        ON ST_DWithin(s.geom_utm, w.geom_utm, radius_m)
       AND s.observed_at >= as_of - window_days AND s.observed_at < as_of + 1
       AND s.source <> 'lodging'
      JOIN foreigner f ON f.id = s.foreigner_id
     WHERE f.sponsor_workplace_id IS NOT NULL AND f.sponsor_workplace_id <> w.id
     GROUP BY w.id
),
alerts AS (
    SELECT w.id AS wid, count(*)::int AS n
      FROM workplace w
      JOIN alert a
        ON a.status IN ('new', 'acknowledged')
       AND (a.workplace_id = w.id
            OR ST_DWithin(ST_Transform(a.geom, 32649), w.geom_utm, radius_m))
     GROUP BY w.id
),
incidents AS (
    SELECT w.id AS wid, count(*)::int AS n
      FROM workplace w
      JOIN incident i
        ON (i.workplace_id = w.id OR ST_DWithin(i.geom_utm, w.geom_utm, radius_m))
       AND i.occurred_at >= as_of - window_days AND i.occurred_at < as_of + 1
     GROUP BY w.id
)
SELECT w.id,
       coalesce(k.active, 0),
       CASE WHEN w.foreign_worker_quota IS NULL THEN 0
            ELSE greatest(coalesce(k.active, 0) - w.foreign_worker_quota, 0) END,
       coalesce(k.expired, 0),
       coalesce(k.expiring, 0),
       coalesce(e.n, 0),
       coalesce(a.n, 0),
       coalesce(i.n, 0),
       w.distance_to_border_m,
       CASE WHEN w.distance_to_border_m IS NULL THEN 0
            ELSE greatest(0, 1 - w.distance_to_border_m / border_scale_m) END
  FROM workplace w
  LEFT JOIN workers k ON k.wid = w.id
  LEFT JOIN elsewhere e ON e.wid = w.id
  LEFT JOIN alerts a ON a.wid = w.id
  LEFT JOIN incidents i ON i.wid = w.id
$$
