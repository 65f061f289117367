"""Users of agencies without personal data triage the alerts that are not about a person.

Revision ID: 0031
Revises: 0030

Coordinators of such an agency act as ``liaison``, administrators and analysts as ``recorder``
(``geo.access``); their requests run under ``timpora_aggregate``, which reads no alert about a
person (row-level security, migration 0015). They now acknowledge, assign, resolve, reopen and
annotate the alerts it does read (docs/alerts.md, "Who may act"):

- ``alert``: UPDATE on exactly the columns the triage writes (``geo.alerts.triage.UPDATES``).
  The notes given with an acknowledgement or a resolution (``ack_note``, ``resolve_note``) are
  written, never read back: no SELECT on them. A permissive UPDATE policy lets the role change
  only the alerts its SELECT policy shows it (no alert about a person), checked again on the new
  row; the restrictive ``alert_agency`` policy (migration 0027) applies as well. The UPDATE
  privilege is also what the triage's ``SELECT ... FOR UPDATE`` needs.
- ``alert_note``: INSERT of the triage history (alert, author, action, body), never SELECT (the
  body is free text). The acting agency comes from the column's default, the request's
  ``timpora.agency_id`` (migration 0027), so the per-agency "alerts handled" count sees it.
  Row-level security on ``alert_note`` lets this role add a note only to an alert it can see
  (``timpora_personal`` keeps every row; the owner and its functions are not subject to it).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL = "timpora_personal"
AGGREGATE = "timpora_aggregate"
ALERT = (
    "status, acknowledged_at, acknowledged_by, ack_note, resolved_at, resolved_by, "
    "closed_reason, resolve_note, assigned_to, assigned_at"
)
NOTE = "alert_id, author, action, body"
NOT_ABOUT_A_PERSON = "foreigner_id IS NULL AND sighting_id IS NULL"


def upgrade() -> None:
    op.execute(f"GRANT UPDATE ({ALERT}) ON alert TO {AGGREGATE}")
    op.execute(
        f"CREATE POLICY alert_aggregate_update ON alert FOR UPDATE TO {AGGREGATE} "
        f"USING ({NOT_ABOUT_A_PERSON}) WITH CHECK ({NOT_ABOUT_A_PERSON})"
    )
    op.execute(f"GRANT INSERT ({NOTE}) ON alert_note TO {AGGREGATE}")
    op.execute("ALTER TABLE alert_note ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY alert_note_personal ON alert_note TO {PERSONAL} "
        "USING (true) WITH CHECK (true)"
    )
    # The subquery runs under the inserting role: the alert's own policies decide.
    op.execute(
        f"CREATE POLICY alert_note_aggregate_insert ON alert_note FOR INSERT TO {AGGREGATE} "
        "WITH CHECK (EXISTS (SELECT 1 FROM alert a WHERE a.id = alert_note.alert_id))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY alert_note_aggregate_insert ON alert_note")
    op.execute("DROP POLICY alert_note_personal ON alert_note")
    op.execute("ALTER TABLE alert_note DISABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE INSERT ({NOTE}) ON alert_note FROM {AGGREGATE}")
    op.execute("DROP POLICY alert_aggregate_update ON alert")
    op.execute(f"REVOKE UPDATE ({ALERT}) ON alert FROM {AGGREGATE}")
