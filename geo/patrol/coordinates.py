"""Lon/lat ↔ EPSG:32649 metres for planning, the start-point check, the default start."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from geo.errors import ValidationError
from geo.geometry import transformer
from geo.models import METRIC_SRID, SRID
from geo.settings import AreaSettings

FloatArray = npt.NDArray[np.float64]

SAMBAS_TOWN: Final = (109.310052, 1.361227)  # lon, lat: fallback start point


def _transformer(to_metric: bool) -> Transformer:
    return transformer(SRID, METRIC_SRID) if to_metric else transformer(METRIC_SRID, SRID)


def to_utm(lon: float, lat: float) -> tuple[float, float]:
    x, y = _transformer(True).transform(lon, lat)
    return float(x), float(y)


def to_utm_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = _transformer(True).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon, lat = _transformer(False).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def check_lon_lat(lon: float, lat: float, *, field: str = "start") -> None:
    """A finite lon/lat in range, in the UTM zone this service measures in (a loose check)."""
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(
            f"{field} must be a finite lon in [-180, 180] and lat in [-90, 90]; "
            f"got ({lon!r}, {lat!r})",
            field=field,
            value=f"{lon},{lat}",
        )
    # EPSG:32649 is meant for 108-114 °E; far outside it distances are wrong, not just far.
    if not (102.0 <= lon <= 120.0 and -10.0 <= lat <= 12.0):
        raise ValidationError(
            f"{field} ({lon}, {lat}) is far outside Kabupaten Sambas (lon 108.9-109.9, "
            "lat 0.9-2.1); did you swap lon and lat?",
            field=field,
            value=f"{lon},{lat}",
        )


def default_start(area: AreaSettings | None = None) -> tuple[float, float]:
    """The office location from settings (TIMPORA_OFFICE_LON/LAT), else Sambas town."""
    if area is not None and area.office_lon is not None and area.office_lat is not None:
        return area.office_lon, area.office_lat
    return SAMBAS_TOWN
