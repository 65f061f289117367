"""OGC API – Features collections and their SQL, framework-free.

Collections reuse the registry's layer machinery (``geo.registry``): features are built in
PostgreSQL, pages are ordered by primary key (or ``sortby``, then the key). Which collections
exist depends on the role: raw sightings and alerts (positions of persons) only for roles with
personal data; everyone gets sightings aggregated per desa, with counts below 3 suppressed for
roles without personal data (docs/privacy.md). Extents of the collections a role sees come from
records it may see. A role filters and sorts on exactly the properties it sees (its queryables).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access import MIN_PERSON_COUNT, sees_personal_data
from geo.errors import NotFoundError, PermissionDeniedError, QueryError, ValidationError
from geo.models import Base
from geo.ogc.crs import CRS84, Crs, bbox_filter, geometry_sql
from geo.registry import (
    LAYERS,
    FeaturePage,
    Field,
    Layer,
    ListFilters,
    count_features,
    get_feature,
    list_features,
    parse_time,
)
from geo.registry.cql import (
    Expression,
    Queryable,
    compile_filter,
    layer_queryables,
    order_sql,
    parse_filter,
    parse_sortby,
)
from geo.registry.features import visible_fields
from geo.registry.pages import GRID_TABLES
from geo.tiles import GRID_COARSEST
from geo.users import Principal

ADMIN_AREAS = Layer(
    name="admin-areas",
    table="admin_area",
    record="admin_area",
    fields=(
        Field("code", "str"),
        Field("name", "str"),
        Field("level", "str"),
        Field("parent_code", "str"),
        Field("area_km2", "int", sql="round(t.area_km2::numeric, 3)"),
    ),
    geometry_types=("MultiPolygon",),
    located=False,
)
REFERENCE_FEATURES = Layer(
    name="reference-features",
    table="reference_feature",
    record="reference_feature",
    fields=(Field("kind", "str"), Field("name", "str"), Field("country", "str")),
    geometry_types=("Geometry",),
    located=False,
)
ALERTS = Layer(
    name="alerts",
    table="alert",
    record="alert",
    fields=(
        Field("rule_kind", "str"),
        Field("severity", "int"),
        Field("status", "str"),
        Field("distance_m", "int", sql="round(t.distance_m::numeric, 1)"),
        Field("kecamatan_code", "str"),
        Field("kecamatan_name", "str"),
        Field("desa_name", "str"),
        Field("event_at", "datetime"),
        Field("created_at", "datetime"),
        Field("acknowledged_at", "datetime"),
        Field("resolved_at", "datetime"),
    ),
    time_column="event_at",
    located=False,
)


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    layer: Layer | None  # None: the aggregated sightings collection
    personal_only: bool = False
    tiles: bool = False  # a vector tile layer of the same name (geo.tiles)
    # A table that grows to millions of rows: ``numberMatched`` of a filtered page only when
    # asked for (a count reads every matching row); unfiltered, the count grid answers.
    large: bool = False


COLLECTIONS: Final[tuple[Collection, ...]] = (
    Collection(
        "admin-areas", "Admin areas", "Kabupaten, kecamatan and desa", ADMIN_AREAS, tiles=True
    ),
    Collection(
        "reference-features",
        "Border and reference features",
        "International border, coastline, crossing posts, towns, border markers",
        REFERENCE_FEATURES,
    ),
    Collection(
        "zones",
        "Zones",
        "Border bands, watch/restricted zones, PLB area",
        LAYERS["zones"],
        tiles=True,
    ),
    Collection("workplaces", "Workplaces", "Sites employing foreigners", LAYERS["workplaces"]),
    Collection("incidents", "Incidents", "Immigration incidents", LAYERS["incidents"], tiles=True),
    Collection("alerts", "Alerts", "Proximity alerts", ALERTS, personal_only=True),
    Collection(
        "sightings",
        "Sightings",
        "Position reports of foreigners (personal data)",
        LAYERS["sightings"],
        personal_only=True,
        tiles=True,
        large=True,
    ),
    Collection(
        "sightings-by-desa",
        "Sightings per desa",
        f"Number of sightings per desa; counts below {MIN_PERSON_COUNT} are hidden "
        "for roles without personal data",
        None,
    ),
)


def visible_collections(role: str) -> list[Collection]:
    personal = sees_personal_data(role)
    return [c for c in COLLECTIONS if personal or not c.personal_only]


def get_collection(collection_id: str, role: str) -> Collection:
    for c in visible_collections(role):
        if c.id == collection_id:
            return c
    if any(c.id == collection_id for c in COLLECTIONS):
        raise PermissionDeniedError(
            f"collection {collection_id!r} holds personal data; roles without personal data "
            "see sightings as counts per desa (collection 'sightings-by-desa')"
        )
    raise NotFoundError(f"no collection {collection_id!r}")


def parse_datetime(value: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """OGC ``datetime``: an instant, or ``start/end`` with ``..`` (or empty) for open ends."""
    if value is None or value.strip() == "":
        return None, None
    if "/" not in value:
        instant = parse_time(value, field="datetime")
        assert instant is not None
        return instant, instant + dt.timedelta(microseconds=1)
    parts = value.split("/")
    if len(parts) != 2:
        raise ValidationError(
            f"datetime must be an instant or start/end; got {value!r}",
            field="datetime",
            value=value[:100],
        )
    start, end = (None if p in ("", "..") else parse_time(p, field="datetime") for p in parts)
    if start and end and end < start:
        raise ValidationError(
            f"datetime end is before its start; got {value!r}", field="datetime", value=value[:100]
        )
    if end is not None and "T" not in parts[1]:
        end = end + dt.timedelta(days=1)  # a closing date includes that whole day
    elif end is not None:
        end = end + dt.timedelta(microseconds=1)  # OGC intervals are closed
    return start, end


def extent(*, session: Session, collection: Collection) -> list[float] | None:
    table = collection.layer.table if collection.layer else "admin_area"
    row = session.execute(
        text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            f"(SELECT ST_Extent(geom)::geometry AS e FROM {table}) x"
        )
    ).one()
    if row[0] is None:
        return None
    return [round(float(v), 6) for v in row]


def time_property(collection: Collection) -> str | None:
    """The property ``datetime`` and the temporal functions of a filter refer to."""
    if collection.layer is None:
        return None  # counts of a time window: ``datetime`` picks the window
    return collection.layer.time_column


# --- queryables, properties, sorting and filters --------------------------------------------

# The aggregated collection's properties a filter may test: the desa, never its count (a filter
# on a count hidden below MIN_PERSON_COUNT would reveal it).
AGG_QUERYABLES: Final[dict[str, Queryable]] = {
    "geometry": Queryable(
        "geometry",
        "t.geom",
        "geometry",
        geometry_type="MultiPolygon",
        metric_sql="t.geom_utm",
        primary=True,
    ),
    "desa_code": Queryable("desa_code", "t.code", "string"),
    "desa_name": Queryable("desa_name", "t.name", "string"),
    "kecamatan_code": Queryable("kecamatan_code", "t.parent_code", "string"),
}
AGG_PROPERTIES: Final = ("desa_code", "desa_name", "kecamatan_code", "count", "count_label")
# Query parameters of the items route; any other that names a queryable is an equality filter.
ITEM_PARAMETERS: Final = frozenset(
    {
        "bbox",
        "bbox-crs",
        "datetime",
        "limit",
        "offset",
        "filter",
        "filter-lang",
        "filter-crs",
        "sortby",
        "properties",
        "crs",
        "count",
        "f",
    }
)


def queryables(collection: Collection, role: str) -> dict[str, Queryable]:
    """What ``role`` may filter and sort ``collection`` on: the properties it sees."""
    if collection.layer is None:
        return dict(AGG_QUERYABLES)
    return layer_queryables(collection.layer, role)


def queryables_schema(collection: Collection, role: str, *, url: str) -> dict[str, Any]:
    """The queryables document (OGC API – Features Part 3): a JSON Schema."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": collection.title,
        "description": f"Properties of {collection.id} a filter or sortby may name",
        "properties": {name: q.schema() for name, q in queryables(collection, role).items()},
        "additionalProperties": False,
    }


