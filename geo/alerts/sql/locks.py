"""The advisory locks of on-write evaluation.

On write, evaluation takes a transaction-level advisory lock per foreigner (and one for incident
clusters) so that state-based rules see each other's committed rows.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text

# Advisory-lock namespaces (pg_advisory_xact_lock(class, id)).
LOCK_FOREIGNER: Final = 0x7A1E
LOCK_INCIDENT_CLUSTER: Final = 0x7A1F

# Lock the written sightings' foreigners (in id order, so writers cannot deadlock) and return
# the rows' time bounds, which the rule statements use to prune partitions.
LOCK_FOREIGNERS_SQL: Final = text(
    """
    WITH w AS MATERIALIZED (SELECT foreigner_id, observed_at FROM sighting WHERE id = ANY(:ids)),
    locked AS (
        SELECT count(pg_advisory_xact_lock(:cls, f.foreigner_id)) AS n
        FROM (SELECT DISTINCT foreigner_id FROM w
              WHERE foreigner_id IS NOT NULL ORDER BY 1) f
    )
    SELECT min(w.observed_at), max(w.observed_at), (SELECT n FROM locked) FROM w
    """
)
LOCK_CLUSTER_SQL: Final = text("SELECT pg_advisory_xact_lock(:cls, 0)")
