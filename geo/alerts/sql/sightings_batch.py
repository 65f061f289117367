"""The per-sighting facts the four permit-and-place rules read: one pass over the sightings.

On write each rule reads its few written rows through ``SIGHTING_FACTS`` as a subquery (only its
own fact computed). In batch every rule would scan all the sightings in scope and join their
foreigners again; instead one pass computes, per sighting, whether it is near the border away
from the person's routine places, sighted after its permit expired, a KITAS holder far from the
sponsor and from home, or a PLB holder outside the PLB area, and keeps only the sightings for
which one of them holds (with the foreigner's permit, home point and sponsor) in a temporary
table the rule statements then read. A disabled rule's fact is the constant false. The filter
tests the cheap facts first, so the PLB fact is evaluated for PLB holders' sightings that none
of the others keeps.

The border and sponsor facts include the rules' place exceptions (home, sponsor, crossing post,
PLB area; home): on the large demo set 180,000 sightings lie within 2 km of the border and all
but ~400 of them are routine there, so testing the exceptions in the pass keeps the table at
~10,000 rows instead of writing 189,000 and scanning them again in every rule statement.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text

from geo.alerts.sql.sightings import IN_PLB_AREA, SHARING_SCOPE

SIGHTING_FACTS: Final = """
SELECT s.id, s.observed_at, s.foreigner_id, s.source, s.geom, s.geom_utm,
       s.kecamatan_code, s.kecamatan_name, s.desa_code, s.desa_name, s.distance_to_border_m,
       f.permit_type, f.permit_expires_on, f.geom_utm AS home_geom_utm,
       w.id AS sponsor_id, w.name AS sponsor_name, w.geom_utm AS sponsor_geom_utm,
       {sharing_scope} AS sharing_scope,
       {near_border} AS near_border,
       {expired} AS expired,
       {far_from_sponsor} AS far_from_sponsor,
       {plb_outside} AS plb_outside
FROM sighting s
LEFT JOIN (  -- the expiry as an instant and the permit tests once per foreigner, not per sighting
    SELECT f.id, f.permit_type, f.permit_expires_on, f.sponsor_workplace_id, f.geom_utm,
           (f.permit_expires_on + 1)::timestamp AT TIME ZONE 'Asia/Pontianak' AS overdue_from,
           f.permit_type = 'PLB' AS plb_holder, f.permit_type = 'KITAS' AS kitas_holder
    FROM foreigner f
    {fence}
) f ON f.id = s.foreigner_id
LEFT JOIN workplace w ON w.id = f.sponsor_workplace_id
WHERE {scope}
  AND ({near_border} OR {expired} OR {far_from_sponsor} OR {plb_outside})
