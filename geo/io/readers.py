"""Read an office's file into a table of raw values, one row per record.

CSV (comma, semicolon or tab; lon/lat columns or WKT), XLSX, GeoJSON, GeoPackage and zipped
Shapefiles. Spatial formats are reprojected to EPSG:4326 when they declare another CRS; Point
geometries become ``lon``/``lat`` columns, anything else a ``wkt`` column that validation rejects
with the geometry type named.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
import pyogrio
import shapely

from geo.errors import TooLargeError, ValidationError
from geo.io.formulas import restore_frame

FORMATS: Final = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".shp": "shapefile",
}


@dataclass
class RawTable:
    """Raw values as read; ``first_row`` is the file's row number of the first record."""

    frame: pd.DataFrame
    format: str
    first_row: int
    notes: list[str]


@dataclass(frozen=True)
class ReadLimits:
    """Caps on what one file may make the reader do; None: no cap (the CLI, trusted callers)."""

    max_uncompressed_bytes: int | None = None
    max_rows: int | None = None


def check_archive(path: Path, max_uncompressed_bytes: int | None) -> None:
    """Refuse an XLSX or zipped Shapefile whose members add up to more than the cap.

    Read from the zip's central directory before any member is opened, so a zip bomb (a few
    kilobytes that inflate to gigabytes) is refused without inflating anything.
    """
    if max_uncompressed_bytes is None or detect_format(path) not in ("xlsx", "shapefile"):
        return
    if not zipfile.is_zipfile(path):
        return  # a .shp, or not an archive at all: the reader says what is wrong
    with zipfile.ZipFile(path) as archive:
        total = sum(member.file_size for member in archive.infolist())
    if total > max_uncompressed_bytes:
        raise TooLargeError(
            f"file: {path.name} holds {total:,} bytes uncompressed, more than "
            f"TIMPORA_IMPORT_MAX_UNCOMPRESSED_BYTES ({max_uncompressed_bytes:,})",
            field="file",
            value=path.name,
        )


def check_rows(path: Path, rows: int, max_rows: int | None) -> None:
    if max_rows is not None and rows > max_rows:
        raise TooLargeError(
            f"file: {path.name} holds {rows:,} rows, more than TIMPORA_IMPORT_MAX_ROWS "
            f"({max_rows:,})",
            field="file",
            value=path.name,
        )


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(
            f"file: unsupported file type {path.suffix!r} ({path.name}); expected CSV, XLSX, "
            "GeoJSON, GeoPackage or a zipped Shapefile",
            field="file",
            value=path.name,
        )
    return fmt


def read_table(path: Path, limits: ReadLimits | None = None) -> RawTable:
    """Read ``path``; with ``limits``, archives and row counts above the caps are refused."""
    limits = limits or ReadLimits()
    fmt = detect_format(path)
    check_archive(path, limits.max_uncompressed_bytes)
    if fmt == "csv":
        table = _read_csv(path)
    elif fmt == "xlsx":
        table = _read_xlsx(path)
    else:
        table = _read_spatial(path, fmt)
    check_rows(path, len(table.frame), limits.max_rows)
    return table


def _read_csv(path: Path) -> RawTable:
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1252"  # older office exports
    head = raw[:65536].decode(encoding, errors="replace")
    first_line = head.splitlines()[0] if head.strip() else ""
    sep = max((",", ";", "\t"), key=first_line.count)
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            encoding=encoding,
            skipinitialspace=False,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"file: {path.name} is not a readable CSV file ({str(exc).splitlines()[0]})",
            field="file",
            value=path.name,
        ) from None
    return RawTable(frame=restore_frame(frame), format="csv", first_row=2, notes=[])


def _read_xlsx(path: Path) -> RawTable:
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")
    except (ValueError, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ValidationError(
            f"file: {path.name} is not a readable XLSX workbook ({exc})",
            field="file",
            value=path.name,
        ) from None
    frame = frame.astype(object).where(frame.notna(), None)
    return RawTable(frame=restore_frame(frame), format="xlsx", first_row=2, notes=[])


def _read_spatial(path: Path, fmt: str) -> RawTable:
    source = str(path)
    if fmt == "shapefile" and path.suffix.lower() == ".zip":
        source = f"/vsizip/{path}"
    try:
        gdf = pyogrio.read_dataframe(source)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(
            f"file: {path.name} cannot be read as {fmt} ({str(exc).splitlines()[0]})",
            field="file",
            value=path.name,
        ) from None
    notes: list[str] = []
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        notes.append(f"reprojected from {gdf.crs.to_string()} to EPSG:4326")
        gdf = gdf.to_crs(4326)
    arr = gdf.geometry.to_numpy()
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
    frame = frame.where(frame.notna(), None)
    is_point = (shapely.get_type_id(arr) == 0) | shapely.is_missing(arr)
    if bool(is_point.all()):
        frame["lon"] = shapely.get_x(arr)
        frame["lat"] = shapely.get_y(arr)
    else:
        frame["wkt"] = [None if g is None else g.wkt for g in arr]
    return RawTable(frame=frame, format=fmt, first_row=1, notes=notes)
