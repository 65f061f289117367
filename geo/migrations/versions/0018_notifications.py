"""Notifications: who gets which messages through which channel, and their durable outbox.

Revision ID: 0018
Revises: 0017

- ``notify_subscription``: a channel (an Apprise URL or an e-mail address sent through the
  office's SMTP server; a secret, kept with a masked copy for display) of a user or an office,
  with what it gets (immediate messages for new episodes of at least ``min_severity``, a daily
  digest), its language and, where set, the kecamatan it covers. An office's subscription names
  the role whose view it gets; a user's follows the user's role.
- ``notify_outbox``: one row per message × subscription, with attempts and backoff, sent by
  the service's worker outside any alert transaction.
- A statement-level trigger on ``alert`` queues an immediate message for each newly opened
  episode (an inserted row) for the subscriptions it concerns, in the alert's own transaction:
  the evaluation only writes rows, never waits for a channel.

Planners and viewers may manage their own subscriptions: ``timpora_aggregate`` may read every
column but the channel itself, add and delete rows; the outbox is not granted (docs/privacy.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
READABLE = (
    "id, owner_kind, owner, role, target_masked, label, lang, min_severity, digest, "
    "kecamatan_codes, active, created_by, created_at, last_digest_at"
)
WRITABLE = (
    "owner_kind, owner, role, target, target_masked, label, lang, min_severity, digest, "
    "kecamatan_codes, created_by"
)

UPGRADE_SQL = """
CREATE TABLE notify_subscription (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_kind varchar(8) NOT NULL CHECK (owner_kind IN ('user', 'office')),
    owner varchar(100) NOT NULL CHECK (length(owner) > 0),
    role varchar(16) CHECK (role IN ('admin', 'analyst', 'coordinator', 'planner', 'viewer')),
    target text NOT NULL CHECK (length(target) BETWEEN 3 AND 2000),
    target_masked text NOT NULL,
    label varchar(200),
    lang varchar(2) NOT NULL DEFAULT 'id' CHECK (lang IN ('id', 'en')),
    min_severity smallint CHECK (min_severity BETWEEN 1 AND 5),
    digest boolean NOT NULL DEFAULT true,
    kecamatan_codes text[],
    active boolean NOT NULL DEFAULT true,
    created_by varchar(100),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_digest_at timestamptz,
    CONSTRAINT ck_notify_subscription_office_role CHECK ((owner_kind = 'office') = (role IS NOT NULL))
);
CREATE INDEX ix_notify_subscription_owner ON notify_subscription (owner_kind, owner);

CREATE TABLE notify_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id integer NOT NULL REFERENCES notify_subscription (id) ON DELETE CASCADE,
    kind varchar(8) NOT NULL CHECK (kind IN ('alert', 'digest', 'test')),
    alert_id bigint REFERENCES alert (id) ON DELETE CASCADE,
    title text,
    body text,
    status varchar(10) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_notify_outbox_alert CHECK ((kind = 'alert') = (alert_id IS NOT NULL)),
    CONSTRAINT uq_notify_outbox_alert_subscription UNIQUE (alert_id, subscription_id)
);
CREATE INDEX ix_notify_outbox_due ON notify_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_notify_outbox_subscription ON notify_outbox (subscription_id);

-- Only inserted rows are newly opened episodes: a repeat trigger updates its open episode.
CREATE FUNCTION timpora_notify_alerts_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notify_outbox (subscription_id, kind, alert_id)
    SELECT s.id, 'alert', n.id
      FROM notify_new_alerts n
      JOIN notify_subscription s
        ON s.active AND s.min_severity IS NOT NULL AND n.severity >= s.min_severity
       AND (s.kecamatan_codes IS NULL OR n.kecamatan_code = ANY (s.kecamatan_codes))
     WHERE n.status = 'new'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER trg_notify_alerts_inserted AFTER INSERT ON alert
    REFERENCING NEW TABLE AS notify_new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION timpora_notify_alerts_inserted();
"""

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS trg_notify_alerts_inserted ON alert;
DROP FUNCTION IF EXISTS timpora_notify_alerts_inserted();
DROP TABLE IF EXISTS notify_outbox;
DROP TABLE IF EXISTS notify_subscription;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)
    op.execute(f"GRANT SELECT ({READABLE}) ON notify_subscription TO {AGGREGATE}")
    op.execute(f"GRANT INSERT ({WRITABLE}) ON notify_subscription TO {AGGREGATE}")
    op.execute(f"GRANT DELETE ON notify_subscription TO {AGGREGATE}")
    op.execute(f"GRANT USAGE ON SEQUENCE notify_subscription_id_seq TO {AGGREGATE}")


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
