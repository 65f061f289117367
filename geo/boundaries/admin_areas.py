"""Admin areas (kabupaten, kecamatan, desa): validate a frame feature by feature, then upsert
the level (all or nothing)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.boundaries.frames import is_missing
from geo.boundaries.reports import FeatureProblem, LayerReport
from geo.errors import GeometryError, ImportRejectedError
from geo.geometry import validate_geometry

UPSERT_ADMIN_SQL = text(
    """
    INSERT INTO admin_area (code, name, level, parent_code, area_km2, source, geom)
    SELECT :code, :name, :level, :parent_code,
           ST_Area(ST_Transform(g, 32649)) / 1e6, :source, g
    FROM (SELECT ST_Multi(ST_GeomFromWKB(:wkb, 4326)) AS g) AS x
    ON CONFLICT (code) DO UPDATE
    SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
        area_km2 = excluded.area_km2, source = excluded.source, geom = excluded.geom,
        loaded_at = now()
    WHERE (admin_area.name, admin_area.level, admin_area.parent_code, admin_area.source)
          IS DISTINCT FROM (excluded.name, excluded.level, excluded.parent_code, excluded.source)
       OR ST_AsBinary(admin_area.geom) IS DISTINCT FROM ST_AsBinary(excluded.geom)
    RETURNING (xmax = 0) AS inserted
    """
)

DELETE_OTHER_ADMIN_SQL = text(
    "DELETE FROM admin_area WHERE level = :level AND NOT (code = ANY(:codes))"
)


def load_admin_layer(
    *,
    session: Session,
    frame: gpd.GeoDataFrame,
    level: str,
    name_field: str,
    code_field: str,
    parent_field: str | None,
    source: str,
    layer_name: str,
    replace_level: bool,
) -> LayerReport:
    rows, problems, notes = validate_admin_frame(
        frame,
        level=level,
        name_field=name_field,
        code_field=code_field,
        parent_field=parent_field,
    )
    if problems:
        raise ImportRejectedError(
            f"{layer_name}: {len(problems)} problem(s) in {len(frame)} feature(s); nothing written",
            field="file",
            details=[p.as_dict() for p in problems],
        )
    report = LayerReport(layer=layer_name, target="admin_area", features=len(rows), notes=notes)
    for row in rows:
        result = session.execute(
            UPSERT_ADMIN_SQL,
            {
                "code": row["code"],
                "name": row["name"],
                "level": level,
                "parent_code": row["parent_code"],
                "source": source,
                "wkb": shapely.to_wkb(row["geom"]),
            },
        ).first()
        if result is not None:
            if result[0]:
                report.inserted += 1
            else:
                report.updated += 1
    if replace_level:
        deleted = session.execute(
            DELETE_OTHER_ADMIN_SQL, {"level": level, "codes": [r["code"] for r in rows]}
        ).rowcount  # type: ignore[attr-defined]
        if deleted:
            report.updated += int(deleted)
            report.notes.append(f"removed {deleted} {level} area(s) not in the new file")
    return report


def validate_admin_frame(
    frame: gpd.GeoDataFrame,
    *,
    level: str,
    name_field: str,
    code_field: str,
    parent_field: str | None = None,
) -> tuple[list[dict[str, Any]], list[FeatureProblem], list[str]]:
    """Check every feature; returns (rows, problems, repair notes). Pure: no database."""
    problems: list[FeatureProblem] = []
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    for fld in (name_field, code_field):
        if fld not in frame.columns:
            problems.append(
                FeatureProblem(0, fld, None, f"no such field; fields are {list(frame.columns)}")
            )
    if problems:
        return rows, problems, notes
    seen: dict[str, int] = {}
    for idx in range(len(frame)):
        n = idx + 1
        rec = frame.iloc[idx]
        name = rec[name_field]
        code = rec[code_field]
        geom = rec.geometry
        name_s = "" if is_missing(name) else str(name).strip()
        code_s = "" if is_missing(code) else str(code).strip()
        if not name_s:
            problems.append(FeatureProblem(n, name_field, None, "missing name"))
        if not code_s:
            problems.append(FeatureProblem(n, code_field, None, "missing code"))
        elif code_s in seen:
            problems.append(
                FeatureProblem(
                    n, code_field, code_s, f"duplicate code (also feature {seen[code_s]})"
                )
            )
        else:
            seen[code_s] = n
        if geom is None or geom.is_empty:
            problems.append(FeatureProblem(n, "geometry", None, "missing or empty geometry"))
            continue
        try:
            fixed, note = validate_geometry(geom, allowed_types=("MultiPolygon",), field="geometry")
        except GeometryError as exc:
            problems.append(FeatureProblem(n, "geometry", geom.geom_type, exc.message))
            continue
        if note:
            notes.append(f"feature {n} ({code_s or name_s}): {note}")
        parent = None
        if parent_field and parent_field in frame.columns and not is_missing(rec[parent_field]):
            parent = str(rec[parent_field]).strip()
        elif level != "kabupaten" and "." in code_s:
            parent = code_s.rsplit(".", 1)[0]  # Kemendagri codes are hierarchical
        rows.append({"code": code_s, "name": name_s, "parent_code": parent, "geom": fixed})
    return rows, problems, notes
