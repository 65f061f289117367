"""Database roles: the service works under roles that cannot read what its callers may not see.

Revision ID: 0015
Revises: 0014

``timpora_personal`` (administrators, analysts, coordinators) reads and writes every table but
only appends to ``audit_log``. ``timpora_aggregate`` (planners, viewers) reads no personal column
(column privileges: counts per cell, desa or kecamatan stay plain SQL over the columns left, so
the grids, choropleths and hotspot counts run unchanged), no alert about a person (row-level
security on ``alert``), and per-workplace worker counts only through ``workplace_workers``,
which leaves counts below 3 out. Both are NOLOGIN: the service's login is a NOINHERIT member of
both (``geo.roles``). Tables made by later migrations reach ``timpora_personal`` through default
privileges and ``timpora_aggregate`` only by an explicit grant (docs/privacy.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL = "timpora_personal"
AGGREGATE = "timpora_aggregate"
ROLES = (PERSONAL, AGGREGATE)

# Whole tables a planner or viewer may read: geography, zones, rules, workplaces, count grids,
# patrol logs and patrol teams' tracks (staff on duty, not foreigners).
AGGREGATE_TABLES = (
    "admin_area",
    "reference_feature",
    "locate_piece",
    "zone",
    "zone_piece",
    "alert_rule",
    "workplace",
    "sighting_grid",
    "incident_grid",
    "patrol_log",
    "patrol_team",
    "track_position",
)
# Columns left readable where the rest of a row is personal (never an id that links a person).
AREA = "kecamatan_code, kecamatan_name, desa_code, desa_name"
AGGREGATE_COLUMNS = {
    "foreigner": f"status, permit_type, {AREA}, created_at, updated_at",
    "sighting": f"id, observed_at, source, out_of_area, geom, geom_utm, {AREA}, distance_to_border_m, border_side, created_at",
    "incident": f"id, kind, severity, status, occurred_at, workplace_id, geom, geom_utm, {AREA}, distance_to_border_m, border_side, created_at, updated_at",
    "field_device": "id, team_id, name, kind, created_by, created_at, revoked_at, last_seen_at",
    "alert": f"id, rule_id, rule_kind, severity, status, dedup_key, incident_id, sighting_id, foreigner_id, workplace_id, zone_id, subjects, distance_m, geom, {AREA}, event_at, created_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by",
}

WORKPLACE_WORKERS = """
CREATE VIEW workplace_workers WITH (security_barrier) AS
SELECT sponsor_workplace_id AS workplace_id,
       CASE WHEN count(*) >= 3 THEN count(*)::int END AS foreign_workers
  FROM foreigner
 WHERE sponsor_workplace_id IS NOT NULL AND status = 'active'
 GROUP BY sponsor_workplace_id
"""


def upgrade() -> None:
    for role in ROLES:
        op.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
        )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {PERSONAL}, {AGGREGATE}")

    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {PERSONAL}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {PERSONAL}")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {PERSONAL}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {PERSONAL}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {PERSONAL}"
    )

    op.execute(f"GRANT SELECT ON {', '.join(AGGREGATE_TABLES)} TO {AGGREGATE}")
    for table, columns in AGGREGATE_COLUMNS.items():
        op.execute(f"GRANT SELECT ({columns}) ON {table} TO {AGGREGATE}")
    op.execute(f"GRANT INSERT ON audit_log, patrol_log TO {AGGREGATE}")
    op.execute(f"GRANT USAGE ON SEQUENCE audit_log_id_seq, patrol_log_id_seq TO {AGGREGATE}")

    op.execute(WORKPLACE_WORKERS)
    op.execute(f"GRANT SELECT ON workplace_workers TO {PERSONAL}, {AGGREGATE}")

    op.execute("ALTER TABLE alert ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY alert_personal ON alert TO {PERSONAL} USING (true) WITH CHECK (true)"
    )
    op.execute(
        f"CREATE POLICY alert_aggregate ON alert FOR SELECT TO {AGGREGATE} "
        "USING (foreigner_id IS NULL AND sighting_id IS NULL)"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS alert_aggregate ON alert")
    op.execute("DROP POLICY IF EXISTS alert_personal ON alert")
    op.execute("ALTER TABLE alert DISABLE ROW LEVEL SECURITY")
    op.execute("DROP VIEW IF EXISTS workplace_workers")
    for role in ROLES:
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {role}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM {role}"
        )
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
        op.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")
        # Roles belong to the cluster: another database on it may still grant them something.
        op.execute(
            f"DO $$ BEGIN DROP ROLE IF EXISTS {role}; "
            "EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$"
        )
