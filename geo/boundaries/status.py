"""What reference geography the database holds: layers, counts, sources and licences."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.boundaries.catalog import load_catalog

STATUS_SQL = text(
    """
    SELECT 'admin_area' AS target, level AS layer, count(*) AS n,
           string_agg(DISTINCT source, '; ') AS sources, max(loaded_at) AS loaded_at
    FROM admin_area GROUP BY level
    UNION ALL
    SELECT 'reference_feature', kind, count(*), string_agg(DISTINCT source, '; '), NULL
    FROM reference_feature GROUP BY kind
    UNION ALL
    SELECT 'zone', kind, count(*), 'derived', max(updated_at)
    FROM zone WHERE derived GROUP BY kind
    ORDER BY 1, 2
    """
)


def boundary_status(*, session: Session) -> list[dict[str, Any]]:
    """Layers in the database with feature counts, sources and (from the catalogue) licences."""
    licence_of = {spec["file"]: spec["licence"] for spec in load_catalog().values()}
    out = []
    for target, layer, n, sources, loaded_at in session.execute(STATUS_SQL):
        files = [s.strip() for s in (sources or "").split(";") if s.strip()]
        licences = (
            sorted({licence_of.get(f, "office import" if "office" in f else "-") for f in files})
            if target != "zone"
            else ["as its sources"]
        )
        out.append(
            {
                "target": target,
                "layer": layer,
                "features": int(n),
                "sources": "; ".join(files) or "derived",
                "licence": "; ".join(licences),
                "loaded_at": loaded_at,
            }
        )
    return out
