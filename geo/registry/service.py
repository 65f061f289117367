"""CRUD of the registry layers: GeoJSON built in PostgreSQL, writes validated, audited, alerted.

Reads build each Feature with ``json_build_object`` / ``ST_AsGeoJSON`` in the database and hand
back text, so a page of 1,000 features is joined into one byte string without a Python object
per property. Writes take a GeoJSON Feature, validate it (``geo.geometry``, ``geo.locate``),
insert with bound parameters, evaluate proximity alerts in the same transaction and leave an
audit row.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import orjson
import pycountry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit
from geo.access import PERSONAL_FIELDS, sees_personal_data, strip_personal
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.geometry import point_from_geojson, validate_geometry
from geo.locate import check_in_area
from geo.models import SRID
from geo.registry.filters import ListFilters, Where, where_clause
from geo.registry.layers import WIB_ZONE, Field, Layer
from geo.settings import AreaSettings
from geo.tiles import GRID_COARSEST, grid_cells
from geo.times import parse_time
from geo.users import Principal

GEOJSON_DECIMALS: Final = 7  # ~1 cm at the equator
MAX_ID: Final = 2**63 - 1
_MISSING: Final = object()


def visible_fields(layer: Layer, role: str) -> list[Field]:
    """The layer's fields that ``role`` may see (personal ones only with PERSONAL_DATA)."""
    if sees_personal_data(role):
        return list(layer.fields)
    hidden = set(PERSONAL_FIELDS.get(layer.record, ()))
    return [f for f in layer.fields if f.name not in hidden]


def carries_personal_data(layer: Layer, role: str) -> bool:
    personal = set(PERSONAL_FIELDS.get(layer.record, ()))
    return bool(personal) and any(f.name in personal for f in visible_fields(layer, role))


def property_sql(spec: Field) -> str:
    """A SQL expression giving one property's JSON text (``null`` when SQL NULL)."""
    expr = spec.read_sql()
    if spec.kind == "datetime":
        # Shown in WIB with its offset (docs/architecture.md): to_json's ISO text of the local
        # time, its closing quote replaced by the offset (no JSON parse per value, as ``#>>`` does).
        local = f"({spec.sql or f't.{spec.name}'}) AT TIME ZONE '{WIB_ZONE}'"
        value = f"""rtrim(to_json({local})::text, '"') || '+07:00"'"""
    elif spec.kind in ("int", "ref", "bool") and spec.sql is None:
        value = f"({expr})::text"  # integer and boolean columns print as JSON
    elif spec.kind in ("ids", "json"):
        value = f"({expr})::text"  # already json / jsonb
    else:
        value = f"to_json({expr})::text"  # strings escaped; numerics (NaN quoted), dates
    return f"coalesce({value}, 'null')"


def feature_sql(layer: Layer, fields: list[Field], *, alias: str = "t") -> str:
    """A SQL expression giving one GeoJSON Feature as text.

    The Feature is concatenated text: ``ST_AsGeoJSON`` output goes in as it is (a cast to
    ``json`` would parse it again: about a sixth of a 1,000-feature page), and so does each
    property's JSON text: ``json_build_object`` looks up every argument's type and output
    function on every row, ~10 % of a page more than casting integer and boolean columns to
    text and escaping strings with ``to_json``. Keys are field names from code (nothing to
    escape). A feature without geometry gets ``"geometry": null``.
    """
    props = " || ', ' || ".join(f"""'"{f.name}": ' || {property_sql(f)}""" for f in fields)
    return (
        f"""('{{"type": "Feature", "id": ' || {alias}.id || ', "geometry": ' """
        f"|| coalesce(ST_AsGeoJSON({alias}.geom, {GEOJSON_DECIMALS}), 'null') "
        f"""|| ', "properties": {{' || {props or "''"} || '}}}}')"""
    )


