"""CQL2 filters (OGC API – Features Part 3) as SQL conditions with bound parameters.

The ``cql2`` package parses both encodings (text and JSON) into the canonical CQL2-JSON tree;
this module walks that tree itself and writes SQL from code only: every column comes from a
:class:`Queryable` (names and expressions defined in code), every literal becomes a bound
parameter. Which properties are queryable is decided by the caller per role
(:func:`layer_queryables`): a role filters and sorts on exactly the fields it may see
(docs/privacy.md), so a filter can never test a value the role cannot read.

Supported: comparisons (``= <> < <= > >=``), ``AND``/``OR``/``NOT``, ``LIKE``, ``IN``,
``BETWEEN``, ``IS NULL``, ``CASEI``, the spatial functions (``S_INTERSECTS``, ``S_WITHIN``,
``S_CONTAINS``, ``S_DISJOINT``, ``S_EQUALS``, ``S_TOUCHES``, ``S_OVERLAPS``, ``S_CROSSES`` and
``S_DWITHIN`` in metres, measured in EPSG:32649) and the temporal functions (``T_AFTER``,
``T_BEFORE``, ``T_DURING``, ``T_INTERSECTS`` and the other Allen relations) on date-time
properties. Arithmetic and other functions are refused with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson
import shapely
from shapely.geometry import shape

from geo.access import PERSONAL_FIELDS, sees_personal_data
from geo.errors import QueryError, ValidationError
from geo.models import METRIC_SRID, SRID, Base
from geo.registry.features import visible_fields
from geo.registry.layers import Layer
from geo.times import WIB, parse_time

QueryableType = Literal["string", "integer", "number", "boolean", "date-time", "date", "geometry"]

# Caps: what one filter may cost to parse and to plan.
MAX_FILTER_CHARS: Final = 10_000
MAX_DEPTH: Final = 20  # nesting of operators
MAX_NODES: Final = 300  # operators, properties and literals together
MAX_IN_VALUES: Final = 1_000
MAX_GEOMETRY_POINTS: Final = 10_000
MAX_DWITHIN_M: Final = 200_000.0
MAX_SORT_KEYS: Final = 5

FILTER_LANGS: Final = ("cql2-text", "cql2-json")
# The text encoding's name in the drafts before CQL2 1.0, which GDAL up to 3.6 still sends; the
# grammar it writes (comparisons, AND/OR/NOT, LIKE, IS NULL) is CQL2 text.
LEGACY_TEXT_LANG: Final = "cql-text"


@dataclass(frozen=True)
class Queryable:
    """A property a filter or a sort may name, and the SQL expression behind it (code only)."""

    name: str
    sql: str
    type: QueryableType
    joined: bool = False  # reads the layer's join (alias ``f``)
    choices: tuple[str, ...] = ()
    geometry_type: str | None = None
    metric_sql: str | None = None  # geometry: the same in EPSG:32649 (an indexed column)
    primary: bool = False  # the collection's time (date-time) or geometry

    def schema(self) -> dict[str, Any]:
        """The property's JSON Schema (the queryables document)."""
        if self.type == "geometry":
            kind = (self.geometry_type or "geometry").lower()
            out: dict[str, Any] = {
                "title": "Geometry",
                "format": f"geometry-{'any' if kind == 'geometry' else kind}",
                "$ref": f"https://geojson.org/schema/{self.geometry_type or 'Geometry'}.json",
            }
            if self.primary:
                out["x-ogc-role"] = "primary-geometry"
            return out
        out = {"title": self.name.replace("_", " ").capitalize()}
        if self.type in ("date-time", "date"):
            out.update(type="string", format=self.type)
        else:
            out["type"] = self.type
        if self.choices:
            out["enum"] = list(self.choices)
        if self.primary:
            out["x-ogc-role"] = "primary-instant"
        return out


