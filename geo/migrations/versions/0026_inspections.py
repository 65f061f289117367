"""Inspections and their findings; the risk ranking reads them.

Revision ID: 0026
Revises: 0025

- ``inspection``: a joint inspection of a workplace on a day, led by an agency, recorded by a
  user, with a free-text summary (personal: it may name persons). Nothing is deleted: a wrong
  record is voided with a reason (``voided_at``, ``voided_by``, ``void_reason``) and recorded
  again. ``inspection_agency``: the agencies present (the leading one among them).
  ``inspection_finding``: per foreigner checked, the finding and the action taken, with a note.
  An inspection may carry out a stop of a saved inspection plan (``plan_stop_id``).
- Sightings take the source ``inspection``: each foreigner checked is sighted at the workplace.
- ``timpora_workplace_risk`` gains ``days_since_inspection`` and ``sponsor_violations``
  (docs/risk.md); its SQL is ``geo/migrations/sql/0026_workplace_risk_inspections.sql``. The
  downgrade restores migration 0022's function (and turns ``inspection`` sightings into
  ``other`` ones, which the older check allows).

Grants (docs/privacy.md): ``timpora_aggregate`` reads what counts need (the workplace, the day,
the agencies, each finding's kind and action), never the foreigner of a finding, a note, a
summary or a void reason. ``timpora_personal`` may insert and read, update only the void
columns of an inspection, and delete nothing.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGGREGATE = "timpora_aggregate"
PERSONAL = "timpora_personal"
HERE = Path(__file__).resolve().parent

FINDINGS = (
    "in_order",
    "permit_expired",
    "working_outside_sponsor",
    "no_documents",
    "overstay",
    "other",
)
ACTIONS = ("none", "warning", "administrative_sanction", "deportation_process", "referral_police")
OLD_SOURCES = ("patrol", "lodging", "checkpoint", "public_report", "other")
NEW_SOURCES = (*OLD_SOURCES, "inspection")

OLD = (
    "timpora_workplace_risk(date, double precision, integer, integer, double precision, "
    "integer, double precision)"
)
NEW = (
    "timpora_workplace_risk(date, double precision, integer, integer, double precision, "
    "integer, double precision, integer)"
)
# The new factors' documented defaults (docs/risk.md); geo.risk.DEFAULT_WEIGHTS says the same.
DEFAULTS = (("days_since_inspection", 0.01), ("sponsor_violations", 3.0))
FUNCTION = (HERE.parent / "sql" / "0026_workplace_risk_inspections.sql").read_text()


def _old_function() -> str:
    """Migration 0022's function text, read from that migration (never copied)."""
    spec = importlib.util.spec_from_file_location(
        "_timpora_0022", HERE / "0022_workplace_risk_sightings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FUNCTION)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


TABLES = f"""
CREATE TABLE inspection (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workplace_id integer NOT NULL REFERENCES workplace (id),
    inspected_on date NOT NULL,
    led_by_agency_id integer NOT NULL REFERENCES agency (id),
    plan_stop_id integer REFERENCES inspection_plan_stop (id) ON DELETE SET NULL,
    summary text CHECK (length(summary) <= 10000),
    external_ref varchar(100) UNIQUE,
    created_by varchar(100) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    voided_at timestamptz,
    voided_by varchar(100),
    void_reason text CHECK (length(void_reason) BETWEEN 1 AND 2000),
    CONSTRAINT ck_inspection_void CHECK ((voided_at IS NULL) = (void_reason IS NULL))
);
CREATE INDEX ix_inspection_workplace_on ON inspection (workplace_id, inspected_on);
CREATE INDEX ix_inspection_inspected_on ON inspection (inspected_on);

CREATE TABLE inspection_agency (
    inspection_id integer NOT NULL REFERENCES inspection (id),
    agency_id integer NOT NULL REFERENCES agency (id),
    PRIMARY KEY (inspection_id, agency_id)
);
CREATE INDEX ix_inspection_agency_agency ON inspection_agency (agency_id);

CREATE TABLE inspection_finding (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inspection_id integer NOT NULL REFERENCES inspection (id),
    foreigner_id integer NOT NULL REFERENCES foreigner (id),
    finding varchar(32) NOT NULL CONSTRAINT ck_inspection_finding_finding
        CHECK ({_in("finding", FINDINGS)}),
    action_taken varchar(32) NOT NULL CONSTRAINT ck_inspection_finding_action
        CHECK ({_in("action_taken", ACTIONS)}),
    note text CHECK (length(note) <= 10000),
    CONSTRAINT uq_inspection_finding_foreigner UNIQUE (inspection_id, foreigner_id)
);
CREATE INDEX ix_inspection_finding_foreigner ON inspection_finding (foreigner_id);
"""

# A check on a partitioned table may also sit, under the same name, on partitions that were
# attached with a copy of their own: each copy goes.
DROP_SOURCE_CHECK = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.conrelid::regclass AS tbl, c.conname
          FROM pg_constraint c
         WHERE c.contype = 'c' AND c.conname = 'ck_sighting_source'
           AND (c.conrelid = 'sighting'::regclass
                OR c.conrelid IN (SELECT inhrelid FROM pg_inherits
                                   WHERE inhparent = 'sighting'::regclass))
         ORDER BY (c.conrelid = 'sighting'::regclass) DESC
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', r.tbl, r.conname);
    END LOOP;
END $$
"""


def _source_check(sources: Sequence[str]) -> None:
    op.execute(DROP_SOURCE_CHECK)
    op.execute(
        f"ALTER TABLE sighting ADD CONSTRAINT ck_sighting_source CHECK ({_in('source', sources)})"
    )


def _replace(drop: str, create: str, signature: str) -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {drop}")
    op.execute(create)
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {PERSONAL}, {AGGREGATE}")


def upgrade() -> None:
    op.execute(TABLES)
    tables = "inspection, inspection_agency, inspection_finding"
    op.execute(f"REVOKE ALL ON {tables} FROM {PERSONAL}")
    op.execute(f"GRANT SELECT, INSERT ON {tables} TO {PERSONAL}")
    op.execute(f"GRANT UPDATE (voided_at, voided_by, void_reason) ON inspection TO {PERSONAL}")
    op.execute(
        f"GRANT USAGE, SELECT ON SEQUENCE inspection_id_seq, inspection_finding_id_seq "
        f"TO {PERSONAL}"
    )
    op.execute(
        f"GRANT SELECT (id, workplace_id, inspected_on, led_by_agency_id, plan_stop_id, "
        "created_at, voided_at) "
        f"ON inspection TO {AGGREGATE}"
    )
    op.execute(f"GRANT SELECT ON inspection_agency TO {AGGREGATE}")
    # The agencies' names are what the counts are shown by (granted again here in case the
    # agency table's own migration left the aggregate role without them).
    op.execute(f"GRANT SELECT (id, name, short_name, kind) ON agency TO {AGGREGATE}")
    op.execute(
        f"GRANT SELECT (id, inspection_id, finding, action_taken) ON inspection_finding "
        f"TO {AGGREGATE}"
    )
    _source_check(NEW_SOURCES)
    _replace(OLD, FUNCTION, NEW)
    values = ", ".join(f"('{factor}', {weight})" for factor, weight in DEFAULTS)
    op.execute(f"INSERT INTO risk_weight (factor, weight) VALUES {values} ON CONFLICT DO NOTHING")


def downgrade() -> None:
    factors = ", ".join(f"'{factor}'" for factor, _ in DEFAULTS)
    op.execute(f"DELETE FROM risk_weight WHERE factor IN ({factors})")
    _replace(NEW, _old_function(), OLD)
    op.execute("UPDATE sighting SET source = 'other' WHERE source = 'inspection'")
    _source_check(OLD_SOURCES)
    op.execute("DROP TABLE IF EXISTS inspection_finding, inspection_agency, inspection")
