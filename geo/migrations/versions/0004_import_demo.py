"""Bulk import and demo data: no schema change.

The slot was reserved while the import was built; it needed no table (each import's counts, file
name and SHA-256 go to the audit log). Kept so existing databases keep a continuous history.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
