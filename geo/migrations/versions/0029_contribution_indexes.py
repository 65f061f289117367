"""Indexes for the agencies' contribution counts: records by the time they were written.

Revision ID: 0029
Revises: 0028

``timpora_agency_contributions`` counts the incidents and sightings written in a period
(``created_at``). Neither table had an index on it, so every count read all of ``incident`` and
every sighting partition up to the period's end (a sighting is observed before it is reported:
the only bound on the partitions), even for a period with no report at all.

- ``sighting``: a BRIN index (a few pages per partition). Rows are appended as they are written,
  so ``created_at`` follows the physical order within each month's partition, and BRIN keeps to
  the block ranges of the period at almost no cost to writes (a btree on the largest table
  would be maintained row by row on every insert and import). ``autosummarize`` lets autovacuum
  summarise each filled range; the partition exchange builds it with the others.
- ``incident``: a btree (a small table whose rows change status, which moves them on disk).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_sighting_created_at ON sighting USING brin (created_at) "
        "WITH (autosummarize = on)"
    )
    op.execute("CREATE INDEX ix_incident_created_at ON incident (created_at)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_incident_created_at")
    op.execute("DROP INDEX ix_sighting_created_at")
