"""Alert episodes are delivered once, when opened; the latest episode of a key is one index probe.

Revision ID: 0019
Revises: 0018

- The outbox/NOTIFY trigger queues only inserted rows that open an episode (status ``new``):
  a later trigger of the same episode updates the row (no insert, nothing delivered), and a
  batch that finds a past episode already over inserts it as ``lapsed``, not delivered either.
- ``ix_alert_episode_latest`` (episode key, last seen): the rules look up the latest episode of
  each key they trigger (docs/alerts.md).
- ``sighting_near_border`` drops its retired ``cooldown_h`` and ``hysteresis_m`` (episodes and
  the quiet window replace them); the new parameters take their defaults from the catalogue.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION timpora_alert_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    chunk text;
BEGIN
    INSERT INTO alert_outbox (alert_id, webhook_id)
    SELECT n.id, w.id FROM new_alerts n CROSS JOIN webhook w
    WHERE w.active AND n.status = 'new';
    FOR chunk IN
        SELECT string_agg(id::text, ',' ORDER BY id)
        FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 500 AS g
              FROM new_alerts WHERE status = 'new') c
        GROUP BY g ORDER BY g
    LOOP
        PERFORM pg_notify('timpora_alert', chunk);
    END LOOP;
    RETURN NULL;
END;
$$
"""

OLD_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION timpora_alert_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    chunk text;
BEGIN
    INSERT INTO alert_outbox (alert_id, webhook_id)
    SELECT n.id, w.id FROM new_alerts n CROSS JOIN webhook w WHERE w.active;
    FOR chunk IN
        SELECT string_agg(id::text, ',' ORDER BY id)
        FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 500 AS g FROM new_alerts) c
        GROUP BY g ORDER BY g
    LOOP
        PERFORM pg_notify('timpora_alert', chunk);
    END LOOP;
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "CREATE INDEX ix_alert_episode_latest ON alert (episode_key, last_seen_at DESC, id DESC)"
    )
    op.execute(
        "UPDATE alert_rule SET parameters = parameters - 'cooldown_h' - 'hysteresis_m' "
        "WHERE kind = 'sighting_near_border'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE alert_rule SET parameters = parameters "
        '|| \'{"cooldown_h": 24, "hysteresis_m": 250}\'::jsonb '
        "WHERE kind = 'sighting_near_border'"
    )
    op.execute("DROP INDEX IF EXISTS ix_alert_episode_latest")
    op.execute(OLD_TRIGGER_FUNCTION)
