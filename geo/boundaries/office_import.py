"""An office's own boundary file (Shapefile, zipped Shapefile, GeoPackage, GeoJSON, any CRS)
replacing one admin level."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
from sqlalchemy.orm import Session

from geo.boundaries.admin_areas import load_admin_layer, validate_admin_frame
from geo.boundaries.derived import rebuild_derived
from geo.boundaries.frames import read_4326
from geo.boundaries.reports import LayerReport, LoadReport
from geo.errors import ImportRejectedError, ValidationError
from geo.models import ADMIN_LEVELS
from geo.settings import Settings

NAME_FIELD_CANDIDATES = ("nama", "name", "NAMOBJ", "WADMKD", "WADMKC", "WADMKK", "NAMA", "Name")
CODE_FIELD_CANDIDATES = ("kode", "code", "KDEPUM", "KDCPUM", "KDPKAB", "KODE", "kode_wilayah")


def pick_field(
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
    frame = read_4326(path, path.name)
    nf = pick_field(frame, name_field, NAME_FIELD_CANDIDATES, "name")
    cf = pick_field(frame, code_field, CODE_FIELD_CANDIDATES, "code")
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
    layer = load_admin_layer(
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
    rebuild_derived(session=session, settings=settings, report=report, force=False)
    return layer
