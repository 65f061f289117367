"""Reading a boundary file into an EPSG:4326 frame, and telling a missing cell value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio

from geo.errors import ValidationError


def read_4326(path: Path, layer_name: str) -> gpd.GeoDataFrame:
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


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except (TypeError, ValueError):
        return False