@dataclass
class FeaturePage:
    """One page of features as GeoJSON text, and what the links need.

    ``features`` holds one Feature text per row; a page built by :func:`list_features` instead
    carries them already joined by PostgreSQL (``joined``, ``returned`` of them), so a page of
    1,000 features crosses the driver as one value.
    """

    features: list[str]
    limit: int
    offset: int
    has_more: bool
    number_matched: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    joined: str | None = None
    returned: int | None = None
    last_id: int | None = None  # primary key of the last feature: the keyset ``after`` of next

    @property
    def number_returned(self) -> int:
        return self.returned if self.returned is not None else len(self.features)

    def to_bytes(self, *, links: list[dict[str, str]] | None = None) -> bytes:
        """The page as a GeoJSON FeatureCollection (bytes, ready to send)."""
        head: dict[str, Any] = {"type": "FeatureCollection"}
        tail: dict[str, Any] = {"numberReturned": self.number_returned}
        if self.number_matched is not None:
            tail["numberMatched"] = self.number_matched
        tail.update(self.extra)
        tail["links"] = links or []
        return b"".join(
            (
                orjson.dumps(head)[:-1],
                b',"features":[',
                (self.joined if self.joined is not None else ",".join(self.features)).encode(),
                b"],",
                orjson.dumps(tail)[1:],
            )
        )


def _audit_read(
    *,
    session: Session,
    layer: Layer,
    principal: Principal | None,
    resource: str,
    count: int,
    client: str | None,
) -> None:
    if principal is not None and count > 0 and carries_personal_data(layer, principal.role):
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource=resource,
            record_count=count,
            client=client,
        )


# One statement per page: the rows in primary-key order (LIMIT one more than the page, to know
# whether more remain), each turned into a Feature in PostgreSQL and joined there into one text.
# ``row_number`` marks the page's rows; features are built above the LIMIT, for page rows only.
# ``string_agg`` takes the rows in the order the subquery returns them (the PostgreSQL manual's
# "supplying the input values from a sorted subquery"; a plain Aggregate over a Limit keeps it):
# an ``ORDER BY`` inside the aggregate sorted the 1,000 feature texts a second time, ~10 % of a
# page (PostgreSQL 15 does not see that its input is sorted already). Tests check the order.
# The page's text, its size, whether more rows follow, and its last id, from rows ``p`` (id, n
# = position from 1, feature) in page order.
PAGE_OF_ROWS: Final = """
SELECT coalesce(string_agg(p.feature, ',') FILTER (WHERE p.n <= :last_n), ''),
       count(*) FILTER (WHERE p.n <= :last_n),
       count(*) > :limit,
       max(p.id) FILTER (WHERE p.n <= :last_n)
FROM ({rows}) p
"""
PAGE_SQL: Final = PAGE_OF_ROWS.replace(
    "{rows}",
    """
    SELECT t.id, row_number() OVER (ORDER BY t.id) - :offset AS n, {feature} AS feature
    FROM {table} t {joins}
    WHERE {where}
    ORDER BY t.id
    LIMIT :fetch OFFSET :offset
""",
)

# The same page when the box holds few rows: PAGE_SQL walks the primary key and tests every
# row against the box until the page is full, which costs ~0.15 µs per row walked, ~1,000 /
# (share of the rows inside the box) of them; collecting the box's rows by the spatial index
# and keeping the first ones by id (``t.id + 0`` hides the key's order from the planner, so it
# cannot walk it) costs ~0.65 µs per row in the box. PostgreSQL estimates the rows in the box
# well but prices the walk too cheaply (the ``&&`` test reads every row), so it always walks:
# 24 ms instead of 4 for a page from a box of 6,350 rows out of 1e6. The join runs after the
# LIMIT, so the page's rows only are joined.
PAGE_BY_BOX_SQL: Final = PAGE_OF_ROWS.replace(
    "{rows}",
    """
    SELECT t.id, row_number() OVER (ORDER BY t.id) AS n, {feature} AS feature
    FROM (
        SELECT * FROM {table} t
        WHERE {where}
        ORDER BY t.id + 0
        LIMIT :fetch OFFSET :offset
    ) t {joins}
    ORDER BY t.id
""",
)

