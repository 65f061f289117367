"""Sightings partitioned by month (native range partitioning), partitions made ahead.

Revision ID: 0007
Revises: 0006

The old table's rows are copied into the partitioned one, which then takes its name, keys,
indexes, foreign key and location trigger. Downgrade copies them back into a plain table.
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQL = (Path(__file__).resolve().parents[1] / "sql" / "0007_partition_sightings.sql").read_text()

INDEXES = """
ALTER TABLE sighting ADD CONSTRAINT pk_sighting PRIMARY KEY (id, observed_at);
ALTER TABLE sighting ADD CONSTRAINT uq_sighting_external_ref_observed_at
    UNIQUE (external_ref, observed_at);
ALTER TABLE sighting ADD CONSTRAINT fk_sighting_foreigner_id_foreigner
    FOREIGN KEY (foreigner_id) REFERENCES foreigner (id) ON DELETE SET NULL;
CREATE INDEX ix_sighting_geom ON sighting USING gist (geom);
CREATE INDEX ix_sighting_geom_utm ON sighting USING gist (geom_utm);
CREATE INDEX ix_sighting_kecamatan_code ON sighting (kecamatan_code);
CREATE INDEX ix_sighting_observed_at ON sighting (observed_at);
CREATE INDEX ix_sighting_foreigner_id_observed_at ON sighting (foreigner_id, observed_at);
CREATE TRIGGER trg_sighting_locate BEFORE INSERT OR UPDATE OF geom ON sighting
    FOR EACH ROW EXECUTE FUNCTION timpora_locate_trg();
"""


def _copy_rows(src: str, dst: str) -> None:
    # Derived columns are copied as they are: no need to re-locate (the trigger is deferred).
    op.execute("SET LOCAL timpora.defer_locate = 'on'")
    op.execute(
        f"""
        INSERT INTO {dst} (id, observed_at, foreigner_id, source, reported_by, note, out_of_area,
                           external_ref, created_at, geom, kecamatan_code, kecamatan_name,
                           desa_code, desa_name, distance_to_border_m, border_side)
        OVERRIDING SYSTEM VALUE
        SELECT id, observed_at, foreigner_id, source, reported_by, note, out_of_area,
               external_ref, created_at, geom, kecamatan_code, kecamatan_name,
               desa_code, desa_name, distance_to_border_m, border_side
        FROM {src}
        """
    )
    op.execute("SET LOCAL timpora.defer_locate = 'off'")


def _swap(new: str) -> None:
    op.execute("ALTER TABLE sighting RENAME TO sighting_replaced")
    for name in (
        "pk_sighting",
        "uq_sighting_external_ref_observed_at",
        "fk_sighting_foreigner_id_foreigner",
    ):
        op.execute(f"ALTER TABLE sighting_replaced RENAME CONSTRAINT {name} TO {name}_replaced")
    for name in (
        "ix_sighting_geom",
        "ix_sighting_geom_utm",
        "ix_sighting_kecamatan_code",
        "ix_sighting_observed_at",
        "ix_sighting_foreigner_id_observed_at",
    ):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_replaced")
    op.execute(f"ALTER TABLE {new} RENAME TO sighting")
    op.execute(INDEXES)
    op.execute(
        "SELECT setval(pg_get_serial_sequence('sighting', 'id'), "
        "coalesce((SELECT max(id) FROM sighting_replaced), 0) + 1, false)"
    )
    op.execute("DROP TABLE sighting_replaced")


def upgrade() -> None:
    op.execute(SQL)
    _copy_rows("sighting", "sighting_partitioned")
    _swap("sighting_partitioned")
    # Months that hold data, and the year ahead.
    op.execute(
        """
        SELECT timpora_ensure_sighting_partitions(
            least(coalesce((SELECT min(observed_at) FROM sighting), now()), now())::date,
            (now() + interval '12 months')::date)
        """
    )


def downgrade() -> None:
    op.execute(
        "CREATE TABLE sighting_plain (LIKE sighting INCLUDING DEFAULTS INCLUDING GENERATED "
        "INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING STORAGE)"
    )
    _copy_rows("sighting", "sighting_plain")
    _swap("sighting_plain")
    op.execute("DROP FUNCTION IF EXISTS timpora_sighting_partitions_before(timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS timpora_ensure_sighting_partitions(date, date)")
