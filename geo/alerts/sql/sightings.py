"""Trigger queries of the per-sighting rules (docs/alerts.md has what each fires on and why).

The four rules that read a foreigner's permit and places read ``{source}``: one row per
sighting with its foreigner's permit, home point and sponsor and the rule facts
(``sightings_batch``: the border and sponsor facts include the rules' place exceptions). On
write it is the written sightings, in batch the facts table of one pass over the sightings since
a time; the trigger queries are the same text in both, except the PLB rule's look-up of the
previous sighting (by ``lag()`` in batch).

- ``sighting_near_border``: on the Indonesian side within D of the border, and not routine:
  not within ``routine_m`` of the foreigner's home point or sponsor workplace, not within
  ``crossing_post_m`` of an official crossing post, not a PLB holder inside the PLB area.
  Anonymous sightings (no foreigner) are episodes of their own.
- ``sighting_in_zone``: inside an active zone of the configured kinds; an episode per foreigner
  and zone.
- ``expired_permit_sighting``: sighted after the permit expired (WIB dates); one episode per
  foreigner and expiry date, that is per overstay.
- ``plb_outside_area``: a PLB holder outside every active PLB area; one episode per trip: a
  sighting whose previous sighting of the holder was inside the area starts a new trip.
- ``far_from_sponsor``: a KITAS holder further than D from the sponsor workplace, further than
  ``home_m`` from home, and not where the person is usually seen (fewer than ``usual_min`` of
  their sightings in the ``usual_days`` before lie within ``usual_radius_m``).
"""

from __future__ import annotations

from typing import Final

# The episode key's ending for a sighting not shared with the whole Timpora (docs/privacy.md):
# its sharing (level, reporting agency, agencies named). Such a sighting counts only in episodes
# of the same sharing, so every occurrence of an episode (its ``last_seen_at``, ``occurrences``,
# worst distance) is shared as the sighting the episode was opened on, whose sharing the alert's
# row policy follows (migration 0032). ``{s}`` is the sighting's alias.
SHARING_SCOPE: Final = (
    "CASE WHEN {s}.sharing = 'timpora' THEN '' ELSE '\\:shared=' || {s}.sharing || '/' "
    "|| coalesce({s}.agency_id::text, '-') || '/' || array_to_string({s}.shared_with, ',') END"
)

# The subject columns of an alert about one sighting of a foreigner.
_SIGHTING: Final = """
       s.id AS ord, {restart} AS restart, NULL::int AS incident_id, s.id AS sighting_id,
       s.foreigner_id, {workplace} AS workplace_id, {zone} AS zone_id,
       jsonb_strip_nulls(jsonb_build_object('sighting_id', s.id, 'foreigner_id', s.foreigner_id
                                            {more_subjects})) AS subjects,
       {distance} AS distance_m, s.geom, s.kecamatan_code, s.kecamatan_name, s.desa_code,
       s.desa_name"""


def _sighting(
    *,
    restart: str = "NULL::text",
    workplace: str = "NULL::int",
    zone: str = "NULL::int",
    more_subjects: str = "",
    distance: str = "NULL::float8",
) -> str:
    return _SIGHTING.format(
        restart=restart,
        workplace=workplace,
        zone=zone,
        more_subjects=more_subjects,
        distance=distance,
    )


# A PLB holder's sighting inside an active PLB area (tested on the zone's subdivided pieces).
IN_PLB_AREA: Final = (
    "EXISTS (SELECT 1 FROM zone_piece zp WHERE zp.kind = 'plb_area' "
    "AND ST_Intersects(zp.geom_utm, {g}))"
)

SIGHTING_NEAR_BORDER_TRIGGERS: Final = (
    """
SELECT CASE WHEN s.foreigner_id IS NULL THEN 'sighting_near_border:sighting=' || s.id
            ELSE 'sighting_near_border:foreigner=' || s.foreigner_id END
       || s.sharing_scope AS episode_key,"""
    + _sighting(distance="s.distance_to_border_m")
    + """,
       jsonb_build_object('threshold_m', CAST(:distance_m AS float8),
                          'routine_m', CAST(:routine_m AS float8), 'source', s.source) AS details,
       s.observed_at AS event_at
FROM {source}
WHERE s.near_border
"""
)

SIGHTING_IN_ZONE_TRIGGERS: Final = (
    """
SELECT DISTINCT ON (s.id, zp.zone_id)
       'sighting_in_zone:zone=' || zp.zone_id
       || CASE WHEN s.foreigner_id IS NULL THEN '\\:sighting=' || s.id
               ELSE '\\:foreigner=' || s.foreigner_id END
       || """
    + SHARING_SCOPE.format(s="s")
    + """ AS episode_key,"""
    + _sighting(zone="zp.zone_id", more_subjects=", 'zone_id', zp.zone_id")
    + """,
       jsonb_build_object('zone_name', z.name, 'zone_kind', z.kind, 'source', s.source)
           AS details,
       s.observed_at AS event_at
FROM zone_piece zp
JOIN sighting s ON ST_Intersects(zp.geom_utm, s.geom_utm)
JOIN zone z ON z.id = zp.zone_id
WHERE zp.kind = ANY(CAST(:zone_kinds AS text[])) AND {scope}
ORDER BY s.id, zp.zone_id
"""
)

