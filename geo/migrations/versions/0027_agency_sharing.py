"""Who made each record, and sharing between agencies held by row-level security.

Revision ID: 0027
Revises: 0026

- ``incident``, ``sighting``, ``patrol_log``, ``alert_note`` and ``audit_log`` get ``agency_id``:
  the agency of the user who made the row. Its default is the request's agency
  (``timpora.agency_id``, set per transaction beside the database role by ``geo.roles``), so every
  write path fills it, the bulk ``COPY`` paths included, without naming the column. Rows written
  before are left without one (``NULL``), as are rows of the command line's operator and of the
  service's own work.
- ``incident``, ``sighting`` and ``patrol_log`` get a sharing level: ``timpora`` (the whole team,
  the default), ``agencies`` (the reporting agency and those in ``shared_with``) or ``agency``
  (the reporting agency only). A trigger refuses to narrow it or to change the reporting agency;
  widening is an ordinary (audited) update.
- Row-level security on those three tables: a permissive policy keeps the role rules as they are
  (the grants), a ``RESTRICTIVE`` one lets the request roles see only rows shared with their
  agency. An unset agency sees only whole-Timpora rows (fail closed); ``service`` is the
  service's own alert evaluation, which must see every row so that alerts on write equal the
  batch. ``alert`` gets a restrictive policy too: an alert about an incident is visible only
  where that incident is (an alert whose incident was deleted stays visible).
- The tile count grids count only whole-Timpora rows: restricted rows are left out of every shared
  aggregate that is precomputed (docs/privacy.md).
- The workplace risk ranking (``SECURITY DEFINER``, past the policies) counts the sightings,
  incidents and incident alerts the caller's agency may see, by the same rule.

``sighting`` has no foreign key to ``agency`` (no per-row check on the import path: the value
comes from the request's setting, not from the client).
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "timpora_personal, timpora_aggregate"
SHARED = ("incident", "sighting", "patrol_log")
STAMPED = ("alert_note", "audit_log")

FUNCTIONS = """
CREATE FUNCTION timpora_request_agency() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN current_setting('timpora.agency_id', true) IN ('', 'service') THEN NULL
                ELSE current_setting('timpora.agency_id', true)::integer END
$$;
COMMENT ON FUNCTION timpora_request_agency() IS
    'The agency of the request (timpora.agency_id); NULL when unset or the service itself';

CREATE FUNCTION timpora_shared_with_request(agency integer, sharing text, shared_with integer[])
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sharing = 'timpora'
        OR current_setting('timpora.agency_id', true) = 'service'
        OR agency = timpora_request_agency()
        OR (sharing = 'agencies' AND timpora_request_agency() = ANY (shared_with))
$$;

-- A partition read by name would escape the policies of sighting: row-level security without a
-- policy on each partition refuses every row to the service's roles (reads through sighting
-- apply sighting's policies). Run after partitions are made; skips what the caller does not own.
CREATE FUNCTION timpora_secure_sighting_partitions() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part regclass;
    made integer := 0;
BEGIN
    FOR part IN
        SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'sighting'::regclass AND NOT c.relrowsecurity
           AND pg_has_role(current_user, c.relowner, 'USAGE')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
        made := made + 1;
    END LOOP;
    RETURN made;
END;
$$;

CREATE FUNCTION timpora_sharing_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.agency_id IS DISTINCT FROM OLD.agency_id THEN
        RAISE EXCEPTION 'the reporting agency of a record does not change (was %, asked %)',
            OLD.agency_id, NEW.agency_id USING ERRCODE = 'check_violation';
    END IF;
    IF (CASE NEW.sharing WHEN 'timpora' THEN 2 WHEN 'agencies' THEN 1 ELSE 0 END)
       < (CASE OLD.sharing WHEN 'timpora' THEN 2 WHEN 'agencies' THEN 1 ELSE 0 END)
       OR (NEW.sharing = 'agencies' AND OLD.sharing = 'agencies'
           AND NOT NEW.shared_with @> OLD.shared_with) THEN
        RAISE EXCEPTION 'sharing is only ever widened (was %, asked %)',
            OLD.sharing, NEW.sharing USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
