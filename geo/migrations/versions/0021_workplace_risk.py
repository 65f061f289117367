"""Workplace risk ranking: the factors' weights and one set-based function over the regency.

Revision ID: 0021
Revises: 0020

``risk_weight`` holds one weight per named factor (docs/risk.md), seeded with the documented
defaults; administrators change them through the API (audited). ``timpora_workplace_risk(...)``
computes every workplace's factor values in one statement. It reads the foreigner registry and
the sightings, which ``timpora_aggregate`` may not, so it is ``SECURITY DEFINER`` and returns
counts per workplace only, never a person's id; the service suppresses counts of persons below 3
for roles without personal data (docs/privacy.md).
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
PERSONAL = "timpora_personal"

# The documented defaults (docs/risk.md); geo.risk.DEFAULT_WEIGHTS says the same.
DEFAULTS = (
    ("over_quota", 3.0),
    ("expired_permits", 3.0),
    ("expiring_permits", 1.0),
    ("sighted_elsewhere", 3.0),
    ("open_alerts", 1.0),
    ("incidents", 0.1),
    ("border_proximity", 1.0),
)

# Also what migration 0022 restores on downgrade: one text in geo/migrations/sql.
FUNCTION = (Path(__file__).resolve().parents[1] / "sql" / "0021_workplace_risk.sql").read_text()
SIGNATURE = "timpora_workplace_risk(date, double precision, integer, integer, double precision)"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE risk_weight (
            factor varchar(32) PRIMARY KEY,
            weight double precision NOT NULL CHECK (weight >= 0 AND weight <= 100),
            updated_at timestamptz NOT NULL DEFAULT now(),
            updated_by varchar(100)
        )
        """
    )
    values = ", ".join(f"('{factor}', {weight})" for factor, weight in DEFAULTS)
    op.execute(f"INSERT INTO risk_weight (factor, weight) VALUES {values}")
    op.execute(f"GRANT SELECT ON risk_weight TO {AGGREGATE}")
    op.execute(FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {PERSONAL}, {AGGREGATE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute("DROP TABLE IF EXISTS risk_weight")