# Rows of a point layer inside a box, all time (an upper bound for any filter), from the count
# grid of migration 0010 at level 15 (cells of ~1.2 km: a few dozen for a 5 km box), and the
# table's total from level 12.
BOX_GRID_LEVEL: Final = 15
BOX_ROWS_SQL: Final = """
SELECT coalesce(sum(n) FILTER (WHERE level = {level}), 0),
       coalesce(sum(n) FILTER (WHERE level = {coarsest}), 0)
FROM {table}_grid
WHERE month = '-infinity'
  AND (level = {coarsest}
       OR (level = {level} AND cx BETWEEN :gx0 AND :gx1 AND cy BETWEEN :gy0 AND :gy1))
"""
GRID_TABLES: Final = frozenset({"sighting", "incident"})
# Collect by box when (rows in box)^2 < BOX_WALK_RATIO * rows wanted * rows in table: the cost
# model above (0.65 µs per row in the box against 0.15 µs per row walked, with the rows inside
# the box spread evenly over the ids), which crosses over at ~15,000 rows in the box for a
# 1,000-feature page of 1e6 rows, as measured.
BOX_WALK_RATIO: Final = 0.15 / 0.65


def collect_by_box(*, session: Session, layer: Layer, filters: ListFilters, where: Where) -> bool:
    """Whether a page is cheaper collected from the box by the spatial index (see
    PAGE_BY_BOX_SQL) than by walking the primary key; only point layers with a count grid."""
    if filters.bbox is None or layer.table not in GRID_TABLES or "f." in where.sql:
        return False
    minx, miny, maxx, maxy = filters.bbox
    # Web Mercator is undefined at the poles: clamp the box to where the grid has cells.
    cx, cy = grid_cells(
        np.array([minx, maxx]), np.clip([miny, maxy], -85.05, 85.05), BOX_GRID_LEVEL
    )
    gx0, gx1, gy0, gy1 = (int(v) for v in (*cx, *cy))
    sql = BOX_ROWS_SQL.format(level=BOX_GRID_LEVEL, coarsest=GRID_COARSEST, table=layer.table)
    in_box, total = session.execute(
        text(sql), {"gx0": gx0, "gx1": gx1, "gy0": gy0, "gy1": gy1}
    ).one()
    wanted = filters.limit + 1 + filters.offset
    return bool(int(in_box) ** 2 < BOX_WALK_RATIO * wanted * int(total))


def list_features(
    *,
    session: Session,
    layer: Layer,
    filters: ListFilters,
    role: str,
    principal: Principal | None = None,
    client: str | None = None,
    count: bool = False,
) -> FeaturePage:
    """A page of ``layer`` ordered by primary key; audited when it carries personal data.

    ``filters.after`` (keyset) starts after that primary key, so deep pages cost what the first
    one does; ``offset`` still applies after it.
    """
    where = where_clause(layer, filters)
    fields = visible_fields(layer, role)
    by_box = collect_by_box(session=session, layer=layer, filters=filters, where=where)
    sql = (PAGE_BY_BOX_SQL if by_box else PAGE_SQL).format(
        feature=feature_sql(layer, fields), table=layer.table, joins=layer.joins, where=where.sql
    )
    params = {
        **where.params,
        "limit": filters.limit,
        "last_n": filters.limit,
        "fetch": filters.limit + 1,
        "offset": filters.offset,
    }
    joined, returned, has_more, last_id = session.execute(text(sql), params).one()
    matched = count_features(session=session, layer=layer, filters=filters) if count else None
    _audit_read(
        session=session,
        layer=layer,
        principal=principal,
        resource=layer.name,
        count=int(returned),
        client=client,
    )
    return FeaturePage(
        [],
        filters.limit,
        filters.offset,
        bool(has_more),
        matched,
        joined=str(joined),
        returned=int(returned),
        last_id=int(last_id) if last_id is not None else None,
    )


def count_features(*, session: Session, layer: Layer, filters: ListFilters) -> int:
    where = where_clause(layer, filters)
    joins = layer.joins if "f." in where.sql else ""
    sql = f"SELECT count(*) FROM {layer.table} t {joins} WHERE {where.sql}"
    return int(session.execute(text(sql), where.params).scalar_one())


def _check_id(record_id: Any, layer: Layer) -> int:
    if (
        isinstance(record_id, bool)
        or not isinstance(record_id, int)
        or not 1 <= record_id <= MAX_ID
    ):
        raise NotFoundError(f"no {layer.record} with id {record_id!r}")
    return record_id