"""

COLUMNS = """
ALTER TABLE {table}
    ADD COLUMN agency_id integer {references},
    ADD COLUMN sharing varchar(8) NOT NULL DEFAULT 'timpora',
    ADD COLUMN shared_with integer[] NOT NULL DEFAULT '{{}}',
    ADD CONSTRAINT ck_{table}_sharing CHECK (sharing IN ('timpora', 'agencies', 'agency')),
    ADD CONSTRAINT ck_{table}_shared_with CHECK (
        (sharing = 'agencies') = (cardinality(shared_with) > 0)),
    ADD CONSTRAINT ck_{table}_restricted_agency CHECK (
        sharing = 'timpora' OR agency_id IS NOT NULL);
ALTER TABLE {table} ALTER COLUMN agency_id SET DEFAULT timpora_request_agency();
CREATE TRIGGER trg_{table}_sharing BEFORE UPDATE ON {table} FOR EACH ROW
    WHEN (OLD.agency_id IS DISTINCT FROM NEW.agency_id OR OLD.sharing IS DISTINCT FROM NEW.sharing
          OR OLD.shared_with IS DISTINCT FROM NEW.shared_with)
    EXECUTE FUNCTION timpora_sharing_guard();
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {table}_roles ON {table} TO {roles} USING (true) WITH CHECK (true);
CREATE POLICY {table}_agency ON {table} AS RESTRICTIVE TO {roles}
    USING (timpora_shared_with_request(agency_id, sharing, shared_with))
    WITH CHECK (timpora_shared_with_request(agency_id, sharing, shared_with));
CREATE POLICY {table}_agency_insert ON {table} AS RESTRICTIVE FOR INSERT TO {roles}
    WITH CHECK (agency_id IS NOT DISTINCT FROM timpora_request_agency()
                OR current_setting('timpora.agency_id', true) = 'service');
"""

# Whether the incident an alert is about may be seen by the request: looked up with the owner's
# rights (past the incident's own policy), so that an alert whose incident was deleted stays.
ALERT_FUNCTION = """
CREATE FUNCTION timpora_incident_shared_with_request(incident integer) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM incident i
         WHERE i.id = incident
           AND NOT timpora_shared_with_request(i.agency_id, i.sharing, i.shared_with))
$$;
"""
ALERT_POLICY = f"""
CREATE POLICY alert_agency ON alert AS RESTRICTIVE TO {ROLES}
    USING (incident_id IS NULL
           OR current_setting('timpora.agency_id', true) = 'service'
           OR timpora_incident_shared_with_request(incident_id))
