"""The alert rules as set-based SQL, one module per rule family (docs/alerts.md).

Every rule is one ``INSERT INTO alert ... SELECT ... ON CONFLICT (dedup_key) DO NOTHING``. The
same statement serves both paths: on write it is restricted to the written ids (``{scope}`` is
``x.id = ANY(:ids)``), in batch to records since a time (``geo.alerts.statements`` fills the
placeholders, always from code, never from users). Each rule's definition depends only on the
data at or before the triggering record (previous sightings, earlier incidents), never on which
alerts already exist, so evaluating rows one by one as they are written (in time order) and
evaluating them all at once give the same alert set.

Distances are exact, in EPSG:32649, with ``ST_DWithin``/``ST_Distance`` on ``geom_utm`` (the
border distance is the column ``distance_to_border_m`` the location trigger filled with
``ST_Distance`` on the same pieces). No buffer polygons are used for a distance test.

Dedup keys are rule + subjects + time window, so concurrent writers collapse onto one row.

- ``incidents``: ``incident_near_workplace``, ``incident_cluster``;
- ``sightings``: the per-sighting rules on write; ``sightings_batch``: the same rules in batch,
  read from one pass over the sightings;
- ``foreigners``: ``permit_expiring``;
- ``locks``: the advisory locks on-write evaluation takes.
"""

from __future__ import annotations

from typing import Final

ALERT_COLUMNS: Final = """
    rule_id, rule_kind, severity, dedup_key, incident_id, sighting_id, foreigner_id,
    workplace_id, zone_id, subjects, distance_m, geom, kecamatan_code, kecamatan_name,
    desa_code, desa_name, details, event_at
"""

# Per foreigner and WIB day: the earliest sighting of the day carries the alert.
PER_DAY_KEY: Final = (
    "'{rule}:foreigner=' || s.foreigner_id || '\\:day=' "
    "|| to_char(s.observed_at AT TIME ZONE 'Asia/Pontianak', 'YYYY-MM-DD')"
)