def get_feature(
    *,
    session: Session,
    layer: Layer,
    record_id: int,
    role: str,
    principal: Principal | None = None,
    client: str | None = None,
    audit_read: bool = True,
) -> dict[str, Any]:
    """One feature as a GeoJSON dict; NotFoundError if absent."""
    record_id = _check_id(record_id, layer)
    fields = visible_fields(layer, role)
    sql = f"SELECT {feature_sql(layer, fields)} FROM {layer.table} t {layer.joins} WHERE t.id = :id"
    raw = session.execute(text(sql), {"id": record_id}).scalar()
    if raw is None:
        raise NotFoundError(f"no {layer.record} with id {record_id}")
    if audit_read:
        _audit_read(
            session=session,
            layer=layer,
            principal=principal,
            resource=f"{layer.name}/{record_id}",
            count=1,
            client=client,
        )
    feature: dict[str, Any] = orjson.loads(raw)
    # Defence in depth: the SQL already left the columns out.
    feature["properties"] = strip_personal(layer.record, feature["properties"], role)
    return feature


# --- writes -------------------------------------------------------------------------------


def _bad(name: str, message: str, value: Any) -> ValidationError:
    shown = value if isinstance(value, int | float | str) or value is None else str(value)[:100]
    if isinstance(shown, str):
        shown = shown[:100]
    return ValidationError(
        f"properties.{name}: {message}; got {value!r}"[:400],
        field=f"properties.{name}",
        value=shown,
    )


def coerce_value(spec: Field, value: Any) -> Any:
    """A client's value for ``spec`` as the database takes it; ValidationError names it."""
    name = spec.name
    if value is None:
        if spec.required:
            raise _bad(name, "is required", value)
        return None
    kind = spec.kind
    if kind in ("str", "text"):
        if not isinstance(value, str):
            raise _bad(name, "must be a string", value)
        value = value.strip()
        if "\x00" in value:
            raise _bad(name, "must not contain NUL characters", value)
        if spec.max_length is not None and len(value) > spec.max_length:
            raise _bad(name, f"must be at most {spec.max_length} characters", value[:50] + "…")
        if not value:
            if spec.required:
                raise _bad(name, "must not be empty", value)
            return None
        return value
    if kind in ("int", "ref"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(name, "must be an integer", value)
        low = spec.minimum if spec.minimum is not None else (1 if kind == "ref" else -(2**31))
        high = spec.maximum if spec.maximum is not None else 2**31 - 1
        if not low <= value <= high:
            raise _bad(name, f"must be between {low} and {high}", value)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad(name, "must be true or false", value)
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in spec.choices:
            raise _bad(name, f"must be one of {', '.join(spec.choices)}", value)
        return value
    if kind == "nationality":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
            raise _bad(name, "must be an ISO 3166-1 alpha-3 code such as MYS", value)
        code = value.strip().upper()
        if pycountry.countries.get(alpha_3=code) is None and code not in ("XXA", "XXB", "XXX"):
            raise _bad(name, "is not an ISO 3166-1 alpha-3 country code", value)
        return code
    if kind == "date":
        if not isinstance(value, str):
            raise _bad(name, "must be an ISO date (YYYY-MM-DD)", value)
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise _bad(name, "must be an ISO date (YYYY-MM-DD)", value) from None
        if not 1900 <= day.year <= 2200:
            raise _bad(name, "must be between the years 1900 and 2200", value)
        return day
    if kind == "datetime":
        if not isinstance(value, str):
            raise _bad(name, "must be an ISO 8601 datetime", value)
        return parse_time(value, field=f"properties.{name}")
    if kind == "ids":
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**31 - 1 for v in value
        ):
            raise _bad(name, "must be a list of record ids", value)
        if len(value) > 1000:
            raise _bad(name, "must list at most 1000 ids", len(value))
        return sorted(set(value))
    if kind == "json":
        if not isinstance(value, dict):
            raise _bad(name, "must be a JSON object", value)
        try:
            encoded = orjson.dumps(value)
        except TypeError:
            raise _bad(name, "must be plain JSON", value) from None
        if len(encoded) > 100_000:
            raise _bad(name, "must be at most 100 kB", len(encoded))
        return encoded.decode()
    raise AssertionError(f"unhandled field kind {kind}")  # pragma: no cover


