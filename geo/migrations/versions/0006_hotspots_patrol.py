"""Hotspots and patrol planning: patrol log.

Where and when patrols went, so that a plan can favour cells not patrolled recently.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "patrol_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("patrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("radius_m", sa.Double(), server_default="1000", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
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
        sa.CheckConstraint(
            "radius_m > 0 AND radius_m <= 50000", name=op.f("ck_patrol_log_radius_m")
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= patrolled_at", name=op.f("ck_patrol_log_ended_at")
        ),
        sa.CheckConstraint(
            "geom IS NULL OR (ST_X(ST_Centroid(geom)) BETWEEN -180 AND 180 "
            "AND ST_Y(ST_Centroid(geom)) BETWEEN -90 AND 90)",
            name=op.f("ck_patrol_log_geom_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_log")),
    )
    op.create_geospatial_index(
        "ix_patrol_log_geom",
        "patrol_log",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_patrol_log_geom_utm",
        "patrol_log",
        ["geom_utm"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_patrol_log_patrolled_at", "patrol_log", ["patrolled_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patrol_log_patrolled_at", table_name="patrol_log")
    op.drop_geospatial_index(
        "ix_patrol_log_geom_utm",
        table_name="patrol_log",
        postgresql_using="gist",
        column_name="geom_utm",
    )
    op.drop_geospatial_index(
        "ix_patrol_log_geom", table_name="patrol_log", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("patrol_log")