"""


def _grid_migration() -> ModuleType:
    """Migration 0010, whose trigger templates the grids' functions are built from."""
    path = Path(__file__).with_name("0010_api_speed.py")
    spec = importlib.util.spec_from_file_location("timpora_migration_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shared_grid_function(grid: ModuleType, table: str, time: str) -> str:
    """The grid trigger of 0010 counting only whole-Timpora rows; an UPDATE also moves a row
    whose sharing widened to the whole team into the grid."""
    mine = "{side}.sharing = 'timpora'"
    moved = (
        "(SELECT {side}.geom, {side}.{time} FROM new_rows n JOIN old_rows o ON o.id = n.id "
        "WHERE " + mine + " AND (n.geom IS DISTINCT FROM o.geom "
        "OR n.{time} IS DISTINCT FROM o.{time} OR n.sharing IS DISTINCT FROM o.sharing)) moved"
    )

    def cells(rows: str) -> str:
        return str(grid.CELLS.format(time=time, rows=rows))

    new = cells(f"(SELECT geom, {time} FROM new_rows WHERE sharing = 'timpora') r")
    old = cells(f"(SELECT geom, {time} FROM old_rows WHERE sharing = 'timpora') r")
    moved_new = cells(moved.format(side="n", time=time))
    moved_old = cells(moved.format(side="o", time=time))
    body = grid.FUNCTION.format(
        table=table,
        insert=grid._upsert(table, grid._signed(new, 1)),
        delete=grid._upsert(table, grid._signed(old, -1)),
        update=grid._upsert(
            table, f"{grid._signed(moved_new, 1)} UNION ALL {grid._signed(moved_old, -1)}"
        ),
    )
    return str(body).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


# The workplace risk ranking (migration 0026) runs with its owner's rights, past the policies:
# it filters by the caller's agency itself, with the same rule (docs/risk.md).
RISK_SQL = Path(__file__).parent.parent / "sql" / "0026_workplace_risk_inspections.sql"
RISK_FILTERS = (
    (
        "       AND s.source <> 'lodging'\n",
        "       AND timpora_shared_with_request(s.agency_id, s.sharing, s.shared_with)\n",
    ),
    (
        "       AND i.occurred_at >= as_of - window_days AND i.occurred_at < as_of + 1\n",
        "       AND timpora_shared_with_request(i.agency_id, i.sharing, i.shared_with)\n",
    ),
    (
        "            OR ST_DWithin(ST_Transform(a.geom, 32649), w.geom_utm, radius_m))\n",
        "       AND (a.incident_id IS NULL OR timpora_incident_shared_with_request(a.incident_id))\n",
    ),
)


def _risk_function(shared: bool) -> str:
    sql = RISK_SQL.read_text().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    if shared:
        for anchor, added in RISK_FILTERS:
            assert sql.count(anchor) == 1, f"risk function changed: {anchor.strip()!r}"
            sql = sql.replace(anchor, anchor + added)
    return sql


def upgrade() -> None:
    op.execute(FUNCTIONS)
    for table in SHARED:
        references = "" if table == "sighting" else "REFERENCES agency (id)"
        op.execute(COLUMNS.format(table=table, references=references, roles=ROLES))
    op.execute(
        "GRANT SELECT (agency_id, sharing, shared_with) ON incident, sighting TO timpora_aggregate"
    )
    op.execute("GRANT INSERT (agency_id, sharing, shared_with) ON patrol_log TO timpora_aggregate")
    for table in STAMPED:
        op.execute(f"ALTER TABLE {table} ADD COLUMN agency_id integer REFERENCES agency (id)")
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN agency_id SET DEFAULT timpora_request_agency()"
        )
    op.execute(ALERT_FUNCTION)
    op.execute(ALERT_POLICY)
    op.execute("SELECT timpora_secure_sighting_partitions()")
    grid = _grid_migration()
    for table, time in grid.LAYERS.items():
        op.execute(_shared_grid_function(grid, table, time))
    op.execute(_risk_function(shared=True))


def downgrade() -> None:
    op.execute(_risk_function(shared=False))
    grid = _grid_migration()
    for table, time in grid.LAYERS.items():
        op.execute(
            grid.function_sql(table, time).replace(
                "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
            )
        )
    op.execute("DROP POLICY alert_agency ON alert")
    op.execute("DROP FUNCTION timpora_incident_shared_with_request(integer)")
    for table in STAMPED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN agency_id")
    for table in SHARED:
        for policy in ("roles", "agency", "agency_insert"):
            op.execute(f"DROP POLICY {table}_{policy} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"DROP TRIGGER trg_{table}_sharing ON {table}")
        op.execute(
            f"ALTER TABLE {table} DROP COLUMN agency_id, DROP COLUMN sharing, "
            "DROP COLUMN shared_with"
        )
    op.execute(
        "DO $$ DECLARE part regclass; BEGIN FOR part IN SELECT inhrelid::regclass FROM pg_inherits "
        "WHERE inhparent = 'sighting'::regclass LOOP "
        "EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', part); END LOOP; END $$"
    )
    op.execute("DROP FUNCTION timpora_secure_sighting_partitions()")
    op.execute("DROP FUNCTION timpora_sharing_guard()")
    op.execute("DROP FUNCTION timpora_shared_with_request(integer, text, integer[])")
    op.execute("DROP FUNCTION timpora_request_agency()")
