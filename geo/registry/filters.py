"""List filters shared by the API, OGC items, exports and imports: parsed and validated once.

``parse_filters`` takes raw values (query strings, CLI options) and raises
:class:`geo.errors.ValidationError` naming the field and the bad value; ``where_clause`` turns a
:class:`ListFilters` into SQL with bound parameters for one layer.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from geo.errors import ValidationError
from geo.models import SRID
from geo.registry.layers import Layer
from geo.times import parse_time

MAX_LIMIT: Final = 10_000
DEFAULT_LIMIT: Final = 100
MAX_OFFSET: Final = 10_000_000
MAX_ID: Final = 2**63 - 1
FILTER_NAMES: Final = ("kind", "status", "nationality", "permit_type", "kecamatan")
KECAMATAN_CODE: Final = re.compile(r"^\d{2}\.\d{2}\.\d{2}$")
NATIONALITY: Final = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class ListFilters:
    """A validated list query: where, when, what, and which page."""

    bbox: tuple[float, float, float, float] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    kind: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    nationality: tuple[str, ...] = ()
    permit_type: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    after: int | None = None  # keyset paging: only rows whose primary key is greater

    def query_params(self) -> dict[str, str]:
        """The filters as query-string values (for ``next`` links), without limit/offset/after."""
        out: dict[str, str] = {}
        if self.bbox:
            out["bbox"] = ",".join(repr(v) for v in self.bbox)
        if self.start:
            out["start"] = self.start.isoformat()
        if self.end:
            out["end"] = self.end.isoformat()
        for name in FILTER_NAMES:
            values = getattr(self, name)
            if values:
                out[name] = ",".join(values)
        return out


def parse_bbox(
    value: str | Sequence[float] | None, *, field: str = "bbox"
) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in EPSG:4326."""
    if value is None or value == "":
        return None
    raw: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    if len(raw) != 4:
        raise ValidationError(
            f"{field} must be minlon,minlat,maxlon,maxlat (4 numbers); got {value!r}",
            field=field,
            value=str(value)[:200],
        )
    try:
        nums = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise ValidationError(
            f"{field} values must be numbers; got {value!r}", field=field, value=str(value)[:200]
        ) from None
    minx, miny, maxx, maxy = nums
    if not all(math.isfinite(v) for v in nums):
        raise ValidationError(
            f"{field} values must be finite; got {value!r}", field=field, value=str(value)[:200]
        )
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise ValidationError(
            f"{field} is outside lon [-180, 180] / lat [-90, 90] (order: lon, lat); got {value!r}",
            field=field,
            value=str(value)[:200],
        )
    if minx > maxx or miny > maxy:
        raise ValidationError(
            f"{field} must have min before max (minlon,minlat,maxlon,maxlat); got {value!r}",
            field=field,
            value=str(value)[:200],
        )
    return minx, miny, maxx, maxy


