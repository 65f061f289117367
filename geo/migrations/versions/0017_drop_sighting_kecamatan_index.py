"""Drop ``ix_sighting_kecamatan_code``: no query needs it, and every import and write paid for it.

Revision ID: 0017
Revises: 0016

The kecamatan filter is ``kecamatan_code = ANY(…) OR lower(kecamatan_name) = ANY(…)``, which
this index cannot serve alone; pages of a kecamatan use ``ix_sighting_observed_at`` or the key
walk. ``bench/indexes.py`` found no plan that reads it (docs/performance/indexes.md). Dropping
the partitioned index drops it on every partition.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_sighting_kecamatan_code")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_sighting_kecamatan_code ON sighting (kecamatan_code)")
