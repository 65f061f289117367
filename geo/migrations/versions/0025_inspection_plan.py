"""Inspection plans: the workplaces a team inspects on a day or in a week, in visiting order.

Revision ID: 0025
Revises: 0024

- ``inspection_plan``: who made it (and under which role), for which day or week, from which
  start point, within which route length and number of stops, for which kecamatan, the ranking's
  parameters and weights, the route (one line per day) and its length (docs/risk.md).
- ``inspection_plan_stop``: the stops in order (``position`` over the plan, ``visit_on`` the
  day), each with its workplace, the leg from the previous stop, the score and factors as roles
  without personal data see them (counts of persons below 3 as "<3"), the agencies to involve,
  and ``reasons``: the exact factor values and the persons behind them, kept only when the
  plan's author may see personal data. ``reasons`` is personal: ``timpora_aggregate`` may
  neither read nor write it (docs/privacy.md). Planners write plans, so the aggregate role may
  insert the other columns.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
STOP_COLUMNS = (
    "id, plan_id, position, visit_on, workplace_id, workplace_name, geom, leg_m, score, "
    "risk_rank, factors, agencies"
)
STOP_WRITABLE = (
    "plan_id, position, visit_on, workplace_id, workplace_name, geom, leg_m, score, "
    "risk_rank, factors, agencies"
)

UPGRADE_SQL = """
CREATE TABLE inspection_plan (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    created_by_role varchar(16) NOT NULL,
    period varchar(4) NOT NULL CHECK (period IN ('day', 'week')),
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    kecamatan_code varchar(32),
    start_name varchar(200),
    start_geom geometry(Point, 4326) NOT NULL,
    max_route_km double precision NOT NULL CHECK (max_route_km > 0 AND max_route_km <= 1000),
    max_stops smallint NOT NULL CHECK (max_stops BETWEEN 1 AND 60),
    route_length_m double precision NOT NULL CHECK (route_length_m >= 0),
    route_geom geometry(MultiLineString, 4326),
    total_score double precision NOT NULL DEFAULT 0,
    parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT ck_inspection_plan_days CHECK (ends_on >= starts_on AND ends_on - starts_on < 7)
);
CREATE INDEX ix_inspection_plan_starts_on ON inspection_plan (starts_on);

CREATE TABLE inspection_plan_stop (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES inspection_plan (id) ON DELETE CASCADE,
    position smallint NOT NULL CHECK (position >= 1),
    visit_on date NOT NULL,
    workplace_id integer REFERENCES workplace (id) ON DELETE SET NULL,
    workplace_name varchar(200) NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    leg_m double precision NOT NULL CHECK (leg_m >= 0),
    score double precision NOT NULL,
    risk_rank integer,
    factors jsonb NOT NULL,
    agencies jsonb NOT NULL,
    reasons jsonb,
    CONSTRAINT uq_inspection_plan_stop_position UNIQUE (plan_id, position)
);
CREATE INDEX ix_inspection_plan_stop_workplace ON inspection_plan_stop (workplace_id);
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)
    op.execute(f"GRANT SELECT, INSERT ON inspection_plan TO {AGGREGATE}")
    op.execute(f"GRANT SELECT ({STOP_COLUMNS}) ON inspection_plan_stop TO {AGGREGATE}")
    op.execute(f"GRANT INSERT ({STOP_WRITABLE}) ON inspection_plan_stop TO {AGGREGATE}")
    op.execute(
        "GRANT USAGE ON SEQUENCE inspection_plan_id_seq, inspection_plan_stop_id_seq "
        f"TO {AGGREGATE}"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS inspection_plan_stop")
    op.execute("DROP TABLE IF EXISTS inspection_plan")
