"""Writers of agencies without personal data record incidents and workplaces.

Revision ID: 0030
Revises: 0029

Administrators and analysts of an agency whose function does not need the foreigners' personal
data act as ``recorder`` (``geo.access``): their requests run under ``timpora_aggregate``, which
could read no personal column and write nothing but patrol logs. It now may insert and update
the columns of ``incident`` and ``workplace`` that the registry writes for them (docs/privacy.md,
"Member agencies"), column by column, and still read none of the personal ones:

- ``incident``: an incident's description is written, never read back (no SELECT on it). The
  links to persons (``incident_foreigner``), ``external_ref`` and ``agency_id`` get no grant:
  the reporting agency comes from the column's default, the request's ``timpora.agency_id``,
  which the restrictive insert policy of migration 0027 checks.
- ``workplace``: every column the registry writes (a company site; nothing personal).
- The incident count grid's trigger (migration 0010) writes ``incident_grid``, which the role
  only reads: it runs with its owner's rights, so the role gets no write on the grid itself.

The alert evaluation a write triggers reads persons: the service runs it under
``timpora_personal`` for that step only (``geo.roles.service_step``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
INCIDENT = (
    "kind, severity, status, occurred_at, description, workplace_id, geom, sharing, shared_with"
)
WORKPLACE = "name, sector, address, rptka_number, foreign_worker_quota, external_ref, geom"
GRANTS = {"incident": INCIDENT, "workplace": WORKPLACE}


def upgrade() -> None:
    for table, columns in GRANTS.items():
        op.execute(f"GRANT INSERT ({columns}) ON {table} TO {AGGREGATE}")
        op.execute(f"GRANT UPDATE ({columns}, updated_at) ON {table} TO {AGGREGATE}")
    op.execute(
        "ALTER FUNCTION timpora_incident_grid_trg() SECURITY DEFINER "
        "SET search_path = public, pg_temp"
    )


def downgrade() -> None:
    op.execute("ALTER FUNCTION timpora_incident_grid_trg() SECURITY INVOKER RESET search_path")
    for table, columns in GRANTS.items():
        op.execute(f"REVOKE UPDATE ({columns}, updated_at) ON {table} FROM {AGGREGATE}")
        op.execute(f"REVOKE INSERT ({columns}) ON {table} FROM {AGGREGATE}")
