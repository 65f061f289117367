"""A bounded run of tests/hardening/loadfault.py: 20 writers, a PostgreSQL restart mid-way."""

from __future__ import annotations

import os

from tests.conftest import SHARED_DATA
from tests.hardening.loadfault import run

PER_WRITER = int(os.environ.get("TIMPORA_LOADFAULT_PER_WRITER", "15"))


def test_writes_survive_a_database_restart_without_loss_or_duplicates() -> None:
    result = run(
        writers=20,
        per_writer=PER_WRITER,
        outage_s=2.0,
        reference_dir=SHARED_DATA,
        time_limit_s=240,
    )
    expected = 20 * PER_WRITER
    assert result["gave_up"] == 0, result
    assert result["acknowledged"] == expected, result
    # Every acknowledged sighting is stored exactly once, and nothing else is.
    assert result["stored"] == expected, result
    assert result["duplicated_sightings"] == 0, result
    assert result["acknowledged_missing"] == [] and result["stored_unacknowledged"] == [], result
    # During the outage the API said 503 (with Retry-After), never another server error.
    statuses = result["statuses"]
    assert all(code < 500 or code == 503 for code in statuses), result
    assert result["during_outage"].get(503, 0) + result["connection_errors"] > 0, result
    assert result["missing_retry_after"] == 0, result
    # No alert twice, and exactly the alerts a fault-free batch run makes of the same data.
    assert result["alerts"] == result["alerts_distinct_keys"], result
    assert result["alerts_distinct_rule_sighting"] == result["alerts"], result
    assert result["alerts"] > 0 and result["alerts"] == result["alerts_batch"], result
    assert result["healthz_after"] == 200, result
