"""Follow-up actions (tindak lanjut) of coordination meetings, and what each agency contributed.

Revision ID: 0024
Revises: 0023

- ``coordination_meeting``: a meeting (day, title, place, free-text notes) and the agency of the
  user who recorded it.
- ``follow_up_action``: what a meeting (or anyone allowed) decided: a title, the responsible
  agency, a due day and a status (open, in_progress, done, dropped). A closed action (done or
  dropped) carries when and a reason code; the words go into a note.
- ``follow_up_link``: what an action is about (an incident, alert, workplace, zone or admin
  area), checked by the service to exist when linked.
- ``follow_up_note``: an action's dated history: every status change and every note, with its
  author and the author's agency.
- ``timpora_agency_contributions(from, to)``: per agency, reports made, alerts handled and
  actions closed in ``[from, to)``: counts only, for every role (``SECURITY DEFINER``: a
  planner's count of alerts handled must not need the notes themselves). Reports and alert work
  are attributed by the records' own ``agency_id`` once those columns exist, until then by the
  agency of the user in the audit log and in the alert notes.

Nothing is deleted: neither group role may delete or truncate these tables (docs/privacy.md).
Planners and viewers read titles, status, agency and due day (no notes, no links, no meeting
notes); planners may change the status of, and add notes to, their own agency's actions, so
``timpora_aggregate`` may update those columns and add notes it cannot read back.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL = "timpora_personal"
AGGREGATE = "timpora_aggregate"
TABLES = ("coordination_meeting", "follow_up_action", "follow_up_link", "follow_up_note")
STATUSES = "'open', 'in_progress', 'done', 'dropped'"
CLOSE_REASONS = "'completed', 'superseded', 'not_feasible', 'not_needed', 'duplicate', 'other'"

UPGRADE_SQL = f"""
CREATE TABLE coordination_meeting (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    held_on date NOT NULL,
    title varchar(200) NOT NULL CHECK (length(btrim(title)) > 0),
    place varchar(200),
    notes text CHECK (length(notes) <= 10000),
    agency_id integer REFERENCES agency (id),
    created_by varchar(100) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_coordination_meeting_held_on ON coordination_meeting (held_on, id);

CREATE TABLE follow_up_action (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title varchar(300) NOT NULL CHECK (length(btrim(title)) > 0),
    agency_id integer NOT NULL REFERENCES agency (id),
    due_on date NOT NULL,
    status varchar(12) NOT NULL DEFAULT 'open' CHECK (status IN ({STATUSES})),
    meeting_id integer REFERENCES coordination_meeting (id),
    created_by varchar(100) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    close_reason varchar(16) CHECK (close_reason IN ({CLOSE_REASONS})),
    CONSTRAINT ck_follow_up_action_closed CHECK (
        (status IN ('done', 'dropped')) = (closed_at IS NOT NULL)
        AND (status IN ('done', 'dropped')) = (close_reason IS NOT NULL)
    )
);
CREATE INDEX ix_follow_up_action_open ON follow_up_action (due_on, id)
    WHERE status IN ('open', 'in_progress');
CREATE INDEX ix_follow_up_action_agency ON follow_up_action (agency_id, due_on);
CREATE INDEX ix_follow_up_action_meeting ON follow_up_action (meeting_id);
CREATE INDEX ix_follow_up_action_closed ON follow_up_action (closed_at)
    WHERE closed_at IS NOT NULL;

CREATE TABLE follow_up_link (
    action_id integer NOT NULL REFERENCES follow_up_action (id),
    kind varchar(12) NOT NULL
        CHECK (kind IN ('incident', 'alert', 'workplace', 'zone', 'admin_area')),
    target varchar(40) NOT NULL CHECK (length(target) > 0),
    PRIMARY KEY (action_id, kind, target)
);
CREATE INDEX ix_follow_up_link_target ON follow_up_link (kind, target);

CREATE TABLE follow_up_note (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action_id integer NOT NULL REFERENCES follow_up_action (id),
    at timestamptz NOT NULL DEFAULT now(),
    author varchar(100) NOT NULL,
    agency_id integer REFERENCES agency (id),
    status_from varchar(12) CHECK (status_from IN ({STATUSES})),
    status_to varchar(12) CHECK (status_to IN ({STATUSES})),
    reason varchar(16) CHECK (reason IN ({CLOSE_REASONS})),
    body text NOT NULL DEFAULT '' CHECK (length(body) <= 2000),
    CONSTRAINT ck_follow_up_note_something CHECK (status_to IS NOT NULL OR length(body) > 0)
);
CREATE INDEX ix_follow_up_note_action ON follow_up_note (action_id, at);
"""

# Each part is dynamic SQL so that it reads ``agency_id`` of incidents, sightings and alert
# notes as soon as a migration adds it, without a new version of this function.
CONTRIBUTIONS_SQL = """
CREATE FUNCTION timpora_agency_contributions(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (agency_id integer, reports bigint, alerts_handled bigint, actions_closed bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE
    by_record boolean := (
        SELECT count(*) = 2 FROM pg_attribute
         WHERE attrelid IN ('public.incident'::regclass, 'public.sighting'::regclass)
           AND attname = 'agency_id' AND NOT attisdropped);
    notes_by_record boolean := EXISTS (
        SELECT 1 FROM pg_attribute WHERE attrelid = 'public.alert_note'::regclass
           AND attname = 'agency_id' AND NOT attisdropped);
    reports_sql text;
    alerts_sql text;
BEGIN
    IF by_record THEN
        -- A report is made when it is written (created_at); a sighting is observed before it
        -- is reported, which bounds the partitions read.
        reports_sql := $q$
            SELECT agency_id, count(*) AS n FROM incident
             WHERE created_at >= $1 AND created_at < $2 GROUP BY agency_id
            UNION ALL
            SELECT agency_id, count(*) FROM sighting
             WHERE created_at >= $1 AND created_at < $2 AND observed_at < $2 + interval '1 day'
             GROUP BY agency_id $q$;
    ELSE
        -- Until records carry their agency: the writes of the agency's users, as audited
        -- (one row per record created, one per import with its record count).
        reports_sql := $q$
            SELECT u.agency_id,
                   sum(CASE WHEN l.action = 'create' THEN 1 ELSE l.record_count END) AS n
              FROM audit_log l JOIN app_user u ON u.name = l.user_name
             WHERE l.at >= $1 AND l.at < $2
               AND ((l.action = 'create'
                     AND (l.resource LIKE 'incidents/%' OR l.resource LIKE 'sightings/%'))
                    OR (l.action = 'import' AND l.resource IN ('incidents', 'sightings')))
             GROUP BY u.agency_id $q$;
    END IF;
    IF notes_by_record THEN
        alerts_sql := $q$
            SELECT agency_id, count(DISTINCT alert_id) AS n FROM alert_note
             WHERE created_at >= $1 AND created_at < $2 GROUP BY agency_id $q$;
    ELSE
        alerts_sql := $q$
            SELECT u.agency_id, count(DISTINCT n.alert_id) AS n
              FROM alert_note n JOIN app_user u ON u.name = n.author
             WHERE n.created_at >= $1 AND n.created_at < $2 GROUP BY u.agency_id $q$;
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH r AS (SELECT agency_id, sum(n)::bigint AS n FROM (%s) x GROUP BY agency_id),
             h AS (%s),
             c AS (SELECT agency_id, count(*) AS n FROM follow_up_action
                    WHERE status = 'done' AND closed_at >= $1 AND closed_at < $2
                    GROUP BY agency_id)
        SELECT g.id, coalesce(r.n, 0)::bigint, coalesce(h.n, 0)::bigint, coalesce(c.n, 0)::bigint
          FROM agency g
          LEFT JOIN r ON r.agency_id = g.id
          LEFT JOIN h ON h.agency_id = g.id
          LEFT JOIN c ON c.agency_id = g.id
         ORDER BY g.id $q$, reports_sql, alerts_sql)
    USING p_from, p_to;
END;
$fn$;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)
    op.execute(CONTRIBUTIONS_SQL)
    tables = ", ".join(TABLES)
    op.execute(f"REVOKE DELETE, TRUNCATE ON {tables} FROM {PERSONAL}")
    op.execute(
        f"GRANT SELECT (id, held_on, title, place, agency_id, created_at) "
        f"ON coordination_meeting TO {AGGREGATE}"
    )
    op.execute(
        f"GRANT SELECT (id, title, agency_id, due_on, status, meeting_id, created_at, "
        f"updated_at, closed_at, close_reason) ON follow_up_action TO {AGGREGATE}"
    )
    op.execute(
        f"GRANT UPDATE (status, updated_at, closed_at, close_reason) "
        f"ON follow_up_action TO {AGGREGATE}"
    )
    op.execute(
        f"GRANT SELECT (id, action_id, at, agency_id, status_from, status_to, reason) "
        f"ON follow_up_note TO {AGGREGATE}"
    )
    op.execute(
        f"GRANT INSERT (action_id, author, agency_id, status_from, status_to, reason, body) "
        f"ON follow_up_note TO {AGGREGATE}"
    )
    op.execute(f"GRANT USAGE ON SEQUENCE follow_up_note_id_seq TO {AGGREGATE}")
    op.execute(
        "REVOKE ALL ON FUNCTION timpora_agency_contributions(timestamptz, timestamptz) FROM PUBLIC"
    )
    op.execute(
        "GRANT EXECUTE ON FUNCTION timpora_agency_contributions(timestamptz, timestamptz) "
        f"TO {PERSONAL}, {AGGREGATE}"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS timpora_agency_contributions(timestamptz, timestamptz)")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
