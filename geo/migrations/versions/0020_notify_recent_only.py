"""Immediate messages only for episodes whose event is recent; older ones go to the digest.

Revision ID: 0020
Revises: 0019

A batch run over history (``timpora alerts run``, a demo seed) or an import of last month's
reports opens many episodes at once, all of them old news: queueing an immediate message for
each flooded every channel and made the batch several times slower. The trigger now queues one
only when the episode's event is less than 48 hours old (by the database clock); every new
episode still appears in the next daily digest (docs/alerts.md, "Notifications").
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION timpora_notify_alerts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notify_outbox (subscription_id, kind, alert_id)
    SELECT s.id, 'alert', n.id
      FROM notify_new_alerts n
      JOIN notify_subscription s
        ON s.active AND s.min_severity IS NOT NULL AND n.severity >= s.min_severity
       AND (s.kecamatan_codes IS NULL OR n.kecamatan_code = ANY (s.kecamatan_codes))
     WHERE n.status = 'new'{recent}
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$
"""
RECENT = "\n       AND n.event_at > now() - interval '48 hours'"


def upgrade() -> None:
    op.execute(FUNCTION.format(recent=RECENT))


def downgrade() -> None:
    op.execute(FUNCTION.format(recent=""))