@dataclass(frozen=True)
class Expression:
    """A compiled filter: one SQL condition on alias ``t``, its parameters, and whether it
    reads the layer's join."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    joined: bool = False
    # A (lon, lat) box every matching feature's geometry intersects, when the filter implies
    # one (a top-level S_INTERSECTS or S_WITHIN with a literal): given to the list filters as
    # their ``bbox``, it lets the spatial index and the page's cost model
    # (geo.registry.pages) work as for a ``bbox`` parameter. It never changes the result.
    bbox: tuple[float, float, float, float] | None = None

    def and_(self, other: Expression | None) -> Expression:
        if other is None:
            return self
        if set(self.params) & set(other.params):
            raise ValueError("parameter names of two expressions overlap")  # code error
        return Expression(
            f"({self.sql}) AND ({other.sql})",
            {**self.params, **other.params},
            self.joined or other.joined,
            self.bbox or other.bbox,
        )


@dataclass(frozen=True)
class SortKey:
    name: str
    sql: str
    descending: bool
    joined: bool = False


# --- which properties a role may query ------------------------------------------------------

_TYPES: Final[dict[str, QueryableType]] = {
    "str": "string",
    "text": "string",
    "enum": "string",
    "nationality": "string",
    "int": "integer",
    "ref": "integer",
    "bool": "boolean",
    "date": "date",
    "datetime": "date-time",
}


def layer_queryables(layer: Layer, role: str) -> dict[str, Queryable]:
    """The properties of ``layer`` that ``role`` may filter and sort on: the fields it sees.

    A personal field that the role sees only as a suppressed count (workers of a workplace) is
    not queryable: a filter on it (``foreign_workers = 1``) would reveal the count it hides.
    Lists and JSON documents are not queryable either (no scalar to compare).
    """
    hidden = set(PERSONAL_FIELDS.get(layer.record, ()))
    personal = sees_personal_data(role)
    out: dict[str, Queryable] = {}
    table = Base.metadata.tables.get(layer.table)
    if personal or "geometry" not in hidden:
        metric = "t.geom_utm" if table is not None and "geom_utm" in table.columns else None
        kinds = layer.geometry_types
        out["geometry"] = Queryable(
            "geometry",
            "t.geom",
            "geometry",
            geometry_type=kinds[0] if len(kinds) == 1 and kinds[0] != "Geometry" else None,
            metric_sql=metric,
            primary=True,
        )
    for f in visible_fields(layer, role):
        if f.kind not in _TYPES or (not personal and f.name in hidden):
            continue
        qtype = _TYPES[f.kind]
        if f.kind == "int" and f.sql is not None:
            qtype = "number"  # rounded measures (metres, km²)
        expr = f.sql or f"t.{f.name}"
        out[f.name] = Queryable(
            f.name,
            expr,
            qtype,
            joined=expr.startswith("f."),
            choices=f.choices,
            primary=f.name == layer.time_column,
        )
    return out


# --- parsing -----------------------------------------------------------------------------------


def parse_filter(value: str | None, lang: str | None) -> dict[str, Any] | None:
    """A ``filter`` in ``filter-lang`` (cql2-text by default) as the canonical CQL2-JSON tree."""
    if value is None or value.strip() == "":
        return None
    import cql2

    lang = (lang or "cql2-text").strip()
    if lang not in (*FILTER_LANGS, LEGACY_TEXT_LANG):
        raise QueryError(
            f"filter-lang must be one of {', '.join(FILTER_LANGS)}; got {lang[:50]!r}",
            field="filter-lang",
            value=lang[:50],
        )
    if len(value) > MAX_FILTER_CHARS:
        raise QueryError(
            f"filter is longer than {MAX_FILTER_CHARS} characters ({len(value)})",
            field="filter",
            value=value[:100],
        )
    source: str | dict[str, Any] = value
    if lang == "cql2-json":
        try:
            loaded = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise QueryError(
                f"filter is not valid JSON (filter-lang cql2-json): {exc}",
                field="filter",
                value=value[:100],
            ) from None
        if not isinstance(loaded, dict | bool):
            raise QueryError(
                "a cql2-json filter is a JSON object such as "
                '{"op": "=", "args": [{"property": "kind"}, "overstay"]}',
                field="filter",
                value=value[:100],
            )
        if isinstance(loaded, bool):
            return {"op": "literal", "args": [loaded]}
        source = loaded
    try:
        expr = cql2.Expr(source)
        if lang == "cql2-json":
            expr.validate()
        tree = expr.to_json()
    except Exception as exc:  # cql2 raises plain Exception/ValueError with the parser's message
        message = " ".join(str(exc).split())[:300]
        raise QueryError(
            f"filter is not valid {lang}: {message}", field="filter", value=value[:100]
        ) from None
    if isinstance(tree, bool):
        return {"op": "literal", "args": [tree]}
    if not isinstance(tree, dict):
        raise QueryError(
            "a filter must be a condition (true or false for each feature)",
            field="filter",
            value=value[:100],
        )
    return tree


def parse_sortby(value: str | None, queryables: Mapping[str, Queryable]) -> tuple[SortKey, ...]:
    """``sortby``: queryable names, each with an optional ``+`` (ascending) or ``-``."""
    if value is None or value.strip() == "":
        return ()
    keys: list[SortKey] = []
    for raw in value.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if " " in name:  # "name DESC" / "name ASC" (the older form)
            name, _, direction = name.partition(" ")
            descending = direction.strip().upper() == "DESC"
        q = queryables.get(name)
        if q is None or q.type == "geometry":
            raise QueryError(
                f"sortby {name[:50]!r} is not a sortable property; sortable: "
                f"{', '.join(n for n, qq in queryables.items() if qq.type != 'geometry')}",
                field="sortby",
                value=value[:100],
            )
        if any(k.name == name for k in keys):
            continue
        keys.append(SortKey(name, q.sql, descending, q.joined))
    if len(keys) > MAX_SORT_KEYS:
        raise QueryError(
            f"sortby takes at most {MAX_SORT_KEYS} properties; got {len(keys)}",
            field="sortby",
            value=value[:100],
        )
    return tuple(keys)


def order_sql(keys: tuple[SortKey, ...], alias: str = "t") -> str:
    """An ORDER BY list for ``keys``, then the primary key (pages stay reproducible)."""
    parts = [f"{k.sql} {'DESC NULLS LAST' if k.descending else 'ASC NULLS LAST'}" for k in keys]
    return ", ".join([*parts, f"{alias}.id"])


# --- compiling --------------------------------------------------------------------------------

COMPARISONS: Final = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
SPATIAL: Final = {
    "s_intersects": "ST_Intersects",
    "s_within": "ST_Within",
    "s_contains": "ST_Contains",
    "s_disjoint": "ST_Disjoint",
    "s_equals": "ST_Equals",
    "s_touches": "ST_Touches",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
}
# Allen's relations between intervals a = [as, ae] and b = [bs, be] (the CQL2 standard's table);
# an instant is an interval whose ends are equal, an open end is ±infinity.
TEMPORAL: Final = {
    "t_after": "{as} > {be}",
    "t_before": "{ae} < {bs}",
    "t_contains": "{as} < {bs} AND {ae} > {be}",
    "t_disjoint": "({ae} < {bs} OR {as} > {be})",
    "t_during": "{as} > {bs} AND {ae} < {be}",
    "t_equals": "{as} = {bs} AND {ae} = {be}",
    "t_finishedby": "{as} < {bs} AND {ae} = {be}",
    "t_finishes": "{as} > {bs} AND {ae} = {be}",
    "t_intersects": "{as} <= {be} AND {ae} >= {bs}",
    "t_meets": "{ae} = {bs}",
    "t_metby": "{as} = {be}",
    "t_overlappedby": "{as} > {bs} AND {as} < {be} AND {ae} > {be}",
    "t_overlaps": "{as} < {bs} AND {ae} > {bs} AND {ae} < {be}",
    "t_startedby": "{as} = {bs} AND {ae} > {be}",
    "t_starts": "{as} = {bs} AND {ae} < {be}",
}
METRE_UNITS: Final = frozenset({"m", "meter", "meters", "metre", "metres"})


@dataclass
class _Operand:
    sql: str
    type: QueryableType | None  # None: a literal whose type follows the other side
    value: Any = None
    is_literal: bool = False
    joined: bool = False


class _Compiler:
    def __init__(self, queryables: Mapping[str, Queryable], filter_srid: int, flip: bool) -> None:
        self.queryables = queryables
        self.filter_srid = filter_srid
        self.flip = flip  # EPSG:4326 literals are (lat, lon)
        self.params: dict[str, Any] = {}
        self.joined = False
        self.nodes = 0

    def bind(self, value: Any, cast: str | None = None) -> str:
        name = f"cql_{len(self.params)}"
        self.params[name] = value
        return f"CAST(:{name} AS {cast})" if cast else f":{name}"

    def fail(self, message: str) -> QueryError:
        return QueryError(message, field="filter")

    # -- conditions --

    def condition(self, node: Any, depth: int) -> str:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise self.fail(f"filter is nested deeper than {MAX_DEPTH} levels")
        if self.nodes > MAX_NODES:
            raise self.fail(f"filter has more than {MAX_NODES} terms")
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise self.fail(f"expected a condition, got {_show(node)}")
        op = str(node["op"]).lower()
        args = node.get("args") or []
        if not isinstance(args, list):
            raise self.fail(f"{op}: args must be a list")
        if op == "literal":
            return "TRUE" if args and args[0] is True else "FALSE"
        if op in ("and", "or"):
            if len(args) < 2:
                raise self.fail(f"{op.upper()} needs at least two conditions")
            inner = f" {op.upper()} ".join(self.condition(a, depth + 1) for a in args)
            return f"({inner})"
        if op == "not":
            self._arity(op, args, 1)
            return f"(NOT {self.condition(args[0], depth + 1)})"
        if op in COMPARISONS:
            self._arity(op, args, 2)
            return self.compare(op, args[0], args[1], depth)
        if op == "like":
            self._arity(op, args, 2)
            left = self.scalar(args[0], depth)
            pattern = self.scalar(args[1], depth)
            self._require_string(left, "LIKE")
            self._require_string(pattern, "LIKE")
            if pattern.is_literal:
                pattern.sql = self.bind(str(pattern.value))
            return f"({left.sql} LIKE {pattern.sql})"
        if op == "in":
            self._arity(op, args, 2)
            left = self.scalar(args[0], depth)
            values = args[1]
            if not isinstance(values, list) or not values:
                raise self.fail("IN needs a non-empty list of values")
            if len(values) > MAX_IN_VALUES:
                raise self.fail(f"IN takes at most {MAX_IN_VALUES} values; got {len(values)}")
            self.nodes += len(values)
            qtype = self._property_type(left, "IN")
            if qtype not in ("string", "integer", "number"):
                raise self.fail(f"IN compares strings or numbers; {_name(args[0])} is {qtype}")
            converted = [self.literal_value(v, qtype) for v in values]
            cast = "text[]" if qtype == "string" else "numeric[]"
            return f"({left.sql} = ANY({self.bind(converted, cast)}))"
        if op == "between":
            self._arity(op, args, 3)
            left = self.scalar(args[0], depth)
            qtype = self._property_type(left, "BETWEEN")
            low, high = (self.operand_for(a, qtype, depth) for a in args[1:])
            return f"({left.sql} BETWEEN {low} AND {high})"
        if op == "isnull":
            self._arity(op, args, 1)
            return f"({self.scalar(args[0], depth).sql} IS NULL)"
        if op in SPATIAL:
            self._arity(op, args, 2)
            first, second = (self.geometry(a) for a in args)
            return f"{SPATIAL[op]}({first}, {second})"
        if op == "s_dwithin":
            return self.dwithin(args)
        if op in TEMPORAL:
            self._arity(op, args, 2)
            a_start, a_end = self.period(args[0])
            b_start, b_end = self.period(args[1])
            formula = TEMPORAL[op].format(
                **{"as": a_start, "ae": a_end, "bs": b_start, "be": b_end}
            )
            return f"({formula})"
        raise self.fail(
            f"operator {op!r} is not supported; filters take comparisons, AND/OR/NOT, LIKE, IN, "
            "BETWEEN, IS NULL, CASEI, S_INTERSECTS/S_WITHIN/S_CONTAINS/S_DISJOINT/S_EQUALS/"
            "S_TOUCHES/S_OVERLAPS/S_CROSSES/S_DWITHIN and T_AFTER/T_BEFORE/T_DURING/"
            "T_INTERSECTS and the other temporal functions"
        )

    def compare(self, op: str, a: Any, b: Any, depth: int) -> str:
        left = self.scalar(a, depth)
        right = self.scalar(b, depth)
        if left.is_literal and right.is_literal:
            raise self.fail(f"{op} compares a property with a value; got two values")
        if left.is_literal:
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        qtype = left.type
        assert qtype is not None
        if right.is_literal:
            if qtype == "date-time" and _is_date(right.value):
                return self.compare_day(op, left.sql, right.value)
            right.sql = self.bind_typed(right.value, qtype)
        elif right.type != qtype and {right.type, qtype} - {"integer", "number"}:
            raise self.fail(f"{op} compares {qtype} with {right.type}")
        if qtype == "geometry":
            raise self.fail(f"{op} does not compare geometries; use S_EQUALS or S_INTERSECTS")
        return f"({left.sql} {COMPARISONS[op]} {right.sql})"

    def compare_day(self, op: str, column: str, value: Any) -> str:
        """A date-time property against a date: the whole day (WIB, docs/architecture.md)."""
        start, end = _day(value)
        s, e = self.bind(start), self.bind(end)
        return {
            "=": f"({column} >= {s} AND {column} < {e})",
            "<>": f"({column} < {s} OR {column} >= {e})",
            "<": f"({column} < {s})",
            "<=": f"({column} < {e})",
            ">": f"({column} >= {e})",
            ">=": f"({column} >= {s})",
        }[op]

    def dwithin(self, args: list[Any]) -> str:
        if len(args) not in (3, 4):
            raise self.fail("S_DWITHIN takes a geometry property, a geometry and a distance in m")
        prop, other = args[0], args[1]
        if _is_property(other) and not _is_property(prop):
            prop, other = other, prop
        q = self.property(prop)
        if q.type != "geometry":
            raise self.fail(f"S_DWITHIN needs a geometry property; {q.name} is {q.type}")
        distance = args[2]
        if isinstance(distance, bool) or not isinstance(distance, int | float):
            raise self.fail(f"S_DWITHIN distance must be a number of metres; got {_show(distance)}")
        if not 0 <= distance <= MAX_DWITHIN_M or not math.isfinite(distance):
            raise self.fail(f"S_DWITHIN distance must be 0-{MAX_DWITHIN_M:.0f} m; got {distance}")
        if len(args) == 4:
            unit = args[3]
            unit_name = unit.get("property") if isinstance(unit, dict) else unit
            if str(unit_name).lower() not in METRE_UNITS:
                raise self.fail(f"S_DWITHIN distances are in metres; got unit {_show(unit)}")
        literal = self.geometry_literal(other)
        metric = q.metric_sql or f"ST_Transform({q.sql}, {METRIC_SRID})"
        # Measured in EPSG:32649 against the column's metric twin (its own GiST index), never on
        # degrees (docs/architecture.md).
        return (
            f"ST_DWithin({metric}, ST_Transform({literal}, {METRIC_SRID}), "
            f"{self.bind(float(distance))})"
        )

    # -- operands --

    def property(self, node: Any) -> Queryable:
        name = node.get("property") if isinstance(node, dict) else None
        q = self.queryables.get(str(name))
        if q is None:
            raise self.fail(
                f"{str(name)[:50]!r} is not a queryable property here; queryables: "
                f"{', '.join(self.queryables)}"
            )
        self.joined = self.joined or q.joined
        return q

    def scalar(self, node: Any, depth: int) -> _Operand:
        self.nodes += 1
        if _is_property(node):
            q = self.property(node)
            return _Operand(q.sql, q.type, joined=q.joined)
        if isinstance(node, dict) and str(node.get("op", "")).lower() in ("casei", "lower"):
            args = node.get("args") or []
            self._arity("CASEI", args, 1)
            inner = self.scalar(args[0], depth + 1)
            if inner.is_literal:
                if not isinstance(inner.value, str):
                    raise self.fail("CASEI takes a string")
                return _Operand("", "string", inner.value.lower(), is_literal=True)
            self._require_string(inner, "CASEI")
            return _Operand(f"lower({inner.sql})", "string")
        if isinstance(node, dict) and ("timestamp" in node or "date" in node):
            return _Operand("", None, node, is_literal=True)
        if isinstance(node, dict) and "op" in node:
            raise self.fail(
                f"{str(node['op'])[:30]!r} is not supported inside a comparison "
                "(arithmetic and functions other than CASEI are not supported)"
            )
        if isinstance(node, str | int | float | bool) or node is None:
            if node is None:
                raise self.fail("compare with NULL through IS NULL")
            return _Operand("", None, node, is_literal=True)
        raise self.fail(f"unexpected value {_show(node)}")

    def operand_for(self, node: Any, qtype: QueryableType, depth: int) -> str:
        operand = self.scalar(node, depth)
        if operand.is_literal:
            return self.bind_typed(operand.value, qtype)
        return operand.sql

    def bind_typed(self, value: Any, qtype: QueryableType) -> str:
        converted = self.literal_value(value, qtype)
        cast = {"date-time": "timestamptz", "date": "date"}.get(qtype)
        return self.bind(converted, cast)

    def literal_value(self, value: Any, qtype: QueryableType) -> Any:
        if isinstance(value, dict):
            value = value.get("timestamp", value.get("date"))
        if qtype == "string":
            if not isinstance(value, str):
                raise self.fail(f"expected a string, got {_show(value)}")
            return value
        if qtype in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(f"expected a number, got {_show(value)}")
            if not math.isfinite(value):
                raise self.fail(f"numbers must be finite; got {value}")
            return value
        if qtype == "boolean":
            if not isinstance(value, bool):
                raise self.fail(f"expected true or false, got {_show(value)}")
            return value
        if qtype in ("date-time", "date"):
            if not isinstance(value, str):
                raise self.fail(f"expected a date or timestamp, got {_show(value)}")
            try:
                parsed = parse_time(value, field="filter")
            except ValidationError:
                raise self.fail(
                    f"expected an ISO 8601 date or timestamp, got {_show(value)}"
                ) from None
            assert parsed is not None
            return parsed.date() if qtype == "date" else parsed
        raise self.fail(f"a {qtype} is not compared with a value")

    def geometry(self, node: Any) -> str:
        if _is_property(node):
            q = self.property(node)
            if q.type != "geometry":
                raise self.fail(f"spatial functions need a geometry; {q.name} is {q.type}")
            return q.sql
        return self.geometry_literal(node)

    def geometry_literal(self, node: Any) -> str:
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            if (
                not isinstance(box, list)
                or len(box) not in (4, 6)
                or not all(isinstance(v, int | float) and math.isfinite(v) for v in box)
            ):
                raise self.fail(f"BBOX takes 4 numbers; got {_show(box)}")
            x0, y0, x1, y1 = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
            if self.flip:
                x0, y0, x1, y1 = y0, x0, y1, x1
            if x0 > x1 or y0 > y1:
                raise self.fail(f"BBOX must be min before max; got {_show(box)}")
            params = ", ".join(self.bind(float(v)) for v in (x0, y0, x1, y1))
            envelope = f"ST_MakeEnvelope({params}, {self.filter_srid})"
            return envelope if self.filter_srid == SRID else f"ST_Transform({envelope}, {SRID})"
        if not (isinstance(node, dict) and "type" in node and "coordinates" in node):
            raise self.fail(f"expected a geometry (WKT, GeoJSON or BBOX), got {_show(node)}")
        try:
            geom = shape(node)
        except Exception:
            raise self.fail(f"not a valid geometry: {_show(node)}") from None
        count = shapely.get_num_coordinates(geom)
        if count > MAX_GEOMETRY_POINTS:
            raise self.fail(
                f"filter geometries take at most {MAX_GEOMETRY_POINTS} points; got {count}"
            )
        self.nodes += 1
        coords = shapely.get_coordinates(geom)
        if not bool(shapely.is_valid_input(geom)) or not bool(
            (coords == coords).all() and abs(coords).max(initial=0) < 1e9
        ):
            raise self.fail(f"geometry coordinates must be finite; got {_show(node)}")
        if self.flip:
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        if self.filter_srid == SRID and (
            abs(coords[:, 0]).max(initial=0) > 180 or abs(coords[:, 1]).max(initial=0) > 90
        ):
            raise self.fail("geometry coordinates are outside lon [-180, 180] / lat [-90, 90]")
        wkb = self.bind(shapely.to_wkb(geom))
        literal = f"ST_GeomFromWKB({wkb}, {self.filter_srid})"
        return literal if self.filter_srid == SRID else f"ST_Transform({literal}, {SRID})"

    def period(self, node: Any) -> tuple[str, str]:
        """The start and end of an instant or interval as SQL (a property is an instant)."""
        if _is_property(node):
            q = self.property(node)
            if q.type not in ("date-time", "date"):
                raise self.fail(f"temporal functions need a date or time; {q.name} is {q.type}")
            return q.sql, q.sql
        if isinstance(node, dict) and "interval" in node:
            ends = node["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise self.fail(f"INTERVAL takes a start and an end; got {_show(ends)}")
            start = self.instant_bound(ends[0], end=False)
            finish = self.instant_bound(ends[1], end=True)
            return start, finish
        if isinstance(node, dict) and ("timestamp" in node or "date" in node):
            if "date" in node:
                s, e = _day(node["date"])
                return self.bind(s), self.bind(e - dt.timedelta(microseconds=1))
            value = self.literal_value(node, "date-time")
            p = self.bind(value)
            return p, p
        if isinstance(node, str):
            if _is_date(node):
                s, e = _day(node)
                return self.bind(s), self.bind(e - dt.timedelta(microseconds=1))
            p = self.bind(self.literal_value(node, "date-time"))
            return p, p
        raise self.fail(f"expected an instant or an interval, got {_show(node)}")

    def instant_bound(self, value: Any, *, end: bool) -> str:
        if isinstance(value, dict):
            value = value.get("timestamp", value.get("date"))
        if value in ("..", "", None):
            return self.bind("infinity" if end else "-infinity", "timestamptz")
        if not isinstance(value, str):
            raise self.fail(f"interval ends are dates, timestamps or '..'; got {_show(value)}")
        if _is_date(value):
            start, stop = _day(value)
            # A closing date includes that whole day (as the ``datetime`` parameter does).
            return self.bind(stop - dt.timedelta(microseconds=1) if end else start)
        return self.bind(self.literal_value(value, "date-time"))

    # -- checks --

    def _arity(self, op: str, args: list[Any], n: int) -> None:
        if len(args) != n:
            raise self.fail(f"{op.upper()} takes {n} argument(s); got {len(args)}")

    def _require_string(self, operand: _Operand, what: str) -> None:
        if operand.is_literal:
            if not isinstance(operand.value, str):
                raise self.fail(f"{what} takes a string; got {_show(operand.value)}")
        elif operand.type != "string":
            raise self.fail(f"{what} works on strings; the property is {operand.type}")

    def _property_type(self, operand: _Operand, what: str) -> QueryableType:
        if operand.is_literal or operand.type is None:
            raise self.fail(f"{what} needs a property on its left")
        return operand.type


def compile_filter(
    tree: dict[str, Any],
    queryables: Mapping[str, Queryable],
    *,
    filter_srid: int = SRID,
    flip_axes: bool = False,
) -> Expression:
    """``tree`` (canonical CQL2-JSON) as one SQL condition with bound parameters.

    ``filter_srid``/``flip_axes``: the CRS of the filter's geometries (``filter-crs``):
    CRS84 is SRID 4326 as stored; EPSG:4326 proper is (lat, lon), so literals are flipped.
    """
    compiler = _Compiler(queryables, filter_srid, flip_axes)
    sql = compiler.condition(tree, 0)
    bound = _spatial_bound(tree, queryables, filter_srid, flip_axes)
    return Expression(sql, compiler.params, compiler.joined, bound)


def _conjuncts(tree: Any) -> list[Any]:
    if isinstance(tree, dict) and str(tree.get("op", "")).lower() == "and":
        return [c for arg in tree.get("args", []) for c in _conjuncts(arg)]
    return [tree]


def _spatial_bound(
    tree: Any, queryables: Mapping[str, Queryable], filter_srid: int, flip: bool
) -> tuple[float, float, float, float] | None:
    """The (lon, lat) envelope of the literal of a top-level ``S_INTERSECTS``/``S_WITHIN`` on
    the primary geometry: a feature that matches the filter intersects it."""
    geometry = queryables.get("geometry")
    if geometry is None:
        return None
    for node in _conjuncts(tree):
        op = str(node.get("op", "")).lower() if isinstance(node, dict) else ""
        args = node.get("args") if isinstance(node, dict) else None
        if op not in ("s_intersects", "s_within") or not isinstance(args, list) or len(args) != 2:
            continue
        if args[0] != {"property": "geometry"}:
            continue
        literal = args[1]
        if isinstance(literal, dict) and "bbox" in literal:
            box = literal["bbox"]
            x0, y0, x1, y1 = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
        else:
            x0, y0, x1, y1 = shape(literal).bounds
        if flip:
            x0, y0, x1, y1 = y0, x0, y1, x1
        if filter_srid != SRID:
            from pyproj import Transformer

            to_lonlat = Transformer.from_crs(filter_srid, SRID, always_xy=True)
            x0, y0, x1, y1 = to_lonlat.transform_bounds(x0, y0, x1, y1, densify_pts=21)
        x0, x1 = max(float(x0), -180.0), min(float(x1), 180.0)
        y0, y1 = max(float(y0), -90.0), min(float(y1), 90.0)
        if x0 <= x1 and y0 <= y1:
            return x0, y0, x1, y1
    return None


def _is_property(node: Any) -> bool:
    return isinstance(node, dict) and "property" in node and len(node) == 1


def _is_date(value: Any) -> bool:
    if isinstance(value, dict):
        return "date" in value
    return isinstance(value, str) and len(value.strip()) == 10 and value.strip()[4] == "-"


def _day(value: Any) -> tuple[dt.datetime, dt.datetime]:
    """The day a date names, in WIB: [its midnight, the next midnight)."""
    text = value.get("date") if isinstance(value, dict) else value
    try:
        day = dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise QueryError(f"expected a date YYYY-MM-DD, got {_show(text)}", field="filter") from None
    start = dt.datetime(day.year, day.month, day.day, tzinfo=WIB)
    return start, start + dt.timedelta(days=1)


def _name(node: Any) -> str:
    return str(node.get("property")) if _is_property(node) else _show(node)


def _show(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
