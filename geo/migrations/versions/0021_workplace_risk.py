"""Workplace risk ranking: the factors' weights and one set-based function over the regency.

Revision ID: 0021
Revises: 0020

``risk_weight`` holds one weight per named factor (docs/risk.md), seeded with the documented
defaults; administrators change them through the API (audited). ``timpora_workplace_risk(...)``
computes every workplace's factor values in one statement. It reads the foreigner registry and
the sightings, which ``timpora_aggregate`` may not, so it is ``SECURITY DEFINER`` and returns
counts per workplace only, never a person's id; the service suppresses counts of persons below 3
for roles without personal data (docs/privacy.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
PERSONAL = "timpora_personal"

# The documented defaults (docs/risk.md); geo.risk.DEFAULT_WEIGHTS says the same.
DEFAULTS = (
    ("over_quota", 3.0),
    ("expired_permits", 3.0),
    ("expiring_permits", 1.0),
    ("sighted_elsewhere", 3.0),
    ("open_alerts", 1.0),
    ("incidents", 0.1),
    ("border_proximity", 1.0),
)

FUNCTION = """
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
"""
SIGNATURE = "timpora_workplace_risk(date, double precision, integer, integer, double precision)"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE risk_weight (
            factor varchar(32) PRIMARY KEY,
            weight double precision NOT NULL CHECK (weight >= 0 AND weight <= 100),
            updated_at timestamptz NOT NULL DEFAULT now(),
            updated_by varchar(100)
        )
        """
    )
    values = ", ".join(f"('{factor}', {weight})" for factor, weight in DEFAULTS)
    op.execute(f"INSERT INTO risk_weight (factor, weight) VALUES {values}")
    op.execute(f"GRANT SELECT ON risk_weight TO {AGGREGATE}")
    op.execute(FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {PERSONAL}, {AGGREGATE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute("DROP TABLE IF EXISTS risk_weight")
