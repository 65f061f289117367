"""Which column of a file is which column of a layer, and what is wrong with the header.

Headers are matched case- and accent-insensitively against each column's name and aliases, then
against Shapefile's 10-character truncations. A header that matches nothing is an error that
names it and suggests the nearest known header, since an ignored misspelt column would otherwise
leave stored values unchanged or new rows empty without a word. The columns an export adds (the
record id and the derived location columns) are known and ignored, so an export imports back.
A required column missing from the file is one problem, not one per row.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Final

import pandas as pd

from geo.io.derive import DERIVED_COLUMNS
from geo.io.layers import LAT_ALIASES, LON_ALIASES, WKT_ALIASES, LayerSpec, normalise_key
from geo.io.problems import Problem

# Written by export (and by GIS tools), never imported: the store derives or assigns them.
EXPORT_ONLY_COLUMNS: Final = ("id", "fid", "ogc_fid", "out_of_area", *DERIVED_COLUMNS)
GEOMETRY: Final = "lon/lat"


@dataclass(frozen=True)
class Headers:
    """The source header → column mapping, notes for the report, and the header's problems."""

    mapping: dict[str, str]
    notes: list[str]
    problems: list[Problem]

    @property
    def present(self) -> frozenset[str]:
        """The layer columns the file carries (``lon/lat`` when it has a location)."""
        found = set(self.mapping.values())
        if {"lon", "lat"} <= found or "wkt" in found:
            found.add(GEOMETRY)
        return frozenset(found)


def _known_keys(spec: LayerSpec) -> dict[str, str]:
    """Every accepted header key → the column it names."""
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for key in (col.name, *col.aliases):
            lookup.setdefault(normalise_key(key), col.name)
    for keys, target in ((LON_ALIASES, "lon"), (LAT_ALIASES, "lat"), (WKT_ALIASES, "wkt")):
        for key in keys:
            lookup.setdefault(key, target)
    return lookup


def _suggestion(key: str, lookup: dict[str, str], spec: LayerSpec) -> str:
    near = difflib.get_close_matches(key, list(lookup), n=1, cutoff=0.6)
    if near:
        target = lookup[near[0]]
        named = near[0] if near[0] == target else f"{near[0]} ({target})"
        return f"did you mean {named}?"
    return "known columns: " + ", ".join([c.name for c in spec.columns] + ["lon", "lat", "wkt"])


def read_headers(spec: LayerSpec, raw: pd.DataFrame, *, header_row: int) -> Headers:
    """Map the file's headers to ``spec``'s columns; unknown, doubled or missing are problems."""
    lookup = _known_keys(spec)
    canon = [c.name for c in spec.columns]
    ignored_keys = {normalise_key(c) for c in EXPORT_ONLY_COLUMNS}
    mapping: dict[str, str] = {}
    notes: list[str] = []
    problems: list[Problem] = []
    ignored: list[str] = []
    taken: dict[str, str] = {}
    for header in raw.columns:
        name = str(header)
        key = normalise_key(name)
        target = lookup.get(key)
        if target is None and 3 <= len(key) <= 10:
            prefixed = [c for c in canon if c.startswith(key)]
            target = prefixed[0] if len(prefixed) == 1 else None
        if target is None:
            if key in ignored_keys:
                ignored.append(name)
            elif (not key or key.startswith("unnamed_")) and _blank(raw[header]):
                ignored.append(name)  # an empty column without a header (spreadsheet padding)
            elif not key or key.startswith("unnamed_"):
                problems.append(
                    Problem(header_row, name, name, "a column with values has no header")
                )
            else:
                reason = "unknown column; " + _suggestion(key, lookup, spec)
                problems.append(Problem(header_row, name, name, reason))
            continue
        if target in taken:
            problems.append(
                Problem(
                    header_row,
                    name,
                    name,
                    f"{target} is already read from column {taken[target]!r}; keep one of them",
                )
            )
            continue
        mapping[name] = target
        taken[target] = name
    if ignored:
        listed = ", ".join(ignored)
        notes.append(f"columns not imported (derived or assigned by the store): {listed}")
    problems += _missing(spec, set(mapping.values()), header_row)
    return Headers(mapping=mapping, notes=notes, problems=problems)


def _blank(values: pd.Series) -> bool:
    """Whether every value of a column is empty (CSV cells are read as strings, blanks as "")."""
    return bool(values.map(lambda v: v is None or v != v or str(v).strip() == "").all())


def _missing(spec: LayerSpec, found: set[str], header_row: int) -> list[Problem]:
    """One problem per required column (or location) the file lacks."""
    problems: list[Problem] = []
    for col in spec.columns:
        if col.required and col.default is None and col.name not in found:
            accepted = ", ".join(dict.fromkeys((col.name, *col.aliases)))
            problems.append(
                Problem(
                    header_row,
                    col.name,
                    None,
                    f"required column is missing (accepted headers: {accepted})",
                )
            )
    has_lon, has_lat = "lon" in found, "lat" in found
    if has_lon != has_lat:
        which = "lat" if has_lon else "lon"
        aliases = LAT_ALIASES if has_lon else LON_ALIASES
        problems.append(
            Problem(
                header_row,
                GEOMETRY,
                None,
                f"the {which} column is missing (accepted headers: {', '.join(aliases)})",
            )
        )
    elif spec.geometry_required and not has_lon and "wkt" not in found:
        problems.append(
            Problem(
                header_row,
                GEOMETRY,
                None,
                "a location is required: lon and lat columns (or bujur/lintang, x/y) or a WKT "
                "column",
            )
        )
    return problems
