"""Workplace risk: a sighting counts as "working elsewhere" only away from the sponsor, repeatedly.

Revision ID: 0022
Revises: 0021

Ranked over the demo set, ``sighted_elsewhere`` counted every worker seen near a workplace that
was not their sponsor: in a town, the workers of the shop next door and anyone passing on a
market day. A foreigner now counts only when seen there on at least ``min_days`` distinct days
(WIB) and when their own sponsor's site is more than ``sponsor_away_m`` away (docs/risk.md).
The function takes the two new parameters; the old signature is dropped.
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
PERSONAL = "timpora_personal"
OLD = "timpora_workplace_risk(date, double precision, integer, integer, double precision)"
NEW = (
    "timpora_workplace_risk(date, double precision, integer, integer, double precision, "
    "integer, double precision)"
)

FUNCTION = """
CREATE FUNCTION timpora_workplace_risk(
    as_of date, radius_m double precision, window_days integer, expiring_days integer,
    border_scale_m double precision, min_days integer, sponsor_away_m double precision
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

# 0021's function, for the downgrade.
# Migration 0021's function, restored on downgrade.
OLD_FUNCTION = (Path(__file__).resolve().parents[1] / "sql" / "0021_workplace_risk.sql").read_text()


def _replace(drop: str, create: str, signature: str) -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {drop}")
    op.execute(create)
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {PERSONAL}, {AGGREGATE}")


def upgrade() -> None:
    _replace(OLD, FUNCTION, NEW)


def downgrade() -> None:
    _replace(NEW, OLD_FUNCTION, OLD)
