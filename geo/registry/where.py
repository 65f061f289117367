"""Parsed filters (:mod:`geo.registry.filters`) as SQL conditions with bound parameters.

One builder serves every table a filter applies to: the registry layers (lists, OGC items,
exports, the map aggregates and the hotspot grid, which read the incidents and sightings layers)
and the alerts. Which join a query needs follows from the filters used, not from the SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.models import SRID
from geo.registry.filters import FILTER_NAMES, ListFilters
from geo.registry.layers import FilterColumn


class Filterable(Protocol):
    """What a table tells the builder: its time column, its filter columns, its geometry."""

    @property
    def name(self) -> str: ...

    @property
    def time_column(self) -> str | None: ...

    @property
    def filters(self) -> Mapping[str, FilterColumn]: ...

    @property
    def geometry_types(self) -> tuple[str, ...]: ...

    @property
    def joins(self) -> str: ...


@dataclass(frozen=True)
class FilterTarget:
    """A table outside the registry layers that takes the list filters (e.g. alerts).

    ``span_columns`` (first, last): rows that last over time, such as alert episodes; a window
    ``[start, end)`` then selects the rows whose span overlaps it, instead of comparing
    ``time_column``.
    """

    name: str
    time_column: str | None
    filters: Mapping[str, FilterColumn]
    geometry_types: tuple[str, ...] = ("Point",)
    joins: str = ""
    span_columns: tuple[str, str] | None = None


@dataclass
class Where:
    """Conditions joined by AND, their parameters, and the join they need (or "")."""

    sql: str
    params: dict[str, Any]
    joins: str = ""

    def and_(self, condition: str) -> Where:
        """These conditions and a fixed one (code, never user input)."""
        sql = condition if self.sql == "TRUE" else f"{self.sql} AND {condition}"
        return Where(sql, self.params, self.joins)


# Values that name a kecamatan of the loaded boundaries, by Kemendagri code or by name.
KECAMATAN_SQL: Final = text(
    """
    SELECT v.value, min(a.code) AS code
    FROM unnest(CAST(:values AS text[])) AS v(value)
    LEFT JOIN admin_area a
      ON a.level = 'kecamatan' AND (a.code = v.value OR lower(a.name) = lower(v.value))
    GROUP BY v.value
    """
)


def kecamatan_codes(*, session: Session, values: Sequence[str]) -> list[str]:
    """The Kemendagri codes of ``values`` (codes or names); an unknown one is a 422."""
    if not values:
        return []
    found = {r.value: r.code for r in session.execute(KECAMATAN_SQL, {"values": list(values)})}
    for v in values:
        if found.get(v) is None:
            raise ValidationError(
                f"kecamatan {v!r} is not a kecamatan of the loaded boundaries "
                "(give its Kemendagri code, such as 61.01.09, or its name)",
                field="kecamatan",
                value=v,
            )
    return list(dict.fromkeys(found[v] for v in values))


def exact_point_test(alias: str) -> str:
    """The box test on a point's own coordinates, edges included, after ``&&``.

    ``&&`` compares single-precision boxes rounded outward (the index's own precision): at
    longitude 109 one step is ~0.85 m, so points up to a metre west or east of the box pass it.
    This recheck in double precision costs two comparisons per row that ``&&`` kept. It is
    wrapped in ``coalesce(…, true)`` (``&&`` has already dropped rows without a geometry, so it
    never changes a result) because the planner would otherwise estimate two range tests of
    unknown selectivity at 0.005 each and leave the primary-key walk for a bitmap scan and sort,
    several times slower for large boxes; wrapped, its estimate is 0.5 and the plans stay those
    of ``&&`` alone.
    """
    x, y = f"ST_X({alias}.geom)", f"ST_Y({alias}.geom)"
    return f"coalesce({x} BETWEEN :minx AND :maxx AND {y} BETWEEN :miny AND :maxy, true)"


def where_clause(
    target: Filterable, filters: ListFilters, *, session: Session, alias: str = "t"
) -> Where:
    """SQL conditions on ``target`` (as ``alias``) with bound parameters.

    ``session`` resolves kecamatan names and checks that each kecamatan exists, so an unknown
    one is refused with the same message on every face.
    """
    parts: list[str] = []
    params: dict[str, Any] = {}
    joined = False
    if filters.bbox is not None:
        # The envelope is built in EPSG:4326, the SRID of every ``geom`` column, so the
        # GiST index on ``geom`` answers ``&&`` (a transform to another SRID would defeat it).
        minx, miny, maxx, maxy = filters.bbox
        params.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
        envelope = f"ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {SRID})"
        if target.geometry_types == ("Point",):
            parts.append(f"{alias}.geom && {envelope} AND {exact_point_test(alias)}")
        else:
            parts.append(f"ST_Intersects({alias}.geom, {envelope})")
    if filters.after is not None:
        # Keyset paging on the primary key (pages are ordered by it): an index range, not an
        # OFFSET that reads and throws away every earlier row.
        parts.append(f"{alias}.id > :after")
        params["after"] = filters.after
    span = target.span_columns if isinstance(target, FilterTarget) else None
    if span is not None:
        first, last = span
        if filters.start is not None:
            parts.append(f"{alias}.{last} >= :start")
            params["start"] = filters.start
        if filters.end is not None:
            parts.append(f"{alias}.{first} < :end")
            params["end"] = filters.end
    elif target.time_column:
        if filters.start is not None:
            parts.append(f"{alias}.{target.time_column} >= :start")
            params["start"] = filters.start
        if filters.end is not None:
            parts.append(f"{alias}.{target.time_column} < :end")
            params["end"] = filters.end
    for name in FILTER_NAMES:
        given: tuple[str, ...] = getattr(filters, name)
        column = target.filters.get(name)
        if not given or column is None:
            continue
        values = kecamatan_codes(session=session, values=given) if name == "kecamatan" else given
        joined = joined or column.joined
        qualified = f"f.{column.column}" if column.joined else f"{alias}.{column.column}"
        values = tuple(v for v in values if v != column.null_value)
        array = f"CAST(:f_{name} AS {column.sql_type}[])" if column.sql_type else f":f_{name}"
        condition = f"{qualified} = ANY({array})"
        if column.null_value is not None and column.null_value in given:
            condition = f"({condition} OR {qualified} IS NULL)"
        params[f"f_{name}"] = list(values)
        parts.append(condition)
    if filters.expression is not None:
        # A compiled CQL2 filter (geo.registry.cql): written for alias ``t``, values bound.
        if alias != "t":
            raise ValueError("CQL2 filters are compiled for alias 't'")  # a code error
        parts.append(f"({filters.expression.sql})")
        params.update(filters.expression.params)
        joined = joined or filters.expression.joined
    return Where(" AND ".join(parts) or "TRUE", params, target.joins if joined else "")
