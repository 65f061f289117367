"""Row validation of a raw table against a layer spec, vectorised (pandas/numpy/shapely).

Produces the clean, typed frame that is staged, and the problems: one per (row, field) with the
value and the reason. Times without an offset are WIB (Asia/Pontianak); stored UTC.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import pycountry
import shapely

from geo.geometry import MEASURABLE_LAT, MEASURABLE_LON
from geo.io.headers import read_headers
from geo.io.layers import Column, LayerSpec, normalise_key
from geo.io.problems import MAX_PROBLEMS_REPORTED, Problem

__all__ = ["MAX_PROBLEMS_REPORTED", "Problem", "Validated", "validate_frame"]

LOCAL_TZ: Final = "Asia/Pontianak"

# An offset only counts after a time ("2025-03-06" ends in "-06" but is a naive date).
_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
# The same tests over all values joined by NUL at once: one C-level regex scan tells whether a
# per-value pass (a Python call per row) is needed at all.
_SEP = "\x00"
_OFFSET_ANY = re.compile(_OFFSET.pattern[:-1] + r"(?=\x00|$)")
_EDGE_BLANK = re.compile(r"(?:^|\x00)\s|\s(?:\x00|$)|\x00\x00|^\x00|\x00$|^$")


# Cheap superset of _OFFSET_ANY: ':' is a literal prefix, which the regex engine skips to with a
# fast search (the full pattern tries every digit of a 20 MB blob: ~0.4 s a million values).
_OFFSET_HINT = re.compile(r":\d{2}(?::\d{2}(?:\.\d+)?)?\s*[-+zZ]")
# The characters str.strip() removes that are ASCII (str.isspace).
_ASCII_SPACE = np.array([c.isspace() for c in map(chr, range(128))] + [False] * 128)


def _joined(values: pd.Series) -> str | None:
    """All values as one NUL-separated string (None if a value is not a str or holds a NUL)."""
    items = values.tolist()
    try:
        blob = _SEP.join(items)  # a TypeError names a value that is not a str
    except TypeError:
        return None
    return blob if blob.count(_SEP) == max(len(items) - 1, 0) else None


def _edge_blank(blob: str, count: int) -> bool:
    """Whether a value of a ``_joined`` blob is empty or starts or ends with whitespace."""
    if count == 0 or not blob.isascii():
        return _EDGE_BLANK.search(blob) is not None
    raw = np.frombuffer(blob.encode("ascii"), dtype=np.uint8)
    if len(raw) == 0:
        return True
    seps = np.flatnonzero(raw == 0)
    starts = np.concatenate([[0], seps + 1])
    ends = np.concatenate([seps - 1, [len(raw) - 1]])
    if np.any(ends < starts):  # an empty value
        return True
    return bool(_ASCII_SPACE[raw[starts]].any() or _ASCII_SPACE[raw[ends]].any())


# Country names in Indonesian and other spellings pycountry does not know.
NATIONALITY_ALIASES: Final = {
    "tiongkok": "CHN",
    "cina": "CHN",
    "rrt": "CHN",
    "republik_rakyat_tiongkok": "CHN",
    "filipina": "PHL",
    "korea_selatan": "KOR",
    "korsel": "KOR",
    "korea_utara": "PRK",
    "amerika_serikat": "USA",
    "amerika": "USA",
    "as": "USA",
    "belanda": "NLD",
    "jepang": "JPN",
    "inggris": "GBR",
    "britain": "GBR",
    "britania_raya": "GBR",
    "singapura": "SGP",
    "brunei": "BRN",
    "brunei_darussalam": "BRN",
    "jerman": "DEU",
    "prancis": "FRA",
    "perancis": "FRA",
    "rusia": "RUS",
    "russia": "RUS",
    "arab_saudi": "SAU",
    "mesir": "EGY",
    "timor_leste": "TLS",
    "selandia_baru": "NZL",
    "taiwan": "TWN",
    "myanmar": "MMR",
    "laos": "LAO",
    "kamboja": "KHM",
    "vietnam": "VNM",
}


@dataclass
class Validated:
    frame: pd.DataFrame  # canonical columns + rownum, lon, lat
    problems: list[Problem]
    notes: list[str]
    total_problems: int
    # The columns the file carries (``lon/lat`` for a location): an update changes only these.
    present: frozenset[str] = frozenset()


def _as_text(series: pd.Series) -> pd.Series:
    """Strings with surrounding blanks removed; empty → NA. Numbers read by Excel lose '.0'."""
    if series.dtype == object:

        def conv(v: Any) -> Any:
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return None
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            if isinstance(v, pd.Timestamp):
                return v.isoformat()
            return str(v)

        if not all(isinstance(v, str) for v in series.head(50)):
            series = series.map(conv)
    else:
        series = series.astype(str)
    blob = _joined(series)
    if blob is not None and len(series) and not _edge_blank(blob, len(series)):
        return series  # no value to strip and none empty
    out = series.str.strip()
    return out.mask(out == "", None)


@functools.lru_cache(maxsize=4096)
def resolve_nationality(value: str) -> str | None:
    """ISO 3166-1 alpha-3 from an alpha-3/alpha-2/numeric code or a country name."""
    text = value.strip()
    key = normalise_key(text)
    if key in NATIONALITY_ALIASES:
        return NATIONALITY_ALIASES[key]
    up = text.upper()
    country = None
    if len(up) == 3 and up.isalpha():
        country = pycountry.countries.get(alpha_3=up)
    elif len(up) == 2 and up.isalpha():
        country = pycountry.countries.get(alpha_2=up)
    elif up.isdigit():
        country = pycountry.countries.get(numeric=up.zfill(3))
    if country is None:
        try:
            country = pycountry.countries.lookup(text)
        except LookupError:
            try:
                country = pycountry.countries.search_fuzzy(text)[0] if len(text) > 3 else None
            except LookupError:
                country = None
    return str(country.alpha_3) if country is not None else None


def parse_datetimes(text: pd.Series) -> pd.Series:
    """ISO 8601 (offset or naive) and dd/mm/yyyy [HH:MM[:SS]] → UTC timestamps; NaT if bad.

    Naive values are WIB (UTC+7).
    """
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    present = text.notna()
    if not present.any():
        return result
    values = text[present]
    blob = _joined(values)
    if blob is None or "/" in blob:
        dmy = values.str.extract(_DMY)
        is_dmy = dmy[0].notna()
    else:
        dmy, is_dmy = pd.DataFrame(), pd.Series(False, index=values.index)
    if is_dmy.any():
        d = dmy[is_dmy]
        iso = (
            d[2]
            + "-"
            + d[1].str.zfill(2)
            + "-"
            + d[0].str.zfill(2)
            + "T"
            + d[3].fillna("0").str.zfill(2)
            + ":"
            + d[4].fillna("00")
            + ":"
            + d[5].fillna("00")
        )
        values = values.copy()
        values[is_dmy] = iso
    if (
        blob is None
        or "/" in blob
        or (_OFFSET_HINT.search(blob) is not None and _OFFSET_ANY.search(blob) is not None)
    ):
        aware = values.str.contains(_OFFSET)
    else:
        aware = pd.Series(False, index=values.index)
    if (~aware).any():
        naive = pd.to_datetime(values[~aware], format="ISO8601", errors="coerce")
        if getattr(naive.dt, "tz", None) is None:
            local = naive.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="NaT")
            result[naive.index] = local.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if aware.any():
        stamped = pd.to_datetime(values[aware], format="ISO8601", errors="coerce", utc=True)
        result[stamped.index] = stamped.astype("datetime64[us, UTC]")
    return result


def parse_dates(text: pd.Series) -> pd.Series:
    """Calendar dates (ISO or dd/mm/yyyy); a time part, if any, is dropped. NaT if bad."""
    present = text.notna()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    if not present.any():
        return out
    values = text[present].str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", regex=True)
    dmy = values.str.extract(_DMY)
    is_dmy = dmy[0].notna()
    if is_dmy.any():
        d = dmy[is_dmy]
        values = values.copy()
        values[is_dmy] = d[2] + "-" + d[1].str.zfill(2) + "-" + d[0].str.zfill(2)
    ok = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    parsed = pd.to_datetime(values.where(ok), format="%Y-%m-%d", errors="coerce")
    out[parsed.index] = parsed.astype("datetime64[s]")
    return out


_ISO_DAY = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[ T])")
_DMY_DAY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:$|[ T])")


def _no_such_date(text: pd.Series) -> pd.Series:
    """Whether each value is written as a date (ISO or dd/mm/yyyy) that the calendar lacks,
    such as ``31/02/2025`` or ``2025-13-01``; NA values are False."""
    iso = text.str.extract(_ISO_DAY)
    dmy = text.str.extract(_DMY_DAY)
    year = iso[0].fillna(dmy[2])
    month = iso[1].fillna(dmy[1])
    day = iso[2].fillna(dmy[0])
    shaped = year.notna()
    if not shaped.any():
        return shaped
    written = year[shaped] + "-" + month[shaped].str.zfill(2) + "-" + day[shaped].str.zfill(2)
    real = pd.to_datetime(written, format="%Y-%m-%d", errors="coerce").notna()
    out = pd.Series(False, index=text.index)
    out[real.index] = ~real
    return out


class _Collector:
    def __init__(self, rownums: np.ndarray) -> None:
        self.rownums = rownums
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: pd.Series | np.ndarray,
        field: str,
        values: pd.Series | Callable[[], pd.Series] | None,
        reason: str | pd.Series,
    ) -> None:
        """Problems of the rows in ``mask``; ``values`` may be a function making the shown
        values, called only when some row is bad."""
        mask_arr = np.asarray(mask, dtype=bool)
        if not mask_arr.any():
            return
        idx = np.flatnonzero(mask_arr)
        if callable(values):
            values = values()
        vals = (
            values.iloc[idx].astype(object).map(lambda v: None if v is None else str(v)[:200])
            if values is not None
            else pd.Series([None] * len(idx))
        )
        reasons = reason.iloc[idx].to_numpy() if isinstance(reason, pd.Series) else reason
        self.parts.append(
            pd.DataFrame(
                {
                    "row": self.rownums[idx],
                    "field": field,
                    "value": vals.to_numpy(),
                    "reason": reasons,
                }
            )
        )

    def result(self) -> tuple[list[Problem], int]:
        if not self.parts:
            return [], 0
        allp = pd.concat(self.parts, ignore_index=True).sort_values(["row", "field"], kind="stable")
        top = allp.head(MAX_PROBLEMS_REPORTED)
        problems = [
            Problem(int(r), str(f), None if v is None else str(v), str(why))
            for r, f, v, why in top.itertuples(index=False, name=None)
        ]
        return problems, len(allp)


def validate_frame(spec: LayerSpec, raw: pd.DataFrame, *, first_row: int) -> Validated:
    """Check and convert every row; nothing is dropped silently."""
    n = len(raw)
    rownums = np.arange(first_row, first_row + n, dtype=np.int64)
    headers = read_headers(spec, raw, header_row=first_row - 1)
    mapping, notes = headers.mapping, headers.notes
    src = raw.set_axis([str(c) for c in raw.columns], axis=1)
    src = src.rename(columns=mapping)[list(mapping.values())]
    src.index = pd.RangeIndex(n)
    problems = _Collector(rownums)
    out = pd.DataFrame({"rownum": rownums})

    for col in spec.columns:
        if col.name in src.columns:
            text = _as_text(src[col.name])
        else:
            text = pd.Series([None] * n, dtype=object)
        if col.default is not None:
            text = text.fillna(col.default)
        missing = text.isna()
        if col.required and col.name in src.columns:  # a missing column is one header problem
            problems.add(missing, col.name, None, "required value is missing")
        out[col.name] = _convert(col, text, missing, problems)

    _geometry(spec, src, out, problems, n)

    if "external_ref" not in src.columns:
        notes.append("no external_ref column: refs derived from each row's content")
    need_ref = out["external_ref"].isna()
    if need_ref.any():
        content = out.loc[need_ref].drop(columns=["rownum", "external_ref"])
        hashes = pd.util.hash_pandas_object(content.astype(str), index=False)
        out.loc[need_ref, "external_ref"] = "h:" + hashes.map("{:016x}".format)

    key = list(spec.conflict_key)
    hashed = pd.util.hash_pandas_object(out[key], index=False)
    dup = hashed.duplicated(keep="first") & out[key].notna().all(axis=1)
    if dup.any():
        first = pd.Series(out["rownum"].to_numpy(), index=hashed.to_numpy())
        first = first[~first.index.duplicated(keep="first")]
        reasons = hashed.map(lambda k: f"duplicate of row {first[k]}")
        problems.add(dup, "external_ref", out["external_ref"], reasons)
    found, total = problems.result()
    found = sorted([*headers.problems, *found], key=lambda p: (p.row, p.field))
    return Validated(
        frame=out,
        problems=found[:MAX_PROBLEMS_REPORTED],
        notes=notes,
        total_problems=total + len(headers.problems),
        present=headers.present,
    )


def _convert(col: Column, text: pd.Series, missing: pd.Series, problems: _Collector) -> pd.Series:
    present = ~missing
    if col.kind in ("text", "ref"):
        if col.max_length is not None:
            too_long = present & (text.str.len() > col.max_length)
            problems.add(too_long, col.name, text, f"longer than {col.max_length} characters")
        return text
    if col.kind == "int":
        num = pd.to_numeric(text, errors="coerce")
        bad = present & (num.isna() | (num % 1 != 0))
        problems.add(bad, col.name, text, "not a whole number")
        ok = present & ~bad
        if col.minimum is not None:
            problems.add(
                ok & (num < col.minimum), col.name, text, f"must be at least {col.minimum}"
            )
        if col.maximum is not None:
            problems.add(ok & (num > col.maximum), col.name, text, f"must be at most {col.maximum}")
        return num.where(ok).astype("Int64")
    if col.kind in ("date", "datetime"):
        parsed = parse_dates(text) if col.kind == "date" else parse_datetimes(text)
        bad = present & parsed.isna()
        if bad.any():
            impossible = bad & _no_such_date(text.where(bad))
            problems.add(impossible, col.name, text, "no such date")
            expected = (
                "not a date (expected YYYY-MM-DD or dd/mm/yyyy)"
                if col.kind == "date"
                else "not a date/time (expected ISO 8601 or dd/mm/yyyy HH:MM; no offset = WIB)"
            )
            problems.add(bad & ~impossible, col.name, text, expected)
        return parsed
    if col.kind == "enum":
        uniques = text.dropna().unique()
        table: dict[str, str | None] = {}
        for value in uniques:
            key = normalise_key(value)
            hit = next((c for c in col.choices if normalise_key(c) == key), None)
            table[value] = hit or col.synonyms.get(key)
        mapped = text.map(table)
        problems.add(
            present & mapped.isna(), col.name, text, "not one of " + ", ".join(col.choices)
        )
        return mapped
    if col.kind == "nationality":
        table = {v: resolve_nationality(v) for v in text.dropna().unique()}
        mapped = text.map(table)
        problems.add(
            present & mapped.isna(),
            col.name,
            text,
            "unknown country (expected ISO 3166-1 code or an English/Indonesian name)",
        )
        return mapped
    raise AssertionError(col.kind)


def _geometry(
    spec: LayerSpec, src: pd.DataFrame, out: pd.DataFrame, problems: _Collector, n: int
) -> None:
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    given = np.zeros(n, dtype=bool)
    shown: pd.Series | Callable[[], pd.Series] = pd.Series([None] * n, dtype=object)
    located = True
    if "lon" in src.columns and "lat" in src.columns:
        lon_t = _as_text(src["lon"])
        lat_t = _as_text(src["lat"])
        for_comma = [_joined(t.dropna()) for t in (lon_t, lat_t)]
        if any(b is None or "," in b for b in for_comma):
            lon_t = lon_t.str.replace(",", ".", regex=False)
            lat_t = lat_t.str.replace(",", ".", regex=False)
        given = (lon_t.notna() | lat_t.notna()).to_numpy()
        lon = pd.to_numeric(lon_t, errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(lat_t, errors="coerce").to_numpy(dtype=float)

        def shown_lonlat(lon_t: pd.Series = lon_t, lat_t: pd.Series = lat_t) -> pd.Series:
            return lon_t.fillna("") + " " + lat_t.fillna("")

        shown = shown_lonlat
        problems.add(
            given & (np.isnan(lon) | np.isnan(lat)),
            "lon/lat",
            shown,
            "coordinates must be two numbers (lon, lat)",
        )
    elif "wkt" in src.columns:
        wkt = _as_text(src["wkt"])
        given = wkt.notna().to_numpy()
        geoms = shapely.from_wkt(wkt.to_numpy(dtype=object), on_invalid="ignore")
        kind = shapely.get_type_id(geoms)
        unreadable = given & shapely.is_missing(geoms)
        problems.add(unreadable, "geometry", wkt, "not a readable WKT geometry")
        wrong = given & ~unreadable & (kind != 0)
        names = pd.Series(shapely.get_type_id(geoms)).map(
            {
                1: "LineString",
                2: "LinearRing",
                3: "Polygon",
                4: "MultiPoint",
                5: "MultiLineString",
                6: "MultiPolygon",
                7: "GeometryCollection",
            }
        )
        problems.add(wrong, "geometry", wkt, "expected a Point, got " + names.fillna("?"))
        points = given & ~unreadable & ~wrong
        lon = np.where(points, shapely.get_x(geoms), np.nan)
        lat = np.where(points, shapely.get_y(geoms), np.nan)
        shown = wkt
        given = points
    else:
        located = False  # no location column: one header problem where one is needed
    numeric = given & ~np.isnan(lon) & ~np.isnan(lat)
    with np.errstate(invalid="ignore"):
        bad_range = numeric & (
            ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
        )
        (west, east), (south, north) = MEASURABLE_LON, MEASURABLE_LAT
        far = numeric & ~bad_range & ((lon < west) | (lon > east) | (lat < south) | (lat > north))
    problems.add(
        bad_range,
        "lon/lat",
        shown,
        "coordinates out of range (lon in [-180, 180], lat in [-90, 90])",
    )
    problems.add(
        far,
        "lon/lat",
        shown,
        f"coordinates outside lon [{west:g}, {east:g}] / lat [{south:g}, {north:g}], "
        "where this service measures distances (UTM zone 49N)",
    )
    bad_range = bad_range | far
    if spec.geometry_required and located:
        problems.add(~given, "lon/lat", None, "a location (lon/lat or WKT) is required")
    keep = numeric & ~bad_range
    out["lon"] = np.where(keep, lon, np.nan)
    out["lat"] = np.where(keep, lat, np.nan)