"""
BATCH_FACTS_TABLE: Final = "pg_temp.alert_batch_sighting"
BATCH_FACTS_CREATE: Final = "CREATE TEMP TABLE alert_batch_sighting ON COMMIT DROP AS"
BATCH_FACTS: Final[dict[str, str]] = {
    # On the Indonesian side within D, and not routine: not within ``routine_m`` of home or the
    # sponsor workplace, not a PLB holder inside the PLB area, not near a crossing post.
    "sighting_near_border": (
        "(coalesce(s.distance_to_border_m <= :near_distance_m AND s.border_side = 'ID', false) "
        "AND NOT coalesce(ST_DWithin(s.geom_utm, f.geom_utm, :routine_m), false) "
        "AND NOT coalesce(ST_DWithin(s.geom_utm, w.geom_utm, :routine_m), false) "
        "AND NOT (coalesce(f.plb_holder, false) AND {in_plb_area}) "
        "AND NOT {near_crossing_post})"
    ),
    # The range on observed_at first (cheap), the WIB date of the sighting only when it holds.
    "expired_permit_sighting": (
        "coalesce(s.observed_at >= f.overdue_from "
        "AND f.permit_expires_on < (s.observed_at AT TIME ZONE 'Asia/Pontianak')::date, false)"
    ),
    "plb_outside_area": "(coalesce(f.plb_holder, false) AND NOT {in_plb_area})",
    # Further than D from the sponsor workplace and further than ``home_m`` from home.
    "far_from_sponsor": (
        "(coalesce(f.kitas_holder "
        "AND NOT ST_DWithin(s.geom_utm, w.geom_utm, :far_distance_m), false) "
        "AND NOT coalesce(ST_DWithin(s.geom_utm, f.geom_utm, :home_m), false))"
    ),
}
BATCH_FACT_COLUMNS: Final = {
    "sighting_near_border": "near_border",
    "expired_permit_sighting": "expired",
    "plb_outside_area": "plb_outside",
    "far_from_sponsor": "far_from_sponsor",
}
# In batch the PLB area is tested for every PLB holder's sighting (a quarter of the large demo
# set's): a GiST probe of the pieces per sighting started an index scan each time (~25 us a row
# at load 6). Instead the pieces are collected once (an InitPlan) and each sighting is one
# ST_Intersects against that constant: PostGIS keeps an R-tree of its edges across the calls of
# the statement (its cache keyed on the repeated argument), so each test is a point-in-polygon
# search. A point intersects a collection of polygons when it intersects one of them, so the
# answer is the probe's. No PLB zone: the collection is NULL and the point is outside, as with
# the probe.
# Near an official crossing post: a GiST probe on write; in batch the posts collected once (a
# point is within d of a collection when it is within d of one of its points). Neither form is
# a correlated subquery in batch, so the facts can be evaluated in parallel workers.
NEAR_CROSSING_POST: Final = (
    "EXISTS (SELECT 1 FROM reference_feature r WHERE r.kind = 'crossing_post' "
    "AND ST_DWithin(r.geom_utm, s.geom_utm, :crossing_post_m))"
)
NEAR_CROSSING_POST_COLLECTED: Final = (
    "coalesce(ST_DWithin((SELECT ST_Collect(r.geom_utm) FROM reference_feature r "
    "WHERE r.kind = 'crossing_post'), s.geom_utm, :crossing_post_m), false)"
)
IN_PLB_AREA_COLLECTED: Final = (
    "coalesce(ST_Intersects((SELECT ST_Collect(zp.geom_utm) FROM zone_piece zp "
    "WHERE zp.kind = 'plb_area'), {g}), false)"
)
DROP_BATCH_FACTS_SQL: Final = text(f"DROP TABLE IF EXISTS {BATCH_FACTS_TABLE}")
BATCH_SOURCE: Final = f"{BATCH_FACTS_TABLE} s"


def facts_select(scope: str, wanted: tuple[str, ...], *, batch: bool) -> str:
    """``SIGHTING_FACTS`` with the facts of ``wanted`` computed, the others false.

    In batch the foreigners' subquery is fenced (``GROUP BY`` its primary key: not flattened,
    unlike ``OFFSET 0`` safe to run in parallel workers) so each expiry instant is computed once
    per foreigner while hashing all of them. On write it is not: flattened, the
    foreigner of each written sighting is found by its primary key. Fenced, the on-write plan
    scanned all 20,000 foreigners once per rule (15 ms of a write's 19 ms). The PLB fact is
    the pieces' probe on write and the collected pieces in batch (``IN_PLB_AREA_COLLECTED``).
    """
    in_plb_area = (IN_PLB_AREA_COLLECTED if batch else IN_PLB_AREA).format(g="s.geom_utm")
    near_post = NEAR_CROSSING_POST_COLLECTED if batch else NEAR_CROSSING_POST
    facts = {
        BATCH_FACT_COLUMNS[n]: (
            BATCH_FACTS[n].format(in_plb_area=in_plb_area, near_crossing_post=near_post)
            if n in wanted
            else "false"
        )
        for n in BATCH_FACTS
    }
    return SIGHTING_FACTS.format(
        scope=scope,
        fence="GROUP BY f.id" if batch else "",
        sharing_scope=SHARING_SCOPE.format(s="s"),
        **facts,
    )
