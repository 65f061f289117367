"""Synthetic incidents for the hotspot and patrol tests: planted clusters plus uniform background
inside Kabupaten Sambas (the reference polygon, read in place). No real data, no real people."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import insert
from sqlalchemy.orm import Session

from geo.models import Incident

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
KABUPATEN = SHARED_DATA / "sambas-admin" / "kabupaten_sambas.geojson"

# Planted cluster centres (lon, lat), all inside the kabupaten and > 10 km apart.
CLUSTER_CENTRES = [
    (109.310, 1.362),  # Sambas town
    (109.300, 1.700),  # Paloh
    (109.170, 1.200),  # Pemangkat side
    (109.540, 1.490),  # Sajingan side
    (109.200, 1.480),  # Tebas / Jawai side
]
T0 = dt.datetime(2026, 1, 5, tzinfo=ZoneInfo("Asia/Pontianak"))  # a Monday, 00:00 WIB

_TO_UTM = Transformer.from_crs(4326, 32649, always_xy=True)
_TO_LL = Transformer.from_crs(32649, 4326, always_xy=True)


@functools.lru_cache(maxsize=1)
def kabupaten_utm() -> shapely.Geometry:
    return gpd.read_file(KABUPATEN).to_crs(32649).union_all()


def centre_utm(lon: float, lat: float) -> tuple[float, float]:
    x, y = _TO_UTM.transform(lon, lat)
    return float(x), float(y)


def uniform_in_kabupaten(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 2)`` UTM points uniformly inside the regency (rejection sampling)."""
    if n == 0:
        return np.zeros((0, 2))
    poly = kabupaten_utm()
    shapely.prepare(poly)
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)])
        inside = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out.append(inside)
        have += len(inside)
    return np.vstack(out)[:n]


def cluster_points(
    rng: np.random.Generator, centre: tuple[float, float], n: int, sd_m: float = 300.0
) -> np.ndarray:
    x, y = centre_utm(*centre)
    return np.column_stack([rng.normal(x, sd_m, n), rng.normal(y, sd_m, n)])


@dataclass
class Synthetic:
    xy: np.ndarray  # UTM
    times: list[dt.datetime]
    cluster: np.ndarray  # index of the planted cluster, -1 for background
    severity: np.ndarray


def planted(
    seed: int = 7,
    *,
    per_cluster: int = 30,
    background: int = 200,
    weeks: int = 12,
    centres: list[tuple[float, float]] | None = None,
) -> Synthetic:
    """Clusters spread over all weeks plus uniform background, times uniform over ``weeks``."""
    rng = np.random.default_rng(seed)
    centres = CLUSTER_CENTRES if centres is None else centres
    parts = [cluster_points(rng, c, per_cluster) for c in centres]
    labels = [np.full(per_cluster, k) for k in range(len(centres))]
    parts.append(uniform_in_kabupaten(rng, background))
    labels.append(np.full(background, -1))
    xy = np.vstack(parts)
    offsets = rng.uniform(0, weeks * 7 * 86400, len(xy))
    times = [T0 + dt.timedelta(seconds=float(s)) for s in offsets]
    return Synthetic(
        xy=xy,
        times=times,
        cluster=np.concatenate(labels),
        severity=rng.integers(1, 6, len(xy)),
    )


def rows(data: Synthetic, kind: str = "illegal_entry") -> list[dict[str, Any]]:
    lon, lat = _TO_LL.transform(data.xy[:, 0], data.xy[:, 1])
    return [
        {
            "kind": kind,
            "severity": int(sev),
            "occurred_at": t,
            "geom": f"SRID=4326;POINT({lo:.7f} {la:.7f})",
            "description": "synthetic test incident",
        }
        for lo, la, t, sev in zip(lon, lat, data.times, data.severity, strict=True)
    ]


def insert_incidents(session: Session, data: Synthetic, kind: str = "illegal_entry") -> int:
    records = rows(data, kind)
    session.execute(insert(Incident), records)
    session.flush()
    return len(records)