def property_names(collection: Collection, role: str) -> tuple[str, ...]:
    """The properties ``role`` receives in ``collection``'s features."""
    if collection.layer is None:
        return AGG_PROPERTIES
    return tuple(f.name for f in visible_fields(collection.layer, role))


def parse_properties(
    value: str | None, collection: Collection, role: str
) -> tuple[str, ...] | None:
    """``properties``: a comma-separated subset of the properties ``role`` receives."""
    if value is None:
        return None
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    known = property_names(collection, role)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise QueryError(
            f"properties {', '.join(repr(n[:50]) for n in unknown[:5])} are not properties of "
            f"{collection.id}; properties: {', '.join(known)}",
            field="properties",
            value=value[:100],
        )
    return names


def _equality(name: str, raw: str, q: Queryable) -> dict[str, Any]:
    """``?name=value`` (a queryable as a query parameter) as a CQL2 comparison."""
    value: Any = raw
    if q.type in ("integer", "number"):
        try:
            value = float(raw)
        except ValueError:
            raise QueryError(
                f"{name} is a number; got {raw[:50]!r}", field=name, value=raw[:50]
            ) from None
    elif q.type == "boolean":
        if raw.lower() not in ("true", "false"):
            raise QueryError(f"{name} is true or false; got {raw[:50]!r}", field=name)
        value = raw.lower() == "true"
    return {"op": "=", "args": [{"property": name}, value]}


