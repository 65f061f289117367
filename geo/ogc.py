"""OGC API – Features Part 1 (Core, GeoJSON): the collections and their SQL, framework-free.

Collections reuse the registry's layer machinery (``geo.registry``): features are built in
PostgreSQL, pages are ordered by primary key. Which collections exist depends on the role:
raw sightings and alerts (positions of persons) only for roles with personal data; everyone gets
sightings aggregated per desa, with counts below 3 suppressed for roles without personal data
(docs/privacy.md). Extents of the collections a role sees come from records it may see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access import MIN_PERSON_COUNT, sees_personal_data
from geo.errors import NotFoundError, PermissionDeniedError, ValidationError
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
from geo.users import Principal

CRS84: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE: Final = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)

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


COLLECTIONS: Final[tuple[Collection, ...]] = (
    Collection("admin-areas", "Admin areas", "Kabupaten, kecamatan and desa", ADMIN_AREAS),
    Collection(
        "reference-features",
        "Border and reference features",
        "International border, coastline, crossing posts, towns, border markers",
        REFERENCE_FEATURES,
    ),
    Collection("zones", "Zones", "Border bands, watch/restricted zones, PLB area", LAYERS["zones"]),
    Collection("workplaces", "Workplaces", "Sites employing foreigners", LAYERS["workplaces"]),
    Collection("incidents", "Incidents", "Immigration incidents", LAYERS["incidents"]),
    Collection("alerts", "Alerts", "Proximity alerts", ALERTS, personal_only=True),
    Collection(
        "sightings",
        "Sightings",
        "Position reports of foreigners (personal data)",
        LAYERS["sightings"],
        personal_only=True,
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


AGG_SQL = """
    SELECT json_build_object(
        'type', 'Feature', 'id', t.id,
        'geometry', ST_AsGeoJSON(ST_PointOnSurface(t.geom), 7)::json,
        'properties', json_build_object(
            'desa_code', t.code, 'desa_name', t.name, 'kecamatan_code', t.parent_code,
            'count', CASE WHEN :suppress AND c.n > 0 AND c.n < :min_count THEN NULL ELSE c.n END,
            'count_label',
                CASE WHEN :suppress AND c.n > 0 AND c.n < :min_count THEN :hidden_label
                     ELSE c.n::text END
        ))::text
    FROM admin_area t
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS n FROM sighting s
        WHERE s.desa_code = t.code
          AND (CAST(:start AS timestamptz) IS NULL OR s.observed_at >= :start)
          AND (CAST(:end AS timestamptz) IS NULL OR s.observed_at < :end)
    ) c
    WHERE t.level = 'desa' AND {where}
    ORDER BY t.id
"""


def _agg_params(filters: ListFilters, role: str) -> tuple[str, dict[str, Any]]:
    where = "TRUE"
    params: dict[str, Any] = {
        "suppress": not sees_personal_data(role),
        "min_count": MIN_PERSON_COUNT,
        "hidden_label": f"<{MIN_PERSON_COUNT}",
        "start": filters.start,
        "end": filters.end,
    }
    if filters.bbox is not None:
        where = "ST_Intersects(t.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))"
        params.update(zip(("minx", "miny", "maxx", "maxy"), filters.bbox, strict=True))
    return where, params


def items(
    *,
    session: Session,
    collection: Collection,
    filters: ListFilters,
    principal: Principal,
    client: str | None = None,
) -> FeaturePage:
    if collection.layer is not None:
        return list_features(
            session=session,
            layer=collection.layer,
            filters=filters,
            role=principal.role,
            principal=principal,
            client=client,
            count=True,
        )
    where, params = _agg_params(filters, principal.role)
    sql = AGG_SQL.format(where=where) + " LIMIT :limit OFFSET :offset"
    rows = list(
        session.execute(
            text(sql), {**params, "limit": filters.limit + 1, "offset": filters.offset}
        ).scalars()
    )
    matched = session.execute(
        text(f"SELECT count(*) FROM admin_area t WHERE t.level = 'desa' AND {where}"), params
    ).scalar_one()
    return FeaturePage(
        rows[: filters.limit],
        filters.limit,
        filters.offset,
        len(rows) > filters.limit,
        int(matched),
    )


def item(
    *,
    session: Session,
    collection: Collection,
    feature_id: str,
    principal: Principal,
    client: str | None = None,
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
            )
        except NotFoundError:
            raise NotFoundError(f"no feature {feature_id!r} in {collection.id}") from None
    _where, params = _agg_params(ListFilters(), principal.role)
    raw = session.execute(
        text(AGG_SQL.format(where="t.id = :id")), {**params, "id": record_id}
    ).scalar()
    if raw is None:
        raise NotFoundError(f"no feature {feature_id!r} in {collection.id}")
    feature: dict[str, Any] = orjson.loads(raw)
    return feature


def matched(*, session: Session, collection: Collection, filters: ListFilters) -> int:
    if collection.layer is not None:
        return count_features(session=session, layer=collection.layer, filters=filters)
    where, params = _agg_params(filters, "admin")
    return int(
        session.execute(
            text(f"SELECT count(*) FROM admin_area t WHERE t.level = 'desa' AND {where}"), params
        ).scalar_one()
    )
