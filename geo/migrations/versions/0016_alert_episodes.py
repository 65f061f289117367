"""Alert episodes and triage: one row per episode of a rule for a subject, and who works on it.

Revision ID: 0016
Revises: 0015

An alert row becomes an *episode*: repeated triggers of one rule for one subject update the open
row (``last_seen_at``, ``occurrences``, ``worst_distance_m``, ``last_sighting_id``) instead of
adding rows. ``episode_key`` names the rule and subject; at most one episode per key is open
(``new`` or ``acknowledged``) at a time, kept by a partial unique index. An episode quiet for
the rule's window is closed as ``lapsed``. Triage: ``assigned_to`` (a user name) and
``alert_note`` (dated notes; free text, so personal data: the aggregate role gets no grant).
docs/alerts.md describes the rules and the queue.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
STATUSES = "('new', 'acknowledged', 'resolved', 'lapsed')"
OLD_STATUSES = "('new', 'acknowledged', 'resolved')"
NEW_COLUMNS = (
    "episode_key, first_seen_at, last_seen_at, occurrences, worst_distance_m, assigned_to, "
    "assigned_at, closed_reason"
)


EPISODE_DEFAULTS = """
CREATE FUNCTION timpora_alert_episode_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.episode_key := coalesce(NEW.episode_key, NEW.dedup_key);
    NEW.first_seen_at := coalesce(NEW.first_seen_at, NEW.event_at);
    NEW.last_seen_at := coalesce(NEW.last_seen_at, NEW.first_seen_at);
    NEW.worst_distance_m := coalesce(NEW.worst_distance_m, NEW.distance_m);
    NEW.last_sighting_id := coalesce(NEW.last_sighting_id, NEW.sighting_id);
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE alert
          ADD COLUMN episode_key text,
          ADD COLUMN first_seen_at timestamptz,
          ADD COLUMN last_seen_at timestamptz,
          ADD COLUMN occurrences integer NOT NULL DEFAULT 1,
          ADD COLUMN worst_distance_m double precision,
          ADD COLUMN last_sighting_id bigint,
          ADD COLUMN assigned_to varchar(100),
          ADD COLUMN assigned_at timestamptz,
          ADD COLUMN closed_reason text
        """
    )
    op.execute(
        "UPDATE alert SET episode_key = dedup_key, first_seen_at = event_at, "
        "last_seen_at = event_at, worst_distance_m = distance_m, last_sighting_id = sighting_id"
    )
    # A row written without its episode columns is an episode of one trigger.
    op.execute(EPISODE_DEFAULTS)
    op.execute(
        "CREATE TRIGGER alert_episode_defaults BEFORE INSERT ON alert FOR EACH ROW "
        "WHEN (NEW.episode_key IS NULL OR NEW.first_seen_at IS NULL OR NEW.last_seen_at IS NULL) "
        "EXECUTE FUNCTION timpora_alert_episode_defaults()"
    )
    op.execute("ALTER TABLE alert ALTER COLUMN episode_key SET NOT NULL")
    op.execute("ALTER TABLE alert ALTER COLUMN first_seen_at SET NOT NULL")
    op.execute("ALTER TABLE alert ALTER COLUMN last_seen_at SET NOT NULL")
    op.execute("ALTER TABLE alert DROP CONSTRAINT IF EXISTS ck_alert_status")
    op.execute(f"ALTER TABLE alert ADD CONSTRAINT ck_alert_status CHECK (status IN {STATUSES})")
    op.execute("ALTER TABLE alert ADD CONSTRAINT ck_alert_occurrences CHECK (occurrences >= 1)")
    op.execute(
        "CREATE UNIQUE INDEX ux_alert_open_episode ON alert (episode_key) "
        "WHERE status IN ('new', 'acknowledged')"
    )
    op.execute(
        "CREATE INDEX ix_alert_open_queue ON alert (severity, last_seen_at DESC) "
        "WHERE status IN ('new', 'acknowledged')"
    )
    op.execute(
        """
        CREATE TABLE alert_note (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            alert_id bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
            author varchar(100) NOT NULL,
            action varchar(16) NOT NULL DEFAULT 'note',
            body text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_alert_note_action CHECK (
                action IN ('note', 'assign', 'unassign', 'acknowledge', 'resolve', 'reopen', 'lapse')
            )
        )
        """
    )
    op.execute("CREATE INDEX ix_alert_note_alert_id ON alert_note (alert_id, created_at)")
    op.execute(f"GRANT SELECT ({NEW_COLUMNS}) ON alert TO {AGGREGATE}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ({NEW_COLUMNS}) ON alert FROM {AGGREGATE}")
    op.execute("DROP TABLE IF EXISTS alert_note")
    op.execute("DROP TRIGGER IF EXISTS alert_episode_defaults ON alert")
    op.execute("DROP FUNCTION IF EXISTS timpora_alert_episode_defaults()")
    op.execute("DROP INDEX IF EXISTS ix_alert_open_queue")
    op.execute("DROP INDEX IF EXISTS ux_alert_open_episode")
    op.execute("UPDATE alert SET status = 'resolved' WHERE status = 'lapsed'")
    op.execute("ALTER TABLE alert DROP CONSTRAINT IF EXISTS ck_alert_occurrences")
    op.execute("ALTER TABLE alert DROP CONSTRAINT IF EXISTS ck_alert_status")
    op.execute(f"ALTER TABLE alert ADD CONSTRAINT ck_alert_status CHECK (status IN {OLD_STATUSES})")
    op.execute(
        "ALTER TABLE alert DROP COLUMN episode_key, DROP COLUMN first_seen_at, "
        "DROP COLUMN last_seen_at, DROP COLUMN occurrences, DROP COLUMN worst_distance_m, "
        "DROP COLUMN last_sighting_id, DROP COLUMN assigned_to, DROP COLUMN assigned_at, "
        "DROP COLUMN closed_reason"
    )
