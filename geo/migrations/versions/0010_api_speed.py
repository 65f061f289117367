"""API speed: count grids for the point layers' low-zoom vector tiles.

Revision ID: 0010
Revises: 0008

``sighting_grid`` and ``incident_grid`` hold how many rows fall in each cell of the Web
Mercator (EPSG:3857) pixel grid at levels 12 to 17 (a level-L cell is 1/64 of a zoom L-6 tile,
so a tile at zoom z < 12 reads level z+6: 64 x 64 cells), per UTC month of the row's time, and
in all (``month = '-infinity'``, what a tile without a time window reads). A tile
below zoom 12 then sums at most a few thousand grid rows instead of counting up to every row of
the table. Levels under 12 are sums of level 12 (a few hundred rows for the whole regency).

Statement-level triggers with transition tables keep the grids in step with INSERT, UPDATE
(geometry or time changed) and DELETE in the writing transaction, set-based: a bulk load of a
million rows updates the grid once, from its transition table, and deferring the location
trigger (``timpora.defer_locate``) does not affect it. TRUNCATE empties the grid. Grid rows are
upserted in key order, so concurrent writers take row locks in the same order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"  # 0009 was reserved for sharding, which needed no schema
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HALF = "20037508.342789244"  # half the Web Mercator world, metres
FINEST = 17
COARSEST = 12
LAYERS = {"sighting": "observed_at", "incident": "occurred_at"}
# The month of the all-time totals: a tile without a time window reads one row per cell.
ALL_TIME = "date '-infinity'"

# The level-17 cell and UTC month of the rows of a transition table.
CELLS = f"""
    SELECT floor((ST_X(p) + {HALF}) / ({HALF} * 2 / 2 ^ {FINEST}))::int AS cx,
           floor((ST_Y(p) + {HALF}) / ({HALF} * 2 / 2 ^ {FINEST}))::int AS cy,
           date_trunc('month', at AT TIME ZONE 'UTC')::date AS month
    FROM (SELECT ST_Transform(geom, 3857) AS p, {{time}} AS at FROM {{rows}}
          WHERE geom IS NOT NULL) s
"""

TABLE = """
CREATE TABLE {table}_grid (
    level smallint NOT NULL,
    cx integer NOT NULL,
    cy integer NOT NULL,
    month date NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (level, cx, cy, month)
);
CREATE INDEX ix_{table}_grid_emptied ON {table}_grid (level) WHERE n <= 0;
COMMENT ON TABLE {table}_grid IS
    'Rows of {table} per EPSG:3857 cell (levels {coarsest}-{finest}) and UTC month; '
    'kept by statement triggers (migration 0010), read by low-zoom vector tiles';
"""

# Each branch reads only the transition tables its trigger declares: plpgsql plans a statement
# when it first runs it. An UPDATE counts only the rows whose geometry or time changed
# (relocating a million rows after a bulk load changes neither).
FUNCTION = """
CREATE FUNCTION timpora_{table}_grid_trg() RETURNS trigger
LANGUAGE plpgsql
-- Transition tables have no statistics: the planner guesses a few rows and would join old and
-- new rows of a bulk UPDATE with a nested loop (quadratic); a hash join is linear.
SET enable_nestloop = off
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE {table}_grid;
    ELSIF TG_OP = 'INSERT' THEN
        {insert}
    ELSIF TG_OP = 'DELETE' THEN
        {delete}
        DELETE FROM {table}_grid WHERE n <= 0;
    ELSE
        {update}
        DELETE FROM {table}_grid WHERE n <= 0;
    END IF;
    RETURN NULL;
END;
$$;
"""

MOVED = """(SELECT {side}.geom, {side}.{time} FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE n.geom IS DISTINCT FROM o.geom OR n.{time} IS DISTINCT FROM o.{time}) moved"""

# Signed counts per level-17 cell and month, rolled up to every stored level and to the all-time
# row, upserted in key order (concurrent writers lock grid rows in the same order).
UPSERT = """
        INSERT INTO {table}_grid AS g (level, cx, cy, month, n)
        SELECT l.level, d.cx >> ({finest} - l.level), d.cy >> ({finest} - l.level), m.month,
               sum(d.dn)
        FROM ({delta}) d CROSS JOIN generate_series({coarsest}, {finest}) AS l(level)
        CROSS JOIN LATERAL (VALUES (d.month), ({ALL_TIME})) AS m(month)
        GROUP BY 1, 2, 3, 4
        HAVING sum(d.dn) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, cx, cy, month) DO UPDATE SET n = g.n + excluded.n;"""

TRIGGERS = """
CREATE TRIGGER trg_{table}_grid_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION timpora_{table}_grid_trg();
CREATE TRIGGER trg_{table}_grid_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION timpora_{table}_grid_trg();
CREATE TRIGGER trg_{table}_grid_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION timpora_{table}_grid_trg();
CREATE TRIGGER trg_{table}_grid_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION timpora_{table}_grid_trg();
"""


def _upsert(table: str, delta: str) -> str:
    return UPSERT.format(
        table=table, delta=delta, finest=FINEST, coarsest=COARSEST, ALL_TIME=ALL_TIME
    )


def _signed(cells: str, sign: int) -> str:
    return f"SELECT c.cx, c.cy, c.month, {sign} AS dn FROM ({cells}) c"


def function_sql(table: str, time: str) -> str:
    new = CELLS.format(time=time, rows="new_rows")
    old = CELLS.format(time=time, rows="old_rows")
    moved_new = CELLS.format(time=time, rows=MOVED.format(side="n", time=time))
    moved_old = CELLS.format(time=time, rows=MOVED.format(side="o", time=time))
    return FUNCTION.format(
        table=table,
        insert=_upsert(table, _signed(new, 1)),
        delete=_upsert(table, _signed(old, -1)),
        update=_upsert(table, f"{_signed(moved_new, 1)} UNION ALL {_signed(moved_old, -1)}"),
    )


def fill_sql(table: str, time: str) -> str:
    """The grid of the rows already there (also what a rebuild runs)."""
    return _upsert(table, _signed(CELLS.format(time=time, rows=table), 1))


def upgrade() -> None:
    for table, time in LAYERS.items():
        op.execute(TABLE.format(table=table, finest=FINEST, coarsest=COARSEST))
        op.execute(function_sql(table, time))
        op.execute(TRIGGERS.format(table=table))
        op.execute(fill_sql(table, time))


def downgrade() -> None:
    for table in LAYERS:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_grid_{event} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS timpora_{table}_grid_trg()")
        op.execute(f"DROP TABLE IF EXISTS {table}_grid")
