"""Partial index on the audit log's import rows, read by every /metrics scrape.

Revision ID: 0011
Revises: 0010

The audit log only grows (every read of personal data adds a row); the scrape sums the rows of
imports alone, which this index answers without touching the rest.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_audit_log_imports ON audit_log (resource) INCLUDE (record_count) "
        "WHERE action = 'import'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_audit_log_imports")
