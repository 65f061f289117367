CREATE FUNCTION timpora_workplace_risk(
    as_of date, radius_m double precision, window_days integer, expiring_days integer,
    border_scale_m double precision, min_days integer, sponsor_away_m double precision,
    horizon_days integer
)
RETURNS TABLE (
    workplace_id integer, active_workers integer, over_quota integer, expired_permits integer,
    expiring_permits integer, sighted_elsewhere integer, open_alerts integer, incidents integer,
    border_m double precision, border_proximity double precision,
    last_inspected_on date, days_since_inspection integer, sponsor_violations integer
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
-- Foreigners seen working at a site that is not their sponsor's: within the radius on
-- min_days distinct days (WIB) of the window, the sponsor's own site more than
-- sponsor_away_m away; lodging reports do not count.
seen AS (
    SELECT w.id AS wid, s.foreigner_id
      FROM workplace w
      JOIN sighting s
        ON ST_DWithin(s.geom_utm, w.geom_utm, radius_m)
       AND s.observed_at >= as_of - window_days AND s.observed_at < as_of + 1
       AND s.source <> 'lodging'
      JOIN foreigner f ON f.id = s.foreigner_id
      JOIN workplace sw ON sw.id = f.sponsor_workplace_id
     WHERE sw.id <> w.id AND NOT ST_DWithin(sw.geom_utm, w.geom_utm, sponsor_away_m)
     GROUP BY w.id, s.foreigner_id
    HAVING count(DISTINCT (s.observed_at AT TIME ZONE 'Asia/Jakarta')::date) >= min_days
),
elsewhere AS (
    SELECT wid, count(*)::int AS n FROM seen GROUP BY wid
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
),
-- The last inspection on or before as_of (voided ones do not count).
inspected AS (
    SELECT i.workplace_id AS wid, max(i.inspected_on) AS last_on
      FROM inspection i
     WHERE i.voided_at IS NULL AND i.inspected_on <= as_of
     GROUP BY i.workplace_id
),
-- Confirmed violations of the window: the foreigner, their sponsor (as the registry holds it
-- now) and the workplace where the inspection found them.
violations AS (
    SELECT DISTINCT x.foreigner_id, f.sponsor_workplace_id AS sponsor, i.workplace_id AS found_at
      FROM inspection_finding x
      JOIN inspection i ON i.id = x.inspection_id
      JOIN foreigner f ON f.id = x.foreigner_id
     WHERE x.finding IN ('permit_expired', 'working_outside_sponsor', 'no_documents', 'overstay')
       AND i.voided_at IS NULL
       AND i.inspected_on > as_of - window_days AND i.inspected_on <= as_of
       AND f.sponsor_workplace_id IS NOT NULL
),
-- The workplaces that share the violator's sponsor: the sponsor's own site, and the sites where
-- the sponsor's other workers are seen working (as in ``seen``); never the inspected site.
linked AS (
    SELECT v.sponsor AS wid, v.foreigner_id
      FROM violations v
     WHERE v.sponsor <> v.found_at
    UNION
    SELECT s.wid, v.foreigner_id
      FROM violations v
      JOIN foreigner mate
        ON mate.sponsor_workplace_id = v.sponsor AND mate.status = 'active'
      JOIN seen s ON s.foreigner_id = mate.id
     WHERE s.wid <> v.found_at
),
shared AS (
    SELECT wid, count(DISTINCT foreigner_id)::int AS n FROM linked GROUP BY wid
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
            ELSE greatest(0, 1 - w.distance_to_border_m / border_scale_m) END,
       p.last_on,
       least(coalesce(as_of - p.last_on, horizon_days), horizon_days),
       coalesce(sh.n, 0)
  FROM workplace w
  LEFT JOIN workers k ON k.wid = w.id
  LEFT JOIN elsewhere e ON e.wid = w.id
  LEFT JOIN alerts a ON a.wid = w.id
  LEFT JOIN incidents i ON i.wid = w.id
  LEFT JOIN inspected p ON p.wid = w.id
  LEFT JOIN shared sh ON sh.wid = w.id
$$
