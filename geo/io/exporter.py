"""Export a layer to GeoJSON, CSV, GeoPackage or XLSX, in the shape the importer reads back.

Columns are the import columns (so export → import is the identity), plus the record id and
the derived location columns, which the importer ignores. Times are ISO 8601 in WIB (+07:00).
Filters are the API's list filters (``geo.registry.ListFilters``; limit/offset do not apply:
an export holds every matching row). Personal fields (``geo.access.PERSONAL_FIELDS``) are
left out for roles that may not see them, and every export leaves an audit row. CSV and XLSX
text cells that a spreadsheet would run as formulas are written inert (``geo.io.formulas``).
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import pandas as pd
import pyogrio
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access, audit, registry
from geo.errors import PermissionDeniedError, ValidationError
from geo.io.derive import DERIVED_COLUMNS
from geo.io.formulas import neutralise_frame
from geo.io.layers import LayerSpec, layer_spec
from geo.registry import ListFilters
from geo.registry.caps import MAX_EXPORT_ROWS
from geo.users import Principal

EXPORT_FORMATS: Final = ("geojson", "csv", "gpkg", "xlsx")
MEDIA_TYPES: Final = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SUFFIXES: Final = {"geojson": ".geojson", "csv": ".csv", "gpkg": ".gpkg", "xlsx": ".xlsx"}

_WIB = "'Asia/Pontianak'"


@dataclass
class ExportResult:
    layer: str
    format: str
    count: int
    personal: bool
    media_type: str
    content: bytes = b""
    path: Path | None = None
    columns: list[str] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        """What a download is called: ``timpora-sightings.csv``."""
        return f"timpora-{self.layer}{SUFFIXES[self.format]}"


def _select_sql(
    *,
    session: Session,
    spec: LayerSpec,
    filters: ListFilters,
    hidden: frozenset[str] = frozenset(),
) -> tuple[str, dict[str, Any]]:
    t = spec.table
    cols = ["t.id"]
    joins = []
    for i, col in enumerate(spec.columns):
        if col.name in hidden:
            continue  # never read: the database role of the caller may not (docs/privacy.md)
        if col.kind == "ref":
            alias = f"r{i}"
            joins.append(f"LEFT JOIN {col.ref_table} {alias} ON {alias}.id = t.{col.ref_column}")
            cols.append(f"{alias}.external_ref AS {col.name}")
        elif col.kind == "datetime":
            cols.append(
                f"to_char(t.{col.name} AT TIME ZONE {_WIB}, "
                "'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN extract(microseconds FROM "
                f"t.{col.name})::bigint % 1000000 = 0 THEN '' ELSE to_char(t.{col.name} AT TIME "
                f"ZONE {_WIB}, '.US') END || '+07:00' AS {col.name}"
            )
        elif col.kind == "date":
            cols.append(f"to_char(t.{col.name}, 'YYYY-MM-DD') AS {col.name}")
        else:
            cols.append(f"t.{col.name}")
    cols += ["ST_X(t.geom) AS lon", "ST_Y(t.geom) AS lat"]
    cols += [f"t.{c}" for c in DERIVED_COLUMNS]
    registry_layer = registry.get_layer(spec.layer)
    where = registry.where_clause(registry_layer, filters, session=session, alias="t")
    if where.joins:
        joins.append(where.joins)
    order = "t.id, t.observed_at" if t == "sighting" else "t.id"
    sql = (
        f"SELECT {', '.join(cols)} FROM {t} t {' '.join(joins)} "
        f"WHERE {where.sql} ORDER BY {order} LIMIT {MAX_EXPORT_ROWS + 1}"
    )
    return sql, where.params


def export_frame(
    *, session: Session, layer: str, role: str, filters: ListFilters | None = None
) -> pd.DataFrame:
    """The rows of ``layer`` as a table of file-ready values, personal fields per ``role``."""
    spec = layer_spec(layer)
    hidden = frozenset(
        () if access.sees_personal_data(role) else access.PERSONAL_FIELDS.get(spec.table, ())
    )
    sql, params = _select_sql(
        session=session, spec=spec, filters=filters or ListFilters(), hidden=hidden
    )
    result = session.execute(text(sql), params)
    rows = result.all()
    if len(rows) > MAX_EXPORT_ROWS:
        raise ValidationError(
            f"the export holds more than {MAX_EXPORT_ROWS:,} rows (the cap of one file); "
            "narrow it with bbox, start/end, kind or kecamatan",
            field="rows",
            value=MAX_EXPORT_ROWS,
        )
    frame = pd.DataFrame(rows, columns=list(result.keys()))
    if not access.sees_personal_data(role):  # defence in depth: the SQL left them out
        frame = frame.drop(columns=[c for c in hidden if c in frame.columns])
    for col in spec.columns:
        if col.kind == "int" and col.name in frame.columns:
            frame[col.name] = frame[col.name].astype("Int64")
    return frame


def export_layer(
    *,
    session: Session,
    layer: str,
    fmt: str,
    role: str,
    principal: Principal | None = None,
    filters: ListFilters | None = None,
    out: Path | None = None,
    client: str | None = None,
) -> ExportResult:
    """Write ``layer`` as ``fmt`` to ``out`` (or return the bytes when ``out`` is None)."""
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(
            f"format: {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}",
            field="format",
            value=fmt,
        )
    spec = layer_spec(layer)
    if spec.table in access.PERSON_RECORDS and not access.sees_personal_data(role):
        # Every row is a person or a person's trace: a role without personal data gets counts
        # (maps, hotspots), never these rows, whichever face asks (docs/privacy.md).
        raise PermissionDeniedError(
            f"role {role!r} may not export {spec.layer}: each row is a person or a person's "
            "trace (personal data)"
        )
    filters = filters or ListFilters()
    frame = export_frame(session=session, layer=spec.layer, role=role, filters=filters)
    personal = access.sees_personal_data(role) and bool(access.PERSONAL_FIELDS.get(spec.table))
    content = _encode(frame, fmt, spec.layer, out)
    audit.record(
        session=session,
        principal=principal,
        action="export",
        resource=spec.layer,
        record_count=len(frame),
        client=client,
        details={"format": fmt, "personal": personal, "filters": filters.query_params()},
    )
    return ExportResult(
        layer=spec.layer,
        format=fmt,
        count=len(frame),
        personal=personal,
        media_type=MEDIA_TYPES[fmt],
        content=content if out is None else b"",
        path=out,
        columns=list(frame.columns),
    )


def _encode(frame: pd.DataFrame, fmt: str, layer: str, out: Path | None) -> bytes:
    if fmt in ("csv", "xlsx"):
        frame = neutralise_frame(frame)  # no cell runs as a formula in a spreadsheet
    if fmt == "csv":
        data = frame.to_csv(index=False).encode("utf-8")
        if out is not None:
            out.write_bytes(data)
        return data
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as writer:
            frame.to_excel(writer, sheet_name=layer, index=False)
        data = buf.getvalue()
        if out is not None:
            out.write_bytes(data)
        return data
    geometry = gpd.points_from_xy(frame["lon"], frame["lat"], crs=4326)
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=geometry, crs=4326)
    gdf.loc[frame["lon"].isna(), "geometry"] = None
    driver = "GeoJSON" if fmt == "geojson" else "GPKG"
    if out is not None:
        pyogrio.write_dataframe(gdf, out, driver=driver, layer=layer)
        return b""
    with tempfile.TemporaryDirectory(prefix="timpora-export-") as tmp:
        path = Path(tmp) / f"{layer}{SUFFIXES[fmt]}"
        pyogrio.write_dataframe(gdf, path, driver=driver, layer=layer)
        return path.read_bytes()
