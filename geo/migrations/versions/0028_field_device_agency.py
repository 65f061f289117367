"""Field devices belong to an agency, so the field form's reports record one.

Revision ID: 0028
Revises: 0027

``field_device.agency_id`` names the agency a device writes for: the agency of the administrator
who registers it (a patrol team is only a name shared by every agency's patrols, so it has none).
Each report a device sends through the field form runs for that agency, like a user's request:
the record's ``agency_id`` default reads it and the row-level policies of the shared records
apply to it (docs/privacy.md, "Member agencies"). Devices registered before are put in the
agency of the user who registered them, else (the command line, a removed user) the
immigration office, which chairs the team. Planners and viewers may read the column (the name
of an institution, nothing personal).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"


def upgrade() -> None:
    op.execute("ALTER TABLE field_device ADD COLUMN agency_id integer")
    op.execute(
        """
        UPDATE field_device d SET agency_id = coalesce(
            (SELECT u.agency_id FROM app_user u WHERE u.name = d.created_by),
            (SELECT a.id FROM agency a WHERE a.kind = 'immigration' AND a.active
              ORDER BY a.id LIMIT 1),
            (SELECT a.id FROM agency a ORDER BY a.id LIMIT 1))
        """
    )
    op.execute("ALTER TABLE field_device ALTER COLUMN agency_id SET NOT NULL")
    op.execute(
        "ALTER TABLE field_device ADD CONSTRAINT fk_field_device_agency_id_agency "
        "FOREIGN KEY (agency_id) REFERENCES agency (id)"
    )
    op.execute(f"GRANT SELECT (agency_id) ON field_device TO {AGGREGATE}")


def downgrade() -> None:
    op.execute("ALTER TABLE field_device DROP COLUMN agency_id")