@dataclass(frozen=True)
class ItemsQuery:
    """A validated items request: the list filters (with the compiled CQL2 filter and order),
    the properties to return, and the output CRS."""

    filters: ListFilters
    properties: tuple[str, ...] | None
    crs: Crs
    filtered: bool  # anything beyond paging narrows the rows


def parse_items_query(
    collection: Collection,
    role: str,
    *,
    bbox: str | None = None,
    bbox_crs: Crs = CRS84,
    datetime: str | None = None,
    filter: str | None = None,
    filter_lang: str | None = None,
    filter_crs: Crs = CRS84,
    sortby: str | None = None,
    properties: str | None = None,
    crs: Crs = CRS84,
    limit: int = 100,
    offset: int = 0,
    equals: dict[str, str] | None = None,
) -> ItemsQuery:
    """Every parameter of an items request checked, the filter compiled to bound SQL."""
    allowed = queryables(collection, role)
    start, end = parse_datetime(datetime)
    if time_property(collection) is None and collection.layer is not None:
        start = end = None  # a collection without time: datetime selects everything
    tree = parse_filter(filter, filter_lang)
    terms = [tree] if tree is not None else []
    for name, raw in (equals or {}).items():
        q = allowed.get(name)
        if q is not None and q.type != "geometry":
            terms.append(_equality(name, raw, q))
    expression: Expression | None = None
    if terms:
        combined = terms[0] if len(terms) == 1 else {"op": "and", "args": terms}
        expression = compile_filter(
            combined, allowed, filter_srid=filter_crs.srid, flip_axes=filter_crs.lat_first
        )
    geometry = allowed.get("geometry")
    box, exact = bbox_filter(bbox, bbox_crs, metric_sql=geometry.metric_sql if geometry else None)
    if exact is not None:
        expression = exact.and_(expression)
    if box is None and expression is not None and expression.bbox is not None:
        box = expression.bbox  # implied by the filter: the spatial index selects the rows
    filters = ListFilters(
        bbox=box,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
        expression=expression,
        sort=parse_sortby(sortby, allowed),
    )
    return ItemsQuery(
        filters,
        parse_properties(properties, collection, role),
        crs,
        filtered=bool(box or start or end or expression),
    )


# --- the aggregated sightings ------------------------------------------------------------------

AGG_SQL = """
    SELECT '{{"type": "Feature", "id": ' || t.id || ', "geometry": '
        || {geometry} || ', "properties": '
        || json_build_object(
            'desa_code', t.code, 'desa_name', t.name, 'kecamatan_code', t.parent_code,
            'count', CASE WHEN :suppress AND c.n > 0 AND c.n < :min_count THEN NULL ELSE c.n END,
            'count_label',
                CASE WHEN :suppress AND c.n > 0 AND c.n < :min_count THEN :hidden_label
                     ELSE c.n::text END
        )::text || '}}'
    FROM admin_area t
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS n FROM sighting s
        WHERE s.desa_code = t.code
          AND (CAST(:start AS timestamptz) IS NULL OR s.observed_at >= :start)
          AND (CAST(:end AS timestamptz) IS NULL OR s.observed_at < :end)
    ) c
    WHERE t.level = 'desa' AND {where}
    ORDER BY {order}
"""


def _agg_geometry(crs: Crs) -> str:
    return f"coalesce({geometry_sql(crs, geom='ST_PointOnSurface(t.geom)')}, 'null')"


def _agg_params(filters: ListFilters, role: str) -> tuple[str, dict[str, Any]]:
    parts = ["TRUE"]
    params: dict[str, Any] = {
        "suppress": not sees_personal_data(role),
        "min_count": MIN_PERSON_COUNT,
        "hidden_label": f"<{MIN_PERSON_COUNT}",
        "start": filters.start,
        "end": filters.end,
    }
    if filters.bbox is not None:
        # ``&&`` first: under the sharing policies only it (leakproof) may search the GiST index.
        parts.append(
            "t.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) "
            "AND ST_Intersects(t.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))"
        )
        params.update(zip(("minx", "miny", "maxx", "maxy"), filters.bbox, strict=True))
    if filters.expression is not None:
        parts.append(f"({filters.expression.sql})")
        params.update(filters.expression.params)
    return " AND ".join(parts), params