EXPIRED_PERMIT_SIGHTING_TRIGGERS: Final = (
    """
SELECT 'expired_permit_sighting:foreigner=' || s.foreigner_id || '\\:expired='
       || s.permit_expires_on || s.sharing_scope AS episode_key,"""
    + _sighting()
    + """,
       jsonb_build_object('permit_type', s.permit_type, 'permit_expires_on', s.permit_expires_on,
                          'days_overdue', (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date
                                          - s.permit_expires_on) AS details,
       s.observed_at AS event_at
FROM {source}
WHERE s.expired
"""
)

# The distance to the nearest PLB zone is a true-distance KNN over the pieces; ties between
# zones go to the lowest zone id. A trip starts again when the holder's previous sighting was
# inside the area. ``{rows}`` are the holders' sightings outside the area, ``{previous}`` says
# whether the sighting before each was inside (``prev.inside``).
_PLB_OUTSIDE_AREA: Final = (
    """
SELECT 'plb_outside_area:foreigner=' || s.foreigner_id || s.sharing_scope AS episode_key,"""
    + _sighting(
        restart="CASE WHEN prev.inside THEN 'returned' END",
        zone="a.zone_id",
        more_subjects=", 'zone_id', a.zone_id",
        distance="a.distance_m",
    )
    + """,
       jsonb_build_object('permit_type', s.permit_type, 'zone_name', z.name) AS details,
       s.observed_at AS event_at
FROM {rows}
{previous}
CROSS JOIN LATERAL (
    SELECT zp.geom_utm <-> s.geom_utm AS distance_m
    FROM zone_piece zp WHERE zp.kind = 'plb_area'
    ORDER BY zp.geom_utm <-> s.geom_utm
    LIMIT 1
) n
CROSS JOIN LATERAL (
    SELECT min(zp.zone_id) AS zone_id, n.distance_m FROM zone_piece zp
    WHERE zp.kind = 'plb_area' AND ST_DWithin(zp.geom_utm, s.geom_utm, n.distance_m)
) a
JOIN zone z ON z.id = a.zone_id
WHERE s.plb_outside
"""
)
# The holder's sighting just before ``s`` (time, then id), and whether it lay in the area.
PLB_PREVIOUS_SIGHTING: Final = (
    """
    SELECT """
    + IN_PLB_AREA.format(g="p.geom_utm")
    + """ AS inside
    FROM sighting p
    WHERE p.foreigner_id = s.foreigner_id AND p.observed_at <= s.observed_at
      AND (p.observed_at, p.id) < (s.observed_at, s.id)
    ORDER BY p.observed_at DESC, p.id DESC
    LIMIT 1"""
)
# On write: the previous sighting looked up for each written one.
PLB_OUTSIDE_AREA_TRIGGERS: Final = _PLB_OUTSIDE_AREA.replace("{rows}", "{source}").replace(
    "{previous}", "LEFT JOIN LATERAL (" + PLB_PREVIOUS_SIGHTING + "\n) prev ON true"
)
# In batch the facts table holds every sighting in scope of a PLB holder outside the area, so
# the previous *outside* one comes from ``lag()`` over them, and the sighting just before ``s``
# was inside exactly when some sighting of the holder lies between the two (any sighting
# between them is inside, or it would be the previous outside one): an index range of the
# holder's sightings in that span, pruned to its months, instead of a look-up through every
# earlier monthly partition for each sighting. Only a holder's first outside sighting in scope
# looks the previous sighting up.
PLB_OUTSIDE_AREA_BATCH_TRIGGERS: Final = _PLB_OUTSIDE_AREA.replace(
    "{rows}",
    """(
    SELECT s.*, lag(s.observed_at) OVER w AS out_at, lag(s.id) OVER w AS out_id
    FROM {source}
    WHERE s.plb_outside
    WINDOW w AS (PARTITION BY s.foreigner_id ORDER BY s.observed_at, s.id)
) s""",
).replace(
    "{previous}",
    """CROSS JOIN LATERAL (
    SELECT CASE WHEN s.out_at IS NULL THEN ("""
    + PLB_PREVIOUS_SIGHTING
    + """)
                ELSE EXISTS (SELECT 1 FROM sighting p
                             WHERE p.foreigner_id = s.foreigner_id
                               AND p.observed_at BETWEEN s.out_at AND s.observed_at
                               AND (p.observed_at, p.id) > (s.out_at, s.out_id)
                               AND (p.observed_at, p.id) < (s.observed_at, s.id)) END AS inside
) prev""",
)

# "Usually seen here": at least N of the person's sightings in the T days before lie within R.
FAR_FROM_SPONSOR_TRIGGERS: Final = (
    """
SELECT 'far_from_sponsor:foreigner=' || s.foreigner_id || s.sharing_scope AS episode_key,"""
    + _sighting(
        workplace="s.sponsor_id",
        more_subjects=", 'workplace_id', s.sponsor_id",
        distance="ST_Distance(s.geom_utm, s.sponsor_geom_utm)",
    )
    + """,
       jsonb_build_object('threshold_m', CAST(:distance_m AS float8),
                          'home_m', CAST(:home_m AS float8),
                          'workplace_name', s.sponsor_name) AS details,
       s.observed_at AS event_at
FROM {source}
WHERE s.far_from_sponsor
  AND (SELECT count(*) FROM (
           SELECT 1 FROM sighting u
           WHERE u.foreigner_id = s.foreigner_id
             AND u.observed_at >= s.observed_at - :usual_window
             AND u.observed_at < s.observed_at
             AND ST_DWithin(u.geom_utm, s.geom_utm, :usual_radius_m)
           LIMIT :usual_min
       ) u) < :usual_min
"""
)
