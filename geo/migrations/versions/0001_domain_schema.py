"""Domain schema (docs/architecture.md): reference geography, registry, alerts, users, audit.

Sightings are partition-ready: PK (id, observed_at), idempotency key (external_ref,
observed_at), and no foreign key references them.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 12:11:56.464673
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_area",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("parent_code", sa.String(length=20), nullable=True),
        sa.Column("area_km2", sa.Double(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "level IN ('kabupaten', 'kecamatan', 'desa')", name=op.f("ck_admin_area_level")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_area")),
        sa.UniqueConstraint("code", name=op.f("uq_admin_area_code")),
    )
    op.create_geospatial_index(
        "ix_admin_area_geom",
        "admin_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_admin_area_geom_utm",
        "admin_area",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_admin_area_level", "admin_area", ["level"], unique=False)
    op.create_table(
        "alert_rule",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("severity", sa.SmallInteger(), server_default="3", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('incident_near_workplace', 'sighting_near_border', 'sighting_in_zone', 'expired_permit_sighting', 'plb_outside_area', 'far_from_sponsor', 'incident_cluster', 'permit_expiring')",
            name=op.f("ck_alert_rule_kind"),
        ),
        sa.CheckConstraint("severity BETWEEN 1 AND 5", name=op.f("ck_alert_rule_severity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rule")),
        sa.UniqueConstraint("kind", name=op.f("uq_alert_rule_kind")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'analyst', 'coordinator', 'planner', 'viewer')",
            name=op.f("ck_app_user_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("name", name=op.f("uq_app_user_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_user_token_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_name", sa.String(length=100), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("record_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_geospatial_table(
        "reference_feature",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "kind IN ('border', 'coastline', 'land', 'crossing_post', 'town', 'office', 'landmark', 'border_marker', 'label_point')",
            name=op.f("ck_reference_feature_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_feature")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_reference_feature_kind_name")),
    )
    op.create_geospatial_index(
        "ix_reference_feature_geom",
        "reference_feature",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_reference_feature_geom_utm",
        "reference_feature",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "workplace",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=24), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("rptka_number", sa.String(length=64), nullable=True),
        sa.Column("foreign_worker_quota", sa.Integer(), nullable=True),
        sa.Column(
            "footprint",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                geometry_type="POINT",
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.Column("kecamatan_code", sa.String(length=16), nullable=True),
        sa.Column("kecamatan_name", sa.String(length=100), nullable=True),
        sa.Column("desa_code", sa.String(length=20), nullable=True),
        sa.Column("desa_name", sa.String(length=100), nullable=True),
        sa.Column("distance_to_border_m", sa.Double(), nullable=True),
        sa.Column("border_side", sa.String(length=2), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "border_side IS NULL OR border_side IN ('ID', 'MY')",
            name=op.f("ck_workplace_border_side"),
        ),
        sa.CheckConstraint(
            "sector IN ('plantation', 'mining', 'construction', 'fishing', 'trade', 'hospitality', 'education_religious', 'ngo', 'other')",
            name=op.f("ck_workplace_sector"),
        ),
        sa.CheckConstraint(
            "foreign_worker_quota IS NULL OR foreign_worker_quota >= 0",
            name=op.f("ck_workplace_quota"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_X(ST_Centroid(geom)) BETWEEN -180 AND 180 AND ST_Y(ST_Centroid(geom)) BETWEEN -90 AND 90)",
            name=op.f("ck_workplace_geom_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workplace")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_workplace_external_ref")),
    )
    op.create_geospatial_index(
        "ix_workplace_geom",
        "workplace",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_workplace_geom_utm",
        "workplace",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_workplace_kecamatan_code", "workplace", ["kecamatan_code"], unique=False)
    op.create_geospatial_table(
        "zone",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("derived", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "properties",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('border_band', 'watch', 'restricted', 'plb_area', 'patrol_sector')",
            name=op.f("ck_zone_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("name", name=op.f("uq_zone_name")),
    )
    op.create_geospatial_index(
        "ix_zone_geom", "zone", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_geospatial_index(
        "ix_zone_geom_utm",
        "zone",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "alert",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("sighting_id", sa.BigInteger(), nullable=True),
        sa.Column("foreigner_id", sa.Integer(), nullable=True),
        sa.Column("workplace_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column(
            "subjects", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("distance_m", sa.Double(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("kecamatan_code", sa.String(length=16), nullable=True),
        sa.Column("kecamatan_name", sa.String(length=100), nullable=True),
        sa.Column("desa_code", sa.String(length=20), nullable=True),
        sa.Column("desa_name", sa.String(length=100), nullable=True),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolve_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('new', 'acknowledged', 'resolved')", name=op.f("ck_alert_status")
        ),
        sa.CheckConstraint("severity BETWEEN 1 AND 5", name=op.f("ck_alert_severity")),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rule.id"], name=op.f("fk_alert_rule_id_alert_rule")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_alert_dedup_key")),
    )
    op.create_geospatial_index(
        "ix_alert_geom", "alert", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index("ix_alert_rule_kind", "alert", ["rule_kind"], unique=False)
    op.create_index("ix_alert_status_created_at", "alert", ["status", "created_at"], unique=False)
    op.create_geospatial_table(
        "foreigner",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("passport_number", sa.String(length=32), nullable=True),
        sa.Column("permit_type", sa.String(length=16), nullable=False),
        sa.Column("permit_number", sa.String(length=64), nullable=True),
        sa.Column("permit_expires_on", sa.Date(), nullable=True),
        sa.Column("sponsor_workplace_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                geometry_type="POINT",
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.Column("kecamatan_code", sa.String(length=16), nullable=True),
        sa.Column("kecamatan_name", sa.String(length=100), nullable=True),
        sa.Column("desa_code", sa.String(length=20), nullable=True),
        sa.Column("desa_name", sa.String(length=100), nullable=True),
        sa.Column("distance_to_border_m", sa.Double(), nullable=True),
        sa.Column("border_side", sa.String(length=2), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "border_side IS NULL OR border_side IN ('ID', 'MY')",
            name=op.f("ck_foreigner_border_side"),
        ),
        sa.CheckConstraint("nationality ~ '^[A-Z]{3}$'", name=op.f("ck_foreigner_nationality")),
        sa.CheckConstraint(
            "permit_type IN ('KITAS', 'KITAP', 'VISA_KUNJUNGAN', 'VOA', 'PLB', 'OTHER')",
            name=op.f("ck_foreigner_permit_type"),
        ),
        sa.CheckConstraint("sex IS NULL OR sex IN ('M', 'F', 'X')", name=op.f("ck_foreigner_sex")),
        sa.CheckConstraint(
            "status IN ('active', 'departed', 'deported', 'absconded', 'deceased')",
            name=op.f("ck_foreigner_status"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_X(ST_Centroid(geom)) BETWEEN -180 AND 180 AND ST_Y(ST_Centroid(geom)) BETWEEN -90 AND 90)",
            name=op.f("ck_foreigner_geom_range"),
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_workplace_id"],
            ["workplace.id"],
            name=op.f("fk_foreigner_sponsor_workplace_id_workplace"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_foreigner")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_foreigner_external_ref")),
    )
    op.create_geospatial_index(
        "ix_foreigner_geom",
        "foreigner",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_foreigner_geom_utm",
        "foreigner",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_foreigner_kecamatan_code", "foreigner", ["kecamatan_code"], unique=False)
    op.create_index(
        "ix_foreigner_permit_expires_on", "foreigner", ["permit_expires_on"], unique=False
    )
    op.create_index(
        "ix_foreigner_sponsor_workplace_id", "foreigner", ["sponsor_workplace_id"], unique=False
    )
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("workplace_id", sa.Integer(), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                geometry_type="POINT",
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.Column("kecamatan_code", sa.String(length=16), nullable=True),
        sa.Column("kecamatan_name", sa.String(length=100), nullable=True),
        sa.Column("desa_code", sa.String(length=20), nullable=True),
        sa.Column("desa_name", sa.String(length=100), nullable=True),
        sa.Column("distance_to_border_m", sa.Double(), nullable=True),
        sa.Column("border_side", sa.String(length=2), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "border_side IS NULL OR border_side IN ('ID', 'MY')",
            name=op.f("ck_incident_border_side"),
        ),
        sa.CheckConstraint(
            "kind IN ('overstay', 'illegal_work', 'illegal_entry', 'permit_misuse', 'document_fraud', 'smuggling', 'human_trafficking', 'social_unrest', 'other')",
            name=op.f("ck_incident_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'investigating', 'closed')", name=op.f("ck_incident_status")
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_X(ST_Centroid(geom)) BETWEEN -180 AND 180 AND ST_Y(ST_Centroid(geom)) BETWEEN -90 AND 90)",
            name=op.f("ck_incident_geom_range"),
        ),
        sa.CheckConstraint("severity BETWEEN 1 AND 5", name=op.f("ck_incident_severity")),
        sa.ForeignKeyConstraint(
            ["workplace_id"],
            ["workplace.id"],
            name=op.f("fk_incident_workplace_id_workplace"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_incident_external_ref")),
    )
    op.create_geospatial_index(
        "ix_incident_geom",
        "incident",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_incident_geom_utm",
        "incident",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_incident_kecamatan_code", "incident", ["kecamatan_code"], unique=False)
    op.create_index("ix_incident_occurred_at", "incident", ["occurred_at"], unique=False)
    op.create_table(
        "incident_foreigner",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("foreigner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["foreigner_id"],
            ["foreigner.id"],
            name=op.f("fk_incident_foreigner_foreigner_id_foreigner"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_foreigner_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "foreigner_id", name=op.f("pk_incident_foreigner")),
    )
    op.create_geospatial_table(
        "sighting",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("foreigner_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("out_of_area", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "geom_utm",
            Geometry(
                geometry_type="POINT",
                srid=32649,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 32649)", persisted=True),
            nullable=True,
        ),
        sa.Column("kecamatan_code", sa.String(length=16), nullable=True),
        sa.Column("kecamatan_name", sa.String(length=100), nullable=True),
        sa.Column("desa_code", sa.String(length=20), nullable=True),
        sa.Column("desa_name", sa.String(length=100), nullable=True),
        sa.Column("distance_to_border_m", sa.Double(), nullable=True),
        sa.Column("border_side", sa.String(length=2), nullable=True),
        sa.CheckConstraint(
            "border_side IS NULL OR border_side IN ('ID', 'MY')",
            name=op.f("ck_sighting_border_side"),
        ),
        sa.CheckConstraint(
            "source IN ('patrol', 'lodging', 'checkpoint', 'public_report', 'other')",
            name=op.f("ck_sighting_source"),
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_X(ST_Centroid(geom)) BETWEEN -180 AND 180 AND ST_Y(ST_Centroid(geom)) BETWEEN -90 AND 90)",
            name=op.f("ck_sighting_geom_range"),
        ),
        sa.ForeignKeyConstraint(
            ["foreigner_id"],
            ["foreigner.id"],
            name=op.f("fk_sighting_foreigner_id_foreigner"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", "observed_at", name=op.f("pk_sighting")),
        sa.UniqueConstraint(
            "external_ref", "observed_at", name=op.f("uq_sighting_external_ref_observed_at")
        ),
    )
    op.create_index(
        "ix_sighting_foreigner_id_observed_at",
        "sighting",
        ["foreigner_id", "observed_at"],
        unique=False,
    )
    op.create_geospatial_index(
        "ix_sighting_geom",
        "sighting",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_sighting_geom_utm",
        "sighting",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_sighting_kecamatan_code", "sighting", ["kecamatan_code"], unique=False)
    op.create_index("ix_sighting_observed_at", "sighting", ["observed_at"], unique=False)


def downgrade() -> None:
    # The postgis extension stays: other schemas of the database may use it.
    op.drop_index("ix_sighting_observed_at", table_name="sighting")
    op.drop_index("ix_sighting_kecamatan_code", table_name="sighting")
    op.drop_geospatial_index(
        "ix_sighting_geom_utm",
        table_name="sighting",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_sighting_geom", table_name="sighting", postgresql_using="gist", column_name="geom"
    )
    op.drop_index("ix_sighting_foreigner_id_observed_at", table_name="sighting")
    op.drop_geospatial_table("sighting")
    op.drop_table("incident_foreigner")
    op.drop_index("ix_incident_occurred_at", table_name="incident")
    op.drop_index("ix_incident_kecamatan_code", table_name="incident")
    op.drop_geospatial_index(
        "ix_incident_geom_utm",
        table_name="incident",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_incident_geom", table_name="incident", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incident")
    op.drop_index("ix_foreigner_sponsor_workplace_id", table_name="foreigner")
    op.drop_index("ix_foreigner_permit_expires_on", table_name="foreigner")
    op.drop_index("ix_foreigner_kecamatan_code", table_name="foreigner")
    op.drop_geospatial_index(
        "ix_foreigner_geom_utm",
        table_name="foreigner",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_foreigner_geom", table_name="foreigner", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("foreigner")
    op.drop_index("ix_alert_status_created_at", table_name="alert")
    op.drop_index("ix_alert_rule_kind", table_name="alert")
    op.drop_geospatial_index(
        "ix_alert_geom", table_name="alert", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("alert")
    op.drop_geospatial_index(
        "ix_zone_geom_utm", table_name="zone", postgresql_using="gist", column_name="geom_utm"
    )
    op.drop_geospatial_index(
        "ix_zone_geom", table_name="zone", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("zone")
    op.drop_index("ix_workplace_kecamatan_code", table_name="workplace")
    op.drop_geospatial_index(
        "ix_workplace_geom_utm",
        table_name="workplace",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_workplace_geom", table_name="workplace", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("workplace")
    op.drop_geospatial_index(
        "ix_reference_feature_geom_utm",
        table_name="reference_feature",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_reference_feature_geom",
        table_name="reference_feature",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("reference_feature")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("app_user")
    op.drop_table("alert_rule")
    op.drop_index("ix_admin_area_level", table_name="admin_area")
    op.drop_geospatial_index(
        "ix_admin_area_geom_utm",
        table_name="admin_area",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_admin_area_geom", table_name="admin_area", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_area")
