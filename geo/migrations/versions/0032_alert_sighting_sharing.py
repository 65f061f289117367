"""An alert about a sighting is seen only where that sighting is.

Revision ID: 0032
Revises: 0031

Migration 0027 showed an alert about an incident only to the agencies that may see the incident.
An alert about a sighting carries that sighting's point, time, kecamatan and desa, yet every role
with personal data saw it, whatever the sighting's sharing: a sighting Polres kept to itself
showed where it was made to Kodim through its alert. A second restrictive policy on ``alert``
now asks the same of the sighting an alert was opened on (``sighting_id``). Its ``event_at`` is
that sighting's ``observed_at`` (every sighting rule sets it so), so the lookup reads one monthly
partition's primary key. As for incidents the lookup runs with the owner's rights, past the
sighting's own policy, so that an alert whose sighting was deleted stays visible.

The service's own scope (``timpora.agency_id = 'service'``: the alert evaluation) sees every
alert; an unset agency (the stream's hub, webhook and notification delivery) sees alerts about
whole-Timpora records only. ``timpora_aggregate`` reads no alert about a person at all
(migration 0015), so the new policy is for ``timpora_personal`` only.

The incident lookup of 0027 is mended on the way: for a request without an agency,
``timpora_shared_with_request`` is NULL for a restricted record (``agency_id = NULL``), and
``NOT NULL`` did not exclude the incident, so an unset agency saw alerts about restricted
incidents, which docs/privacy.md says it does not. Both lookups now ask ``IS NOT TRUE``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION timpora_sighting_shared_with_request(sighting bigint, observed timestamptz)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM sighting s
         WHERE s.id = sighting AND s.observed_at = observed
           AND timpora_shared_with_request(s.agency_id, s.sharing, s.shared_with) IS NOT TRUE)
$$;
COMMENT ON FUNCTION timpora_sighting_shared_with_request(bigint, timestamptz) IS
    'Whether the request may see the sighting (id, observed_at); true when it no longer exists';
"""
INCIDENT_FUNCTION = """
CREATE OR REPLACE FUNCTION timpora_incident_shared_with_request(incident integer) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM incident i
         WHERE i.id = incident
           AND timpora_shared_with_request(i.agency_id, i.sharing, i.shared_with) {test})
$$;
"""
POLICY = """
CREATE POLICY alert_sighting_agency ON alert AS RESTRICTIVE TO timpora_personal
    USING (sighting_id IS NULL
           OR current_setting('timpora.agency_id', true) = 'service'
           OR timpora_sighting_shared_with_request(sighting_id, event_at))
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(POLICY)
    op.execute(INCIDENT_FUNCTION.format(test="IS NOT TRUE"))


def downgrade() -> None:
    op.execute(INCIDENT_FUNCTION.format(test="= false"))
    op.execute("DROP POLICY alert_sighting_agency ON alert")
    op.execute("DROP FUNCTION timpora_sighting_shared_with_request(bigint, timestamptz)")
