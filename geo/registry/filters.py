"""The filter family: every list, map, hotspot, alert and export filter is parsed here, once.

Raw values (query strings, CLI options) go in; a :class:`geo.errors.ValidationError` naming the
field and the bad value comes out, with the same message on every face (registry lists, OGC
items, map views, hotspots, alerts, exports, the CLI). :mod:`geo.registry.where` turns the
parsed filters into SQL with bound parameters.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from geo.errors import ValidationError
from geo.registry.caps import CELL_M
from geo.registry.cql import Expression, SortKey
from geo.registry.layers import LAYERS, Layer
from geo.times import parse_time

MAX_LIMIT: Final = 10_000
DEFAULT_LIMIT: Final = 100
MAX_OFFSET: Final = 10_000_000
MAX_ID: Final = 2**63 - 1
FILTER_NAMES: Final = (
    "kind",
    "status",
    "nationality",
    "permit_type",
    "kecamatan",
    "severity",
    "assignee",
)
# A Kemendagri code (61.01.09) or a kecamatan name (Sajingan Besar, Teluk Keramat).
KECAMATAN_VALUE: Final = re.compile(r"^[\w .'-]{1,100}$")
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
    severity: tuple[str, ...] = ()  # alerts: "1".."5"
    assignee: tuple[str, ...] = ()  # alerts: user names, or "none" for unassigned
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    after: int | None = None  # keyset paging: only rows whose primary key is greater
    # A compiled CQL2 filter (geo.registry.cql) and the page's order (primary key when empty):
    # the OGC API's ``filter`` and ``sortby``.
    expression: Expression | None = None
    sort: tuple[SortKey, ...] = ()

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


def parse_int(value: int | str | None, *, field: str, default: int, low: int, high: int) -> int:
    """An integer in [low, high]; ``default`` when not given."""
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


def parse_window(
    start: str | dt.datetime | dt.date | None, end: str | dt.datetime | dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A time window ``[start, end)``: ISO dates or datetimes, WIB when without an offset."""
    start_at = parse_time(start, field="start")
    end_at = parse_time(end, field="end")
    if start_at and end_at and end_at <= start_at:
        raise ValidationError(
            f"end ({end_at.isoformat()}) must be after start ({start_at.isoformat()})",
            field="end",
            value=end_at.isoformat(),
        )
    return start_at, end_at


def parse_choices(
    name: str, values: str | Sequence[str] | None, *, allowed: Sequence[str], subject: str
) -> tuple[str, ...]:
    """Values of filter ``name`` that must each be one of ``allowed`` (for ``subject``)."""
    given = split_values(values)
    for v in given:
        if v not in allowed:
            raise ValidationError(
                f"{name} for {subject} must be one of {', '.join(allowed)}; got {v[:100]!r}",
                field=name,
                value=v[:100],
            )
    return given


def parse_kecamatan(values: str | Sequence[str] | None) -> tuple[str, ...]:
    """Kecamatan codes or names as given; whether each exists is checked against the loaded
    boundaries when the filter becomes SQL (:func:`geo.registry.where.kecamatan_codes`)."""
    given = split_values(values)
    for v in given:
        if not KECAMATAN_VALUE.match(v):
            raise ValidationError(
                f"kecamatan must be a Kemendagri code such as 61.01.09 or a kecamatan name; "
                f"got {v[:100]!r}",
                field="kecamatan",
                value=v[:100],
            )
    return given


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
    start_at, end_at = parse_window(start, end)
    values: dict[str, tuple[str, ...]] = {
        "kind": split_values(kind),
        "status": split_values(status),
        "nationality": tuple(v.upper() for v in split_values(nationality)),
        "permit_type": tuple(v.upper() for v in split_values(permit_type)),
        "kecamatan": parse_kecamatan(kecamatan),
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
        if allowed:
            parse_choices(name, given, allowed=allowed, subject=layer.name)
        if name == "nationality":
            for v in given:
                if not NATIONALITY.match(v):
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
        limit=parse_int(limit, field="limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        offset=parse_int(offset, field="offset", default=0, low=0, high=MAX_OFFSET),
        after=(
            None
            if after is None or after == ""
            else parse_int(after, field="after", default=0, low=0, high=MAX_ID)
        ),
        kind=values["kind"],
        status=values["status"],
        nationality=values["nationality"],
        permit_type=values["permit_type"],
        kecamatan=values["kecamatan"],
    )


# --- the point layers the maps and the hotspot analysis read ---------------------------------

ANALYSIS_LAYERS: Final = ("incidents", "sightings")


def analysis_layer(name: str | None) -> Layer:
    """``incidents`` (the default) or ``sightings``: the layers maps and hotspots aggregate."""
    layer_name = (name or "incidents").strip()
    if layer_name not in ANALYSIS_LAYERS:
        raise ValidationError(
            f"layer must be one of {', '.join(ANALYSIS_LAYERS)}; got {layer_name[:100]!r}",
            field="layer",
            value=layer_name[:100],
        )
    return LAYERS[layer_name]


def parse_cell_m(value: float | str) -> float:
    """A grid cell size (square side or hexagon edge) in metres, within :data:`CELL_M`."""
    return CELL_M.number(value)
