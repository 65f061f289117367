"""What is derived from the reference geography: the lookup pieces that location derivation
uses, the border-band and PLB-area zones, and re-locating the stored points."""

from __future__ import annotations

import json
import logging

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.boundaries.reports import LoadReport
from geo.locate import relocate_all
from geo.settings import Settings

log = logging.getLogger(__name__)


REFRESH_PIECES_SQL = text("SELECT timpora_refresh_locate_pieces()")

# Border bands on the Indonesian side: buffers of the border line in EPSG:32649, clipped to the
# regency and (when loaded) to Indonesian land, minus the nearer band.
BORDER_BANDS_SQL = text(
    """
    WITH b AS (SELECT ST_Union(geom_utm) AS g FROM reference_feature WHERE kind = 'border'),
         k AS (SELECT ST_Union(geom_utm) AS g FROM admin_area WHERE level = 'kabupaten'),
         l AS (SELECT ST_Union(geom_utm) AS g FROM reference_feature
               WHERE kind = 'land' AND country = 'IDN'),
         area AS (SELECT CASE WHEN l.g IS NULL THEN k.g ELSE ST_Intersection(k.g, l.g) END AS g
                  FROM k, l),
         band AS (
             SELECT :name AS name,
                    ST_Difference(ST_Buffer(b.g, :max_m, 'quad_segs=16'),
                                  ST_Buffer(b.g, :min_m, 'quad_segs=16')) AS ring
             FROM b WHERE b.g IS NOT NULL
         )
    SELECT ST_AsBinary(ST_Multi(ST_Transform(
               ST_CollectionExtract(ST_MakeValid(ST_Intersection(area.g, band.ring)), 3), 4326)))
    FROM band, area
    WHERE area.g IS NOT NULL
    """
)

PLB_AREA_SQL = text(
    """
    SELECT ST_AsBinary(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(geom)), 3))),
           array_agg(name ORDER BY name)
    FROM admin_area WHERE level = 'kecamatan' AND name = ANY(:names)
    """
)

UPSERT_ZONE_SQL = text(
    """
    INSERT INTO zone (name, kind, active, derived, properties, geom)
    VALUES (:name, :kind, true, true, CAST(:properties AS jsonb), ST_GeomFromWKB(:wkb, 4326))
    ON CONFLICT (name) DO UPDATE
    SET kind = excluded.kind, derived = true, properties = excluded.properties,
        geom = excluded.geom, updated_at = now()
    WHERE ST_AsBinary(zone.geom) IS DISTINCT FROM ST_AsBinary(excluded.geom)
       OR zone.properties IS DISTINCT FROM excluded.properties
    RETURNING id
    """
)


BORDER_BANDS = (
    ("Sabuk perbatasan 0–2 km", 0.0, 2_000.0),
    ("Sabuk perbatasan 2–5 km", 2_000.0, 5_000.0),
    ("Sabuk perbatasan 5–15 km", 5_000.0, 15_000.0),
)
PLB_ZONE_NAME = "Wilayah PLB (Pas Lintas Batas)"


def rebuild_derived(
    *, session: Session, settings: Settings, report: LoadReport, force: bool
) -> None:
    have_pieces = session.execute(text("SELECT EXISTS (SELECT 1 FROM locate_piece)")).scalar()
    if not (force or report.changed or not have_pieces):
        return
    session.execute(REFRESH_PIECES_SQL)
    report.zones_changed = derive_zones(session=session, settings=settings)
    report.relocated = relocate_all(session=session)


def derive_zones(*, session: Session, settings: Settings) -> int:
    """Border bands and the PLB area as ``zone`` rows (derived = true). Returns rows changed."""
    changed = 0
    for name, min_m, max_m in BORDER_BANDS:
        wkb = session.execute(
            BORDER_BANDS_SQL, {"name": name, "min_m": min_m, "max_m": max_m}
        ).scalar()
        if wkb is None:
            continue
        props = {"min_m": min_m, "max_m": max_m, "side": "ID"}
        row = session.execute(
            UPSERT_ZONE_SQL,
            {
                "name": name,
                "kind": "border_band",
                "properties": json.dumps(props),
                "wkb": bytes(wkb),
            },
        ).first()
        changed += row is not None
    names = settings.area.plb_kecamatan
    wkb, found = session.execute(PLB_AREA_SQL, {"names": names}).one()
    if wkb is not None:
        missing = sorted(set(names) - set(found or []))
        if missing:
            log.warning("PLB area: no kecamatan named %s", ", ".join(missing))
        props = {"kecamatan": list(found or [])}
        row = session.execute(
            UPSERT_ZONE_SQL,
            {
                "name": PLB_ZONE_NAME,
                "kind": "plb_area",
                "properties": json.dumps(props),
                "wkb": bytes(wkb),
            },
        ).first()
        changed += row is not None
    return changed