def _select(raw: str, properties: tuple[str, ...] | None) -> str:
    if properties is None:
        return raw
    feature = orjson.loads(raw)
    feature["properties"] = {k: v for k, v in feature["properties"].items() if k in properties}
    return orjson.dumps(feature).decode()


# --- pages and features ------------------------------------------------------------------------


def items(
    *,
    session: Session,
    collection: Collection,
    query: ItemsQuery,
    principal: Principal,
    client: str | None = None,
    count: bool | None = None,
) -> FeaturePage:
    """A page of ``collection``; ``numberMatched`` when ``count`` (None: where it is cheap)."""
    filters = query.filters
    if collection.layer is not None:
        page = list_features(
            session=session,
            layer=collection.layer,
            filters=filters,
            role=principal.role,
            principal=principal,
            client=client,
            properties=query.properties,
            geometry=_geometry(collection.layer, query.crs),
        )
        page.number_matched = number_matched(
            session=session, collection=collection, query=query, asked=count
        )
        return page
    where, params = _agg_params(filters, principal.role)
    sql = AGG_SQL.format(
        where=where, order=order_sql(filters.sort), geometry=_agg_geometry(query.crs)
    )
    rows = list(
        session.execute(
            text(sql + " LIMIT :limit OFFSET :offset"),
            {**params, "limit": filters.limit + 1, "offset": filters.offset},
        ).scalars()
    )
    return FeaturePage(
        [_select(r, query.properties) for r in rows[: filters.limit]],
        filters.limit,
        filters.offset,
        len(rows) > filters.limit,
        number_matched(session=session, collection=collection, query=query, asked=count),
    )


def _geometry(layer: Layer, crs: Crs) -> str:
    """The features' geometry in ``crs``, from the stored metric twin where the table has one."""
    metric = "t.geom_utm" if "geom_utm" in Base.metadata.tables[layer.table].columns else None
    return geometry_sql(crs, metric_geom=metric)


def number_matched(
    *, session: Session, collection: Collection, query: ItemsQuery, asked: bool | None
) -> int | None:
    """How many features match: counted unless ``asked`` is False; on a large table only when
    asked, or when unfiltered (the count grid's all-time total, kept by triggers)."""
    if asked is False:
        return None
    filters = query.filters
    if collection.layer is None:
        where, params = _agg_params(filters, "admin")
        return int(
            session.execute(
                text(f"SELECT count(*) FROM admin_area t WHERE t.level = 'desa' AND {where}"),
                params,
            ).scalar_one()
        )
    if collection.large and not asked:
        if query.filtered or collection.layer.table not in GRID_TABLES:
            return None
        total = session.execute(
            text(
                f"SELECT coalesce(sum(n), 0) FROM {collection.layer.table}_grid "
                "WHERE month = '-infinity' AND level = :level"
            ),
            {"level": GRID_COARSEST},
        ).scalar_one()
        return int(total)
    return count_features(session=session, layer=collection.layer, filters=filters)


def item(
    *,
    session: Session,
    collection: Collection,
    feature_id: str,
    principal: Principal,
    client: str | None = None,
    properties: tuple[str, ...] | None = None,
    crs: Crs = CRS84,
) -> dict[str, Any]:
    try:
        record_id = int(feature_id)
    except ValueError:
        raise NotFoundError(f"no feature {feature_id!r} in {collection.id}") from None
    if collection.layer is not None:
        try:
            return get_feature(
                session=session,
                layer=collection.layer,
                record_id=record_id,
                role=principal.role,
                principal=principal,
                client=client,
                properties=properties,
                geometry=_geometry(collection.layer, crs),
            )
        except NotFoundError:
            raise NotFoundError(f"no feature {feature_id!r} in {collection.id}") from None
    _where, params = _agg_params(ListFilters(), principal.role)
    sql = AGG_SQL.format(where="t.id = :id", order="t.id", geometry=_agg_geometry(crs))
    raw = session.execute(text(sql), {**params, "id": record_id}).scalar()
    if raw is None:
        raise NotFoundError(f"no feature {feature_id!r} in {collection.id}")
    feature: dict[str, Any] = orjson.loads(_select(raw, properties))
    return feature
