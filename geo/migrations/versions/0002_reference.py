"""Reference geography: subdivided lookup pieces and location derivation on every write.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The SQL of this revision; a later change goes into a new migration, never into this file.
SQL = (Path(__file__).resolve().parents[1] / "sql" / "0002_locate.sql").read_text()


def upgrade() -> None:
    op.execute(SQL)


def downgrade() -> None:
    for table in ("workplace", "foreigner", "sighting", "incident"):
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_locate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS timpora_locate_trg()")
    op.execute("DROP FUNCTION IF EXISTS timpora_locate(geometry)")
    op.execute("DROP FUNCTION IF EXISTS timpora_refresh_locate_pieces()")
    op.execute("DROP TYPE IF EXISTS timpora_location")
    op.execute("DROP TABLE IF EXISTS locate_piece")