@dataclass
class ValidFeature:
    values: dict[str, Any]
    geometry: BaseGeometry | object | None  # _MISSING when a PATCH leaves it alone
    notes: list[str]
    out_of_area: bool = False


def validate_feature(
    *,
    session: Session,
    layer: Layer,
    body: Any,
    area: AreaSettings,
    partial: bool = False,
) -> ValidFeature:
    """A GeoJSON Feature (or, for PATCH, a partial one) → values for the table."""
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"body must be a GeoJSON Feature object; got {type(body).__name__}",
            field="body",
            value=str(body)[:100],
        )
    kind = body.get("type", "Feature" if partial else None)
    if kind != "Feature":
        raise ValidationError(
            f"type must be 'Feature'; got {kind!r}", field="type", value=str(kind)[:50]
        )
    props = body.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise ValidationError(
            f"properties must be an object; got {type(props).__name__}",
            field="properties",
            value=str(props)[:100],
        )
    writable = layer.writable
    values: dict[str, Any] = {}
    for name, value in props.items():
        spec = layer.by_name.get(name)
        if spec is None:
            raise ValidationError(
                f"properties.{name}: unknown property for {layer.name}; "
                f"writable properties are {', '.join(writable)}",
                field=f"properties.{name}",
                value=str(value)[:100],
            )
        if name not in writable:
            raise ValidationError(
                f"properties.{name}: is derived and read-only",
                field=f"properties.{name}",
                value=str(value)[:100],
            )
        values[name] = coerce_value(spec, value)
    if not partial:
        for spec in writable.values():
            if spec.required and values.get(spec.name) is None:
                raise ValidationError(
                    f"properties.{spec.name}: is required", field=f"properties.{spec.name}"
                )
    for name, value in values.items():
        spec = layer.by_name[name]
        if spec.kind in ("ref", "ids") and value:
            _check_references(
                session=session, spec=spec, ids=value if isinstance(value, list) else [value]
            )

    notes: list[str] = []
    geometry: BaseGeometry | object | None = _MISSING
    out_of_area = False
    if "geometry" in body or not partial:
        raw = body.get("geometry")
        if raw is None:
            if layer.geometry_required:
                raise ValidationError(
                    f"geometry: a {layer.geometry_types[0]} is required for {layer.name}",
                    field="geometry",
                )
            geometry = None
        else:
            if layer.geometry_types == ("Point",):
                geom: BaseGeometry = point_from_geojson(raw)
            else:
                geom, note = validate_geometry(raw, allowed_types=layer.geometry_types)
                if note:
                    notes.append(f"geometry {note}")
            probe = geom if geom.geom_type == "Point" else geom.representative_point()
            out_of_area = check_in_area(
                session=session,
                lon=probe.x,
                lat=probe.y,
                area=area,
                allow_out_of_area=layer.name == "sightings" and area.allow_out_of_area_sightings,
            )
            if out_of_area:
                notes.append("point is outside the area of interest; stored with out_of_area=true")
            geometry = geom
    return ValidFeature(values, geometry, notes, out_of_area)