def split_values(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """Comma-separated and/or repeated values, de-duplicated in order."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in str(item).split(",") if p.strip())
    return tuple(dict.fromkeys(out))


def _int(value: int | str | None, *, field: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{field} must be an integer; got {value!r}", field=field, value=str(value)[:100]
        ) from None
    if not low <= number <= high:
        raise ValidationError(
            f"{field} must be between {low} and {high}; got {number}", field=field, value=number
        )
    return number


def parse_filters(
    *,
    layer: Layer | None = None,
    bbox: str | Sequence[float] | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    nationality: str | Sequence[str] | None = None,
    permit_type: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    limit: int | str | None = None,
    offset: int | str | None = None,
    after: int | str | None = None,
) -> ListFilters:
    """Validate raw filter values; with ``layer``, also that each filter applies to it."""
    start_at = parse_time(start, field="start")
    end_at = parse_time(end, field="end")
    if start_at and end_at and end_at <= start_at:
        raise ValidationError(
            f"end ({end_at.isoformat()}) must be after start ({start_at.isoformat()})",
            field="end",
            value=end_at.isoformat(),
        )
    values: dict[str, tuple[str, ...]] = {
        "kind": split_values(kind),
        "status": split_values(status),
        "nationality": tuple(v.upper() for v in split_values(nationality)),
        "permit_type": tuple(v.upper() for v in split_values(permit_type)),
        "kecamatan": split_values(kecamatan),
    }
    for name, given in values.items():
        for v in given:
            if len(v) > 100:
                raise ValidationError(f"{name} value is too long", field=name, value=v[:100])
        if not given or layer is None:
            continue
        if name not in layer.filters:
            raise ValidationError(
                f"filter {name!r} does not apply to {layer.name}; "
                f"it takes {', '.join(sorted(layer.filters)) or 'no filters'}",
                field=name,
                value=",".join(given),
            )
        allowed = layer.choices.get(name)
        for v in given:
            if allowed and v not in allowed:
                raise ValidationError(
                    f"{name} for {layer.name} must be one of {', '.join(allowed)}; got {v!r}",
                    field=name,
                    value=v,
                )
            if name == "nationality" and not NATIONALITY.match(v):
                raise ValidationError(
                    f"nationality must be an ISO 3166-1 alpha-3 code such as MYS; got {v!r}",
                    field=name,
                    value=v,
                )
    if layer is not None and (start_at or end_at) and layer.time_column is None:
        raise ValidationError(
            f"{layer.name} have no time; start/end do not apply", field="start", value=str(start)
        )
    return ListFilters(
        bbox=parse_bbox(bbox),
        start=start_at,
        end=end_at,
        limit=_int(limit, field="limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        offset=_int(offset, field="offset", default=0, low=0, high=MAX_OFFSET),
        after=(
            None
            if after is None or after == ""
            else _int(after, field="after", default=0, low=0, high=MAX_ID)
        ),
        **values,
    )


@dataclass
class Where:
    sql: str
    params: dict[str, Any]


def where_clause(layer: Layer, filters: ListFilters, *, alias: str = "t") -> Where:
    """SQL conditions (``alias`` = the layer's table) with bound parameters."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    if filters.bbox is not None:
        # The envelope is built in EPSG:4326, the SRID of every ``geom`` column, so the
        # GiST index on ``geom`` answers ``&&`` (a transform to another SRID would defeat it).
        minx, miny, maxx, maxy = filters.bbox
        params.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
        envelope = f"ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {SRID})"
        if layer.geometry_types == ("Point",):
            parts.append(f"{alias}.geom && {envelope}")
        else:
            parts.append(f"ST_Intersects({alias}.geom, {envelope})")
    if filters.after is not None:
        # Keyset paging on the primary key (pages are ordered by it): an index range, not an
        # OFFSET that reads and throws away every earlier row.
        parts.append(f"{alias}.id > :after")
        params["after"] = filters.after
    if layer.time_column:
        if filters.start is not None:
            parts.append(f"{alias}.{layer.time_column} >= :start")
            params["start"] = filters.start
        if filters.end is not None:
            parts.append(f"{alias}.{layer.time_column} < :end")
            params["end"] = filters.end
    for name in FILTER_NAMES:
        given: tuple[str, ...] = getattr(filters, name)
        if not given or name not in layer.filters:
            continue
        column = layer.filters[name]
        if name == "kecamatan":
            codes = [v for v in given if KECAMATAN_CODE.match(v)]
            names = [v.lower() for v in given if not KECAMATAN_CODE.match(v)]
            params["kec_codes"] = codes
            params["kec_names"] = names
            parts.append(
                f"({alias}.kecamatan_code = ANY(:kec_codes) "
                f"OR lower({alias}.kecamatan_name) = ANY(:kec_names))"
            )
            continue
        qualified = column if "." in column else f"{alias}.{column}"
        params[f"f_{name}"] = list(given)
        parts.append(f"{qualified} = ANY(:f_{name})")
    return Where(" AND ".join(parts) or "TRUE", params)
