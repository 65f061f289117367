"""HTTP API: idempotency keys, so a retried POST does not write twice.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE idempotency_key (
            user_name varchar(100) NOT NULL,
            key varchar(200) NOT NULL,
            method varchar(8) NOT NULL,
            path varchar(300) NOT NULL,
            status_code integer,
            response bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_idempotency_key PRIMARY KEY (user_name, key)
        )
        """
    )
    op.execute("CREATE INDEX ix_idempotency_key_created_at ON idempotency_key (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS idempotency_key")
