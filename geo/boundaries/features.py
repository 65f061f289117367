"""Reference features (border, coastline, land, crossing posts, towns): upserted by kind and
name from the catalogue's layers."""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.boundaries.frames import is_missing
from geo.boundaries.reports import LayerReport
from geo.geometry import validate_geometry

# Kinds in the key-points file → reference_feature kinds.
KEY_POINT_KINDS = {
    "border_crossing_post": "crossing_post",
    "border_crossing_area": "crossing_post",
    "regency_capital": "town",
    "city": "town",
    "town": "town",
}


UPSERT_FEATURE_SQL = text(
    """
    INSERT INTO reference_feature (kind, name, country, source, properties, geom)
    VALUES (:kind, :name, :country, :source, CAST(:properties AS jsonb),
            ST_GeomFromWKB(:wkb, 4326))
    ON CONFLICT (kind, name) DO UPDATE
    SET country = excluded.country, source = excluded.source,
        properties = excluded.properties, geom = excluded.geom
    WHERE (reference_feature.country, reference_feature.source, reference_feature.properties)
          IS DISTINCT FROM (excluded.country, excluded.source, excluded.properties)
       OR ST_AsBinary(reference_feature.geom) IS DISTINCT FROM ST_AsBinary(excluded.geom)
    RETURNING (xmax = 0) AS inserted
    """
)


def feature_names(frame: gpd.GeoDataFrame, spec: dict[str, Any]) -> list[str]:
    if "name" in spec:
        return [spec["name"]] * len(frame)
    names = [str(v) for v in frame[spec["name_field"]]]
    if spec.get("kind_field"):
        # "PLBN Aruk (Pos Lintas …)" → "PLBN Aruk"; the full name stays in properties.
        names = [n.split(" (")[0].strip() for n in names]
    return names


def load_feature_layer(
    *,
    session: Session,
    frame: gpd.GeoDataFrame,
    spec: dict[str, Any],
    name: str,
    source: str,
    skip_names: set[str],
) -> LayerReport:
    report = LayerReport(layer=name, target="reference_feature", features=0)
    names = feature_names(frame, spec)
    for idx, (label, geom) in enumerate(zip(names, frame.geometry, strict=True)):
        if label in skip_names:
            report.notes.append(f"{label}: kept the key point instead of the coarser town point")
            continue
        props = {
            k: json_safe(v)
            for k, v in frame.iloc[idx].drop(labels="geometry").items()
            if not is_missing(v)
        }
        if spec.get("kind_field"):
            raw_kind = str(props.get(spec["kind_field"], ""))
            kind = KEY_POINT_KINDS.get(raw_kind, "landmark")
        else:
            kind = spec["kind"]
        country = str(props[spec["country_field"]]) if spec.get("country_field") else None
        feature_name = country if spec.get("country_field") else label
        geom_valid, _ = validate_geometry(
            geom,
            allowed_types=("Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon"),
            field=f"{name}[{idx + 1}]",
        )
        row = session.execute(
            UPSERT_FEATURE_SQL,
            {
                "kind": kind,
                "name": feature_name,
                "country": country,
                "source": source,
                "properties": json.dumps(props, sort_keys=True),
                "wkb": shapely.to_wkb(geom_valid),
            },
        ).first()
        report.features += 1
        if row is not None:
            if row[0]:
                report.inserted += 1
            else:
                report.updated += 1
    return report


def json_safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)
