"""Alert engine: rule defaults, webhooks, the delivery outbox and the insert notification.

- ``alert_rule`` gets one row per rule of the catalogue (docs/alerts.md) with its default parameters.
- ``webhook`` (url, secret, active) and ``alert_outbox`` (one row per alert × active webhook,
  written by a trigger in the alert's own transaction, so a delivery can never be lost between
  commit and send; pending rows survive a restart).
- A statement-level trigger on ``alert`` sends ``NOTIFY timpora_alert, '<id>,<id>,...'`` (at
  commit, in chunks below the 8000-byte payload limit); the SSE stream LISTENs for it.
- Indexes the rule queries and the alert filters use.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE_SQL = """
INSERT INTO alert_rule (kind, parameters, severity, enabled) VALUES
    ('incident_near_workplace', '{"radius_m": 500}', 3, true),
    ('sighting_near_border',
     '{"distance_m": 2000, "cooldown_h": 24, "hysteresis_m": 250}', 4, true),
    ('sighting_in_zone', '{"zone_kinds": ["watch", "restricted"]}', 3, true),
    ('expired_permit_sighting', '{}', 4, true),
    ('plb_outside_area', '{}', 4, true),
    ('far_from_sponsor', '{"distance_m": 25000}', 2, true),
    ('incident_cluster', '{"min_incidents": 3, "radius_m": 1000, "window_days": 14}', 4, true),
    ('permit_expiring', '{"windows_days": [30, 7]}', 2, true)
ON CONFLICT (kind) DO NOTHING;

CREATE TABLE webhook (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url text NOT NULL CHECK (url ~ '^https?://'),
    secret text NOT NULL CHECK (length(secret) >= 16),
    active boolean NOT NULL DEFAULT true,
    description text,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
    webhook_id integer NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    last_status_code integer,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_alert_outbox_alert_id_webhook_id UNIQUE (alert_id, webhook_id)
);
CREATE INDEX ix_alert_outbox_due ON alert_outbox (next_attempt_at) WHERE status = 'pending';

CREATE INDEX ix_alert_event_at ON alert (event_at);
CREATE INDEX ix_alert_kecamatan_code ON alert (kecamatan_code);
CREATE INDEX ix_alert_foreigner_id_rule_kind ON alert (foreigner_id, rule_kind);

-- One statement may insert thousands of alerts (batch): queue and notify per statement.
CREATE FUNCTION timpora_alert_inserted() RETURNS trigger
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
$$;

CREATE TRIGGER trg_alert_inserted AFTER INSERT ON alert
    REFERENCING NEW TABLE AS new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION timpora_alert_inserted();
"""

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS trg_alert_inserted ON alert;
DROP FUNCTION IF EXISTS timpora_alert_inserted();
DROP INDEX IF EXISTS ix_alert_foreigner_id_rule_kind;
DROP INDEX IF EXISTS ix_alert_kecamatan_code;
DROP INDEX IF EXISTS ix_alert_event_at;
DROP TABLE IF EXISTS alert_outbox;
DROP TABLE IF EXISTS webhook;
DELETE FROM alert_rule WHERE NOT EXISTS (SELECT 1 FROM alert WHERE alert.rule_id = alert_rule.id);
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
