"""What the offline field form needs before it loses signal: outlines and vocabularies.

Nothing here is personal: the kecamatan outlines (simplified to ~50 m, which a phone draws fast
and which is plenty to tap a point on), the regency's bounding box, the codes a report may use,
and the active agencies (names of institutions) a report may be shared with. The form's service
worker caches the answer, so the form opens and records offline.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.locate import FALLBACK_AOI_BBOX
from geo.models import INCIDENT_KINDS, INSPECTION_SOURCE, SHARING_LEVELS, SIGHTING_SOURCES

SIMPLIFY_M: Final = 50.0

OUTLINE_SQL = text(
    """
    SELECT code, name,
           ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(geom_utm, :tolerance), 4326), 4)
    FROM admin_area WHERE level = 'kecamatan' ORDER BY code
    """
)
AGENCIES_SQL = text("SELECT short_name, name FROM agency WHERE active ORDER BY short_name")
BBOX_SQL = text(
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
    "(SELECT ST_Extent(geom) AS e FROM admin_area WHERE level = 'kecamatan') x"
)


def context(*, session: Session) -> dict[str, Any]:
    """Outlines (GeoJSON), bbox, the codes of sighting sources, incident kinds, severities and
    sharing levels, and the active agencies (short name, name) a report may be shared with."""
    features = [
        {
            "type": "Feature",
            "geometry": orjson.loads(geometry),
            "properties": {"code": code, "name": name},
        }
        for code, name, geometry in session.execute(OUTLINE_SQL, {"tolerance": SIMPLIFY_M})
    ]
    bbox = session.execute(BBOX_SQL).one()
    return {
        "outline": {"type": "FeatureCollection", "features": features},
        "bbox": list(bbox) if bbox[0] is not None else list(FALLBACK_AOI_BBOX),
        # Inspection sightings come with an inspection's findings (geo/inspections.py).
        "sighting_sources": [s for s in SIGHTING_SOURCES if s != INSPECTION_SOURCE],
        "incident_kinds": list(INCIDENT_KINDS),
        "severities": [1, 2, 3, 4, 5],
        "sharing_levels": list(SHARING_LEVELS),
        "agencies": [
            {"short_name": short, "name": name} for short, name in session.execute(AGENCIES_SQL)
        ],
    }