def _check_references(*, session: Session, spec: Field, ids: list[int]) -> None:
    assert spec.references is not None
    found = set(
        session.execute(
            text(f"SELECT id FROM {spec.references} WHERE id = ANY(:ids)"), {"ids": ids}
        ).scalars()
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(
            f"properties.{spec.name}: no {spec.references} with id {missing[0]}",
            field=f"properties.{spec.name}",
            value=missing[0],
        )


def _columns(layer: Layer, valid: ValidFeature) -> tuple[list[str], list[str], dict[str, Any]]:
    cols: list[str] = []
    exprs: list[str] = []
    params: dict[str, Any] = {}
    for name, value in valid.values.items():
        spec = layer.by_name[name]
        if spec.kind == "ids":
            continue
        if value is None and spec.name in ("status", "active"):
            continue  # keep the column's default
        cols.append(name)
        params[f"v_{name}"] = value
        exprs.append(f"CAST(:v_{name} AS jsonb)" if spec.kind == "json" else f":v_{name}")
    if valid.geometry is not _MISSING:
        cols.append("geom")
        if valid.geometry is None:
            exprs.append("NULL")
        else:
            assert isinstance(valid.geometry, BaseGeometry)
            params["wkt"] = valid.geometry.wkt
            exprs.append(f"ST_GeomFromText(:wkt, {SRID})")
        if layer.name == "sightings":
            cols.append("out_of_area")
            params["v_out_of_area"] = valid.out_of_area
            exprs.append(":v_out_of_area")
    return cols, exprs, params


def _set_links(*, session: Session, layer: Layer, record_id: int, valid: ValidFeature) -> None:
    ids = valid.values.get("foreigner_ids")
    if "foreigner_ids" not in valid.values or layer.name != "incidents":
        return
    session.execute(
        text("DELETE FROM incident_foreigner WHERE incident_id = :id"), {"id": record_id}
    )
    if ids:
        session.execute(
            text(
                "INSERT INTO incident_foreigner (incident_id, foreigner_id) "
                "SELECT :id, unnest(CAST(:ids AS integer[]))"
            ),
            {"id": record_id, "ids": ids},
        )


def evaluate_alerts(*, session: Session, layer: Layer, ids: list[int]) -> bool:
    """Run the alert rules for the written rows in this transaction (geo.alerts).

    Imported lazily: the alerts module is built in parallel and may not exist yet; returns
    whether it ran.
    """
    if layer.alerts_layer is None or not ids:
        return False
    try:
        alerts = importlib.import_module("geo.alerts")
    except ModuleNotFoundError as exc:
        if exc.name != "geo.alerts":
            raise
        return False
    evaluate = getattr(alerts, "evaluate_for", None)
    if evaluate is None:
        return False
    evaluate(session=session, layer=layer.alerts_layer, ids=ids)
    return True


@dataclass
class WriteResult:
    feature: dict[str, Any]
    created: bool
    notes: list[str]


def _external_ref_owner(*, session: Session, layer: Layer, external_ref: str) -> int | None:
    found = session.execute(
        text(f"SELECT id FROM {layer.table} WHERE external_ref = :ref LIMIT 1"),
        {"ref": external_ref},
    ).scalar()
    return int(found) if found is not None else None


def create_feature(
    *,
    session: Session,
    layer: Layer,
    body: Any,
    principal: Principal,
    area: AreaSettings,
    client: str | None = None,
) -> WriteResult:
    """Insert one feature; sightings with a known (external_ref, observed_at) are not duplicated."""
    valid = validate_feature(session=session, layer=layer, body=body, area=area)
    cols, exprs, params = _columns(layer, valid)
    external_ref = valid.values.get("external_ref")
    conflict = ""
    if layer.name == "sightings":
        conflict = "ON CONFLICT (external_ref, observed_at) DO NOTHING"
    elif external_ref is not None:
        owner = _external_ref_owner(session=session, layer=layer, external_ref=external_ref)
        if owner is not None:
            raise ConflictError(
                f"a {layer.record} with external_ref {external_ref!r} already exists (id {owner})",
                details={"id": owner, "field": "properties.external_ref"},
            )
    if layer.name == "zones" and "name" in valid.values:
        _check_zone_name(session=session, name=valid.values["name"], exclude_id=None)
    sql = (
        f"INSERT INTO {layer.table} ({', '.join(cols)}) VALUES ({', '.join(exprs)}) "
        f"{conflict} RETURNING id"
    )
    new_id = session.execute(text(sql), params).scalar()
    created = new_id is not None
    if new_id is None:  # an identical sighting report was already stored: idempotent retry
        new_id = session.execute(
            text("SELECT id FROM sighting WHERE external_ref = :ref AND observed_at = :at"),
            {"ref": external_ref, "at": valid.values["observed_at"]},
        ).scalar_one()
    record_id = int(new_id)
    if created:
        _set_links(session=session, layer=layer, record_id=record_id, valid=valid)
        evaluate_alerts(session=session, layer=layer, ids=[record_id])
        audit.record(
            session=session,
            principal=principal,
            action="create",
            resource=f"{layer.name}/{record_id}",
            record_count=1,
            client=client,
            details={"fields": sorted(valid.values)},
        )
    feature = get_feature(
        session=session,
        layer=layer,
        record_id=record_id,
        role=principal.role,
        audit_read=False,
    )
    return WriteResult(feature, created, valid.notes)


def _check_zone_name(*, session: Session, name: str, exclude_id: int | None) -> None:
    owner = session.execute(
        text("SELECT id FROM zone WHERE name = :name AND id IS DISTINCT FROM :exclude"),
        {"name": name, "exclude": exclude_id},
    ).scalar()
    if owner is not None:
        raise ConflictError(
            f"a zone named {name!r} already exists (id {owner})",
            details={"id": owner, "field": "properties.name"},
        )


def _guard_derived_zone(*, session: Session, layer: Layer, record_id: int) -> None:
    if layer.name != "zones":
        return
    derived = session.execute(
        text("SELECT derived FROM zone WHERE id = :id"), {"id": record_id}
    ).scalar()
    if derived:
        raise ConflictError(
            f"zone {record_id} is derived from the reference geography; "
            "reload boundaries to change it"
        )


def update_feature(
    *,
    session: Session,
    layer: Layer,
    record_id: int,
    body: Any,
    principal: Principal,
    area: AreaSettings,
    client: str | None = None,
) -> WriteResult:
    """Change the given properties (and geometry, if given) of one feature."""
    record_id = _check_id(record_id, layer)
    exists = session.execute(
        text(f"SELECT id FROM {layer.table} WHERE id = :id FOR UPDATE"), {"id": record_id}
    ).scalar()
    if exists is None:
        raise NotFoundError(f"no {layer.record} with id {record_id}")
    _guard_derived_zone(session=session, layer=layer, record_id=record_id)
    valid = validate_feature(session=session, layer=layer, body=body, area=area, partial=True)
    for name, value in valid.values.items():
        if value is None and layer.by_name[name].required:
            raise ValidationError(f"properties.{name}: is required", field=f"properties.{name}")
    cols, exprs, params = _columns(layer, valid)
    external_ref = valid.values.get("external_ref")
    if external_ref is not None and layer.name != "sightings":
        owner = _external_ref_owner(session=session, layer=layer, external_ref=external_ref)
        if owner is not None and owner != record_id:
            raise ConflictError(
                f"a {layer.record} with external_ref {external_ref!r} already exists (id {owner})",
                details={"id": owner, "field": "properties.external_ref"},
            )
    if layer.name == "zones" and valid.values.get("name"):
        _check_zone_name(session=session, name=valid.values["name"], exclude_id=record_id)
    assignments = [f"{c} = {e}" for c, e in zip(cols, exprs, strict=True)]
    if layer.has_updated_at and (assignments or "foreigner_ids" in valid.values):
        assignments.append("updated_at = now()")
    if assignments:
        session.execute(
            text(f"UPDATE {layer.table} SET {', '.join(assignments)} WHERE id = :id"),
            {**params, "id": record_id},
        )
    _set_links(session=session, layer=layer, record_id=record_id, valid=valid)
    changed = sorted(valid.values) + (["geometry"] if valid.geometry is not _MISSING else [])
    if changed:
        evaluate_alerts(session=session, layer=layer, ids=[record_id])
        audit.record(
            session=session,
            principal=principal,
            action="update",
            resource=f"{layer.name}/{record_id}",
            record_count=1,
            client=client,
            details={"fields": changed},
        )
    feature = get_feature(
        session=session, layer=layer, record_id=record_id, role=principal.role, audit_read=False
    )
    return WriteResult(feature, False, valid.notes)


def delete_feature(
    *,
    session: Session,
    layer: Layer,
    record_id: int,
    principal: Principal,
    client: str | None = None,
) -> None:
    """Delete one feature (admins only, enforced by the caller's permission check); audited."""
    record_id = _check_id(record_id, layer)
    _guard_derived_zone(session=session, layer=layer, record_id=record_id)
    deleted = session.execute(
        text(f"DELETE FROM {layer.table} WHERE id = :id RETURNING id"), {"id": record_id}
    ).scalar()
    if deleted is None:
        raise NotFoundError(f"no {layer.record} with id {record_id}")
    audit.record(
        session=session,
        principal=principal,
        action="delete",
        resource=f"{layer.name}/{record_id}",
        record_count=1,
        client=client,
    )
