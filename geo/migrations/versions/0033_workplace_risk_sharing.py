"""The workplace risk ranking counts alerts only where their sighting is too, and runs in parallel.

Revision ID: 0033
Revises: 0032

``timpora_workplace_risk`` runs with the owner's rights, past the row policies, and applies the
sharing between agencies itself (migration 0027): sightings and incidents count where they are
shared with the request's agency, open alerts where their incident is. Two things were left:

- An alert about a sighting counted whatever that sighting's sharing (migration 0032 closed the
  same gap in the alert policies), so a Kodim analyst's ranking counted an open alert about a
  sighting Polres kept to itself. The ranking now asks the same lookup as the policy,
  ``timpora_sighting_shared_with_request``.
- The alerts' lookups (``timpora_incident_shared_with_request``, 0027, and the sighting's, 0032)
  were parallel unsafe, the default, and one such call makes the whole statement serial: on the
  large demo set, ranking 600 workplaces over a year took twice as long as without it. Both only
  read, and a ``SECURITY DEFINER`` function with its ``SET search_path`` runs in a parallel
  worker as in the leader, so both are marked ``PARALLEL SAFE``. The alert policies, which call
  them too, no longer keep a statement that reads ``alert`` from a parallel plan either.

The function is 0027's (``_risk_function``), changed here rather than copied; the downgrade puts
0027's function and the lookups' old marking back.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HERE = Path(__file__).resolve().parent
INCIDENT_TEST = (
    "       AND (a.incident_id IS NULL OR timpora_incident_shared_with_request(a.incident_id))\n"
)
SIGHTING_TEST = (
    "       AND (a.sighting_id IS NULL\n"
    "            OR timpora_sighting_shared_with_request(a.sighting_id, a.event_at))\n"
)
LOOKUPS = (
    "timpora_incident_shared_with_request(integer)",
    "timpora_sighting_shared_with_request(bigint, timestamptz)",
)


def _migration_0027() -> ModuleType:
    """Migration 0027, read from its file (never copied)."""
    spec = importlib.util.spec_from_file_location("_timpora_0027", HERE / "0027_agency_sharing.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def old_function() -> str:
    """The ranking as migration 0027 left it (``CREATE OR REPLACE``)."""
    return str(_migration_0027()._risk_function(shared=True))


def new_function() -> str:
    old = old_function()
    if old.count(INCIDENT_TEST) != 1:
        raise RuntimeError("0033: 0027's risk function no longer holds its alert test")
    return old.replace(INCIDENT_TEST, INCIDENT_TEST + SIGHTING_TEST)


def upgrade() -> None:
    for lookup in LOOKUPS:
        op.execute(f"ALTER FUNCTION {lookup} PARALLEL SAFE")
    op.execute(new_function())


def downgrade() -> None:
    op.execute(old_function())
    for lookup in LOOKUPS:
        op.execute(f"ALTER FUNCTION {lookup} PARALLEL UNSAFE")
