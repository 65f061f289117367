"""The checks of an import beyond each row's own values: the area of interest and the references.

Both add to the per-row problems of ``geo.io.validate``; the importer rejects the file when any
problem is found. The location index that tests the area is the one that then derives the
location columns of the rows (:meth:`Placement.locate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from geo.io.derive import Located, LocationIndex, location_index
from geo.io.layers import Column, LayerSpec
from geo.io.validate import MAX_PROBLEMS_REPORTED, Problem
from geo.locate import FALLBACK_AOI_BBOX
from geo.settings import AreaSettings

REF_CHUNK: int = 10_000


@dataclass(frozen=True)
class Placement:
    """Where the rows lie, and the flag stored with rows kept although outside the area."""

    lon: np.ndarray
    lat: np.ndarray
    index: LocationIndex
    out_of_area: np.ndarray
    out_of_area_count: int

    def locate(self, rows: np.ndarray) -> Located:
        """The derived columns of these rows (computed chunk by chunk, as they are written)."""
        return self.index.locate(self.lon[rows], self.lat[rows])


@dataclass(frozen=True)
class Findings:
    """Problems found, at most ``MAX_PROBLEMS_REPORTED`` of each kind, and how many in all."""

    problems: list[Problem]
    total: int


def place_rows(
    *, session: Session, spec: LayerSpec, clean: pd.DataFrame, area: AreaSettings
) -> tuple[Placement, Findings]:
    """Test every point against the area of interest (the regency plus the margin).

    A point outside is a problem, except for sightings when the settings keep them (flagged).
    """
    lon = clean["lon"].to_numpy(dtype=float)
    lat = clean["lat"].to_numpy(dtype=float)
    index = location_index(session)
    has_point = ~np.isnan(lon)
    if index.kabupaten is None:
        minx, miny, maxx, maxy = FALLBACK_AOI_BBOX
        inside = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    else:
        inside = index.inside_area(lon, lat, area.aoi_margin_m)
    outside = has_point & ~inside
    keep_outside = spec.table == "sighting" and area.allow_out_of_area_sightings
    problems: list[Problem] = []
    total = 0
    if outside.any() and not keep_outside:
        rownums = clean["rownum"].to_numpy(dtype=np.int64)
        for i in np.flatnonzero(outside)[:MAX_PROBLEMS_REPORTED]:
            problems.append(
                Problem(
                    int(rownums[i]),
                    "lon/lat",
                    f"{lon[i]} {lat[i]}",
                    f"outside Kabupaten Sambas plus the {area.aoi_margin_m / 1000:g} km margin",
                )
            )
        total = int(outside.sum())
    placement = Placement(
        lon=lon,
        lat=lat,
        index=index,
        out_of_area=outside if keep_outside else np.zeros(len(lon), dtype=bool),
        out_of_area_count=int(outside.sum()) if keep_outside else 0,
    )
    return placement, Findings(problems, total)


def ref_columns(spec: LayerSpec) -> list[Column]:
    """The columns that name another layer's row by its ``external_ref``."""
    return [c for c in spec.columns if c.kind == "ref"]


def check_references(*, session: Session, spec: LayerSpec, clean: pd.DataFrame) -> Findings:
    """Every ``*_ref`` value names a stored row of its layer (one query per column and chunk)."""
    problems: list[Problem] = []
    total = 0
    for col in ref_columns(spec):
        values = clean[col.name]
        wanted = [str(v) for v in values.dropna().unique()]
        if not wanted:
            continue
        stmt = text(
            f"SELECT external_ref FROM {col.ref_table} WHERE external_ref IN :refs"
        ).bindparams(bindparam("refs", expanding=True))
        found: set[str] = set()
        for start in range(0, len(wanted), REF_CHUNK):
            chunk = wanted[start : start + REF_CHUNK]
            found.update(session.execute(stmt, {"refs": chunk}).scalars())
        rownums = clean["rownum"].to_numpy(dtype=np.int64)
        missing = values.notna() & ~values.isin(found)
        if missing.any():
            total += int(missing.sum())
            for i in np.flatnonzero(missing.to_numpy())[:MAX_PROBLEMS_REPORTED]:
                problems.append(
                    Problem(
                        int(rownums[i]),
                        col.name,
                        str(values.iat[i]),
                        f"no {col.ref_table} with this external_ref",
                    )
                )
    return Findings(problems, total)


def reference_ids(*, session: Session, spec: LayerSpec, rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Each ref column's values resolved to ids (as the upsert's LEFT JOIN does)."""
    out: dict[str, pd.Series] = {}
    for col in ref_columns(spec):
        wanted = [str(v) for v in rows[col.name].dropna().unique()]
        found: dict[str, int] = {}
        stmt = text(f"SELECT external_ref, id FROM {col.ref_table} WHERE external_ref = ANY(:refs)")
        for start in range(0, len(wanted), REF_CHUNK):
            chunk = wanted[start : start + REF_CHUNK]
            found.update({str(r): int(i) for r, i in session.execute(stmt, {"refs": chunk})})
        out[col.name] = rows[col.name].map(found).astype("Int64").reset_index(drop=True)
    return out
