"""Reference geography: load the catalogue's layers, import an office's own boundaries, and
derive the zones and lookup pieces that location derivation uses.

Loading is idempotent: a row whose name, parent, source and geometry are unchanged is not
touched, and when nothing changed nothing downstream is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ConfigurationError, GeometryError, ImportRejectedError, ValidationError
from geo.geometry import validate_geometry
from geo.locate import relocate_all
from geo.models import ADMIN_LEVELS
from geo.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

CATALOG_PATHS = (
    PROJECT_ROOT / "data" / "boundaries" / "catalog.toml",
    Path.cwd() / "data" / "boundaries" / "catalog.toml",
)

# Kinds in the key-points file → reference_feature kinds.
KEY_POINT_KINDS = {
    "border_crossing_post": "crossing_post",
    "border_crossing_area": "crossing_post",
    "regency_capital": "town",
    "city": "town",
    "town": "town",
}

NAME_FIELD_CANDIDATES = ("nama", "name", "NAMOBJ", "WADMKD", "WADMKC", "WADMKK", "NAMA", "Name")
CODE_FIELD_CANDIDATES = ("kode", "code", "KDEPUM", "KDCPUM", "KDPKAB", "KODE", "kode_wilayah")

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

BORDER_BANDS = (
    ("Sabuk perbatasan 0–2 km", 0.0, 2_000.0),
    ("Sabuk perbatasan 2–5 km", 2_000.0, 5_000.0),
    ("Sabuk perbatasan 5–15 km", 5_000.0, 15_000.0),
)
PLB_ZONE_NAME = "Wilayah PLB (Pas Lintas Batas)"


@dataclass
class LayerReport:
    layer: str
    target: str
    features: int
    inserted: int = 0
    updated: int = 0
    checksum: str = "ok"
    notes: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.features - self.inserted - self.updated


@dataclass
class LoadReport:
    source_dir: Path | None
    layers: list[LayerReport] = field(default_factory=list)
    zones_changed: int = 0
    relocated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(layer.inserted or layer.updated for layer in self.layers)


@dataclass
class FeatureProblem:
    feature: int  # 1-based, as a person counts rows
    field: str
    value: Any
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


# --- catalogue -------------------------------------------------------------------------------


def load_catalog(path: Path | None = None) -> dict[str, dict[str, Any]]:
    candidates = [path] if path else list(CATALOG_PATHS)
    for cand in candidates:
        if cand is not None and cand.exists():
            with cand.open("rb") as fh:
                layers: dict[str, dict[str, Any]] = tomllib.load(fh)["layers"]
                return layers
    raise ConfigurationError("boundary catalogue data/boundaries/catalog.toml not found")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def attributions() -> list[str]:
    """The distinct attributions every map and export made from the reference layers carries."""
    seen: list[str] = []
    for layer in load_catalog().values():
        text_ = str(layer.get("attribution", "")).strip()
        if text_ and text_ not in seen:
            seen.append(text_)
    return seen


# --- loading the catalogue's layers ------------------------------------------------------------


def load_reference_data(
    *, session: Session, settings: Settings, source_dir: Path | None = None
) -> LoadReport:
    """Load every catalogue layer from ``source_dir`` (default: the reference data setting)."""
    directory = Path(source_dir or settings.area.reference_data_dir).resolve()
    if not directory.is_dir():
        raise ConfigurationError(
            f"reference data folder {directory} not found; set TIMPORA_REFERENCE_DATA_DIR "
            "or pass DIR (see data/boundaries/README.md for where to get the files)"
        )
    catalog = load_catalog()
    report = LoadReport(source_dir=directory)
    key_point_names: set[str] = set()
    # Admin levels first (parents before children), then features; key points before towns.
    order = sorted(
        catalog.items(),
        key=lambda kv: (
            kv[1]["target"] != "admin_area",
            ADMIN_LEVELS.index(kv[1]["level"]) if "level" in kv[1] else 0,
            kv[0] != "key_points",
        ),
    )
    for name, spec in order:
        path = directory / spec["file"]
        if not path.exists():
            raise ConfigurationError(
                f"layer {name!r}: {path} not found (catalogue: data/boundaries/catalog.toml; "
                f"how to obtain: {spec.get('obtain', 'see the catalogue')})"
            )
        checksum = "ok" if sha256_of(path) == spec.get("sha256") else "differs from catalogue"
        source = spec["file"]
        frame = _read_4326(path, name)
        if spec["target"] == "admin_area":
            layer = _load_admin_layer(
                session=session,
                frame=frame,
                level=spec["level"],
                name_field=spec["name_field"],
                code_field=spec["code_field"],
                parent_field=spec.get("parent_field"),
                source=source,
                layer_name=name,
                replace_level=False,
            )
        else:
            layer = _load_feature_layer(
                session=session,
                frame=frame,
                spec=spec,
                name=name,
                source=source,
                skip_names=key_point_names if name == "towns" else set(),
            )
            if name == "key_points":
                key_point_names = {str(n) for n in _feature_names(frame, spec)}
        layer.checksum = checksum
        report.layers.append(layer)
    _rebuild_derived(session=session, settings=settings, report=report, force=False)
    return report


def _read_4326(path: Path, layer_name: str) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise ValidationError(
            f"{layer_name}: cannot read {path.name}: {exc}", field="file", value=path.name
        ) from None
    if frame.crs is None:
        raise ValidationError(
            f"{layer_name}: {path.name} has no coordinate reference system; "
            "add a .prj (Shapefile) or a CRS, then import again",
            field="crs",
            value=None,
        )
    if frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def _feature_names(frame: gpd.GeoDataFrame, spec: dict[str, Any]) -> list[str]:
    if "name" in spec:
        return [spec["name"]] * len(frame)
    names = [str(v) for v in frame[spec["name_field"]]]
    if spec.get("kind_field"):
        # "PLBN Aruk (Pos Lintas …)" → "PLBN Aruk"; the full name stays in properties.
        names = [n.split(" (")[0].strip() for n in names]
    return names


def _load_feature_layer(
    *,
    session: Session,
    frame: gpd.GeoDataFrame,
    spec: dict[str, Any],
    name: str,
    source: str,
    skip_names: set[str],
) -> LayerReport:
    report = LayerReport(layer=name, target="reference_feature", features=0)
    names = _feature_names(frame, spec)
    for idx, (label, geom) in enumerate(zip(names, frame.geometry, strict=True)):
        if label in skip_names:
            report.notes.append(f"{label}: kept the key point instead of the coarser town point")
            continue
        props = {
            k: _json_safe(v)
            for k, v in frame.iloc[idx].drop(labels="geometry").items()
            if not _is_missing(v)
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


def _json_safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def _load_admin_layer(
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
        name_s = "" if _is_missing(name) else str(name).strip()
        code_s = "" if _is_missing(code) else str(code).strip()
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
        if parent_field and parent_field in frame.columns and not _is_missing(rec[parent_field]):
            parent = str(rec[parent_field]).strip()
        elif level != "kabupaten" and "." in code_s:
            parent = code_s.rsplit(".", 1)[0]  # Kemendagri codes are hierarchical
        rows.append({"code": code_s, "name": name_s, "parent_code": parent, "geom": fixed})
    return rows, problems, notes


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except (TypeError, ValueError):
        return False


# --- an office's own files ---------------------------------------------------------------------


def _pick_field(
    frame: gpd.GeoDataFrame, wanted: str | None, candidates: Iterable[str], what: str
) -> str:
    if wanted:
        if wanted not in frame.columns:
            raise ValidationError(
                f"--{what}-field {wanted!r} is not a field of the file; fields are "
                f"{[c for c in frame.columns if c != 'geometry']}",
                field=f"{what}_field",
                value=wanted,
            )
        return wanted
    for cand in candidates:
        if cand in frame.columns:
            return cand
    raise ValidationError(
        f"no {what} field found (tried {', '.join(candidates)}); pass --{what}-field",
        field=f"{what}_field",
        value=None,
    )


def import_boundaries(
    *,
    session: Session,
    settings: Settings,
    path: Path,
    level: str,
    name_field: str | None = None,
    code_field: str | None = None,
    parent_field: str | None = None,
    dry_run: bool = False,
) -> LayerReport:
    """Replace one admin level with an office's file (Shapefile, zipped Shapefile, GPKG, GeoJSON).

    The file may be in any CRS (reprojected to EPSG:4326). Any bad feature rejects the whole
    file with a per-feature report; nothing is written then.
    """
    if level not in ADMIN_LEVELS:
        raise ValidationError(
            f"level must be one of {', '.join(ADMIN_LEVELS)}; got {level!r}",
            field="level",
            value=level,
        )
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"file {path} not found", field="file", value=str(path))
    frame = _read_4326(path, path.name)
    nf = _pick_field(frame, name_field, NAME_FIELD_CANDIDATES, "name")
    cf = _pick_field(frame, code_field, CODE_FIELD_CANDIDATES, "code")
    if dry_run:
        rows, problems, notes = validate_admin_frame(
            frame, level=level, name_field=nf, code_field=cf, parent_field=parent_field
        )
        if problems:
            raise ImportRejectedError(
                f"{path.name}: {len(problems)} problem(s); nothing written",
                field="file",
                details=[p.as_dict() for p in problems],
            )
        return LayerReport(layer=path.name, target="admin_area", features=len(rows), notes=notes)
    layer = _load_admin_layer(
        session=session,
        frame=frame,
        level=level,
        name_field=nf,
        code_field=cf,
        parent_field=parent_field,
        source=f"{path.name} (office import)",
        layer_name=path.name,
        replace_level=True,
    )
    report = LoadReport(source_dir=path.parent, layers=[layer])
    _rebuild_derived(session=session, settings=settings, report=report, force=False)
    return layer


# --- derived layers ----------------------------------------------------------------------------


def _rebuild_derived(
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
