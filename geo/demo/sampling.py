"""Sampling helpers of the demo generator: points in polygons, scatter around points, points near
the border, times of day. Pure numpy/shapely, deterministic for the caller's generator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

M_PER_DEG: Final = 111_320.0  # metres per degree; Sambas lies within 2 degrees of the equator


@dataclass
class Geography:
    kecamatan: dict[str, BaseGeometry]  # name → polygon (EPSG:4326)
    kabupaten: BaseGeometry
    border_parts: np.ndarray  # LineStrings of the border near the regency
    border_lengths: np.ndarray
    plb_area: BaseGeometry  # where a PLB holder may be (the plb_area zones, else PLB_KECAMATAN)
    crossing_posts: np.ndarray  # (lon, lat) of the official crossing posts
    malaysia: BaseGeometry | None = None  # Malaysian land beside the regency, where loaded

    @property
    def border(self) -> BaseGeometry:
        return shapely.union_all(self.border_parts)


def choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = np.array([o[0] for o in options], dtype=object)
    p = np.array([o[1] for o in options], dtype=float)
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def in_polygon(rng: np.random.Generator, polygon: BaseGeometry, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = polygon.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        x = rng.uniform(minx, maxx, 4 * n + 16)
        y = rng.uniform(miny, maxy, 4 * n + 16)
        ok = shapely.contains_xy(polygon, x, y)
        out = np.vstack([out, np.column_stack([x[ok], y[ok]])])
    return out[:n]


def around(
    rng: np.random.Generator,
    xy: np.ndarray,
    sd_m: float,
    inside: BaseGeometry,
    max_m: float | None = None,
) -> np.ndarray:
    """Gaussian scatter around points (metres), kept inside ``inside`` (else the base point)."""
    offset = rng.normal(0.0, sd_m, size=xy.shape)
    if max_m is not None:
        r = np.hypot(offset[:, 0], offset[:, 1])
        scale = np.where(r > max_m, max_m / np.maximum(r, 1e-9) * rng.uniform(0, 1, len(r)), 1.0)
        offset *= scale[:, None]
    moved = xy + offset / M_PER_DEG
    ok = shapely.contains_xy(inside, moved[:, 0], moved[:, 1])
    return np.where(ok[:, None], moved, xy)


def near_border(
    rng: np.random.Generator,
    geo: Geography,
    n: int,
    min_m: float,
    max_m: float,
    indonesian_side: bool,
) -> np.ndarray:
    """Points min..max metres from the border, on the chosen side (rejection sampling)."""
    out = np.empty((0, 2))
    p = geo.border_lengths / geo.border_lengths.sum()
    while len(out) < n:
        k = 3 * (n - len(out)) + 16
        part = rng.choice(len(geo.border_parts), size=k, p=p)
        at = rng.uniform(0, 1, k) * geo.border_lengths[part]
        base = shapely.line_interpolate_point(geo.border_parts[part], at)
        bx, by = shapely.get_x(base), shapely.get_y(base)
        angle = rng.uniform(0, 2 * np.pi, k)
        dist = rng.uniform(min_m, max_m, k) / M_PER_DEG
        x, y = bx + dist * np.cos(angle), by + dist * np.sin(angle)
        inside = shapely.contains_xy(geo.kabupaten, x, y)
        keep = inside if indonesian_side else ~inside
        # Across the border: only beside the regency (the line also runs past Bengkayang).
        if not indonesian_side:
            keep &= shapely.dwithin(geo.kabupaten, shapely.points(x, y), 0.05)
        out = np.vstack([out, np.column_stack([x[keep], y[keep]])])
    return out[:n]


def times(
    rng: np.random.Generator, start: dt.datetime, days: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """UTC datetime64[s] for day offsets from ``start`` and WIB hours (floats)."""
    base = np.datetime64(start.replace(tzinfo=None), "s")
    seconds = (
        days.astype(np.int64) * 86400
        + (hours * 3600).astype(np.int64)
        + rng.integers(0, 60, len(days))
    )
    return base + seconds.astype("timedelta64[s]")


def iso(stamps: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(stamps, unit="s").astype(str), "+00:00")


def metres_to(xy: np.ndarray, geom: BaseGeometry) -> np.ndarray:
    """Distance in metres from each (lon, lat) to ``geom`` (degrees scaled; < 0.1 % off here)."""
    return np.asarray(shapely.distance(shapely.points(xy), geom)) * M_PER_DEG


def near_border_within(
    rng: np.random.Generator,
    geo: Geography,
    n: int,
    min_m: float,
    max_m: float,
    within: BaseGeometry,
) -> np.ndarray:
    """Points min..max metres from the border on the Indonesian side and inside ``within``."""
    out = np.empty((0, 2))
    while len(out) < n:
        xy = near_border(rng, geo, 4 * (n - len(out)) + 16, min_m, max_m, True)
        out = np.vstack([out, xy[shapely.contains_xy(within, xy[:, 0], xy[:, 1])]])
    return out[:n]
