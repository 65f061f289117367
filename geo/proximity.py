""" "Who and what is near this point?": everything within a radius, exact metric distances.

Roles without personal data get no person layer (``foreigners``, ``sightings``): asked for
by name, they are refused; by default, left out (docs/privacy.md). Incidents come without their
free text.

Distances are measured in EPSG:32649 with ``ST_DWithin``/``ST_Distance`` on the stored
``geom_utm`` columns (each with its own GiST index), never in degrees and never with a buffer
polygon. Results come back nearest first as one GeoJSON FeatureCollection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit
from geo.access import PERSONAL_FIELDS, sees_personal_data
from geo.errors import PermissionDeniedError, ValidationError
from geo.geometry import check_measurable, validate_lonlat
from geo.models import METRIC_SRID, SRID
from geo.registry.filters import split_values
from geo.times import parse_time
from geo.users import Principal

MAX_RADIUS_M: Final = 50_000.0
MAX_RESULTS: Final = 5_000

# layer → (table, record for PERSONAL_FIELDS, property expressions, extra join, time column)
_LAYERS: Final[dict[str, tuple[str, str, tuple[tuple[str, str], ...], str, str | None]]] = {
    "workplaces": (
        "workplace",
        "workplace",
        (("name", "t.name"), ("sector", "t.sector"), ("kecamatan_name", "t.kecamatan_name")),
        "",
        None,
    ),
    "foreigners": (
        "foreigner",
        "foreigner",
        (
            ("full_name", "t.full_name"),
            ("nationality", "t.nationality"),
            ("permit_type", "t.permit_type"),
            ("permit_expires_on", "t.permit_expires_on"),
            ("status", "t.status"),
        ),
        "",
        None,
    ),
    "incidents": (
        "incident",
        "incident",
        (
            ("kind", "t.kind"),
            ("severity", "t.severity"),
            ("status", "t.status"),
            ("occurred_at", "t.occurred_at"),
        ),
        "",
        "occurred_at",
    ),
    "sightings": (
        "sighting",
        "sighting",
        (
            ("observed_at", "t.observed_at"),
            ("source", "t.source"),
            ("foreigner_id", "t.foreigner_id"),
            ("foreigner_name", "f.full_name"),
        ),
        "LEFT JOIN foreigner f ON f.id = t.foreigner_id",
        "observed_at",
    ),
    "zones": (
        "zone",
        "zone",
        (("name", "t.name"), ("kind", "t.kind"), ("active", "t.active")),
        "",
        None,
    ),
    "reference": (
        "reference_feature",
        "reference_feature",
        (("name", "t.name"), ("kind", "t.kind")),
        "",
        None,
    ),
}
LAYERS: Final = tuple(_LAYERS)
PERSON_LAYERS: Final = frozenset({"foreigners", "sightings"})


@dataclass(frozen=True)
class ProximityQuery:
    lon: float
    lat: float
    radius_m: float
    layers: tuple[str, ...]
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = 1000
    layers_given: bool = False  # False: the default (every layer the caller may see)


def parse_query(
    *,
    lon: Any,
    lat: Any,
    radius_m: Any,
    layers: str | list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int = 1000,
) -> ProximityQuery:
    x, y = validate_lonlat(lon, lat, field="lon/lat")
    check_measurable(x, y, x, y, field="lon/lat")
    try:
        radius = float(radius_m)
    except (TypeError, ValueError):
        raise ValidationError(
            f"radius_m must be a number of metres; got {radius_m!r}",
            field="radius_m",
            value=str(radius_m),
        ) from None
    if not 0 < radius <= MAX_RADIUS_M:
        raise ValidationError(
            f"radius_m must be in (0, {MAX_RADIUS_M:g}] metres; got {radius_m!r}",
            field="radius_m",
            value=str(radius_m),
        )
    given = split_values(layers)
    chosen = given or LAYERS
    for name in chosen:
        if name not in _LAYERS:
            raise ValidationError(
                f"layers must be among {', '.join(LAYERS)}; got {name!r}",
                field="layers",
                value=name,
            )
    if not 1 <= limit <= MAX_RESULTS:
        raise ValidationError(
            f"limit must be between 1 and {MAX_RESULTS}; got {limit}", field="limit", value=limit
        )
    return ProximityQuery(
        x,
        y,
        radius,
        tuple(chosen),
        parse_time(start, field="start"),
        parse_time(end, field="end"),
        limit,
        bool(given),
    )


def layers_for(query: ProximityQuery, role: str) -> tuple[str, ...]:
    """The layers to search for ``role``: person layers only for roles with personal data."""
    if sees_personal_data(role):
        return query.layers
    asked = [name for name in query.layers if name in PERSON_LAYERS]
    if asked and query.layers_given:
        raise PermissionDeniedError(
            f"layers {', '.join(asked)} are persons; roles without personal data see them only "
            "as counts per area (/maps/overview, /api/v1/hotspots)"
        )
    return tuple(name for name in query.layers if name not in PERSON_LAYERS)


def _layer_sql(name: str, role: str, query: ProximityQuery) -> str:
    table, record, props, join, time_col = _LAYERS[name]
    hidden = () if sees_personal_data(role) else PERSONAL_FIELDS.get(record, ())
    visible = [(k, v) for k, v in props if k not in hidden]
    if name == "sightings" and not any(k == "foreigner_name" for k, _ in visible):
        join = ""
    obj = ", ".join(f"'{k}', {v}" for k, v in visible)
    time_filter = ""
    if time_col and query.start:
        time_filter += f" AND t.{time_col} >= :start"
    if time_col and query.end:
        time_filter += f" AND t.{time_col} < :end"
    return (
        f"SELECT '{name}' AS layer, t.id, ST_Distance(t.geom_utm, p.g) AS distance_m, "
        f"ST_AsGeoJSON(t.geom, 7) AS geometry, json_build_object({obj})::text AS props "
        f"FROM {table} t {join} CROSS JOIN p "
        # The box first: under the sharing policies only ``&&`` (leakproof) may search the
        # GiST index; ST_DWithin alone would be checked against every row (docs/privacy.md).
        f"WHERE t.geom_utm && ST_Expand(p.g, :radius_m) "
        f"AND ST_DWithin(t.geom_utm, p.g, :radius_m){time_filter}"
    )


def nearby(
    *,
    session: Session,
    query: ProximityQuery,
    principal: Principal,
    client: str | None = None,
) -> bytes:
    """Everything within ``query.radius_m`` of the point, nearest first, as GeoJSON bytes."""
    layers = layers_for(query, principal.role)
    union = " UNION ALL ".join(_layer_sql(n, principal.role, query) for n in layers)
    sql = (
        f"WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), {SRID}), "
        f"{METRIC_SRID}) AS g) "
        f"SELECT layer, id, distance_m, geometry, props FROM ({union}) x "
        "ORDER BY distance_m, layer, id LIMIT :limit"
    )
    rows = session.execute(
        text(sql),
        {
            "lon": query.lon,
            "lat": query.lat,
            "radius_m": query.radius_m,
            "start": query.start,
            "end": query.end,
            "limit": query.limit + 1,
        },
    ).all()
    truncated = len(rows) > query.limit
    rows = rows[: query.limit]
    features = []
    for layer, record_id, distance_m, geometry, props in rows:
        properties = {"layer": layer, "id": record_id, "distance_m": round(float(distance_m), 2)}
        properties.update(orjson.loads(props))
        features.append(
            {
                "type": "Feature",
                "id": f"{layer}.{record_id}",
                "geometry": orjson.loads(geometry),
                "properties": properties,
            }
        )
    personal = sees_personal_data(principal.role) and any(
        f["properties"]["layer"] in PERSON_LAYERS for f in features
    )
    if personal:
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource="proximity",
            record_count=sum(f["properties"]["layer"] in PERSON_LAYERS for f in features),
            client=client,
            details={"radius_m": query.radius_m, "layers": list(query.layers)},
        )
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": len(features),
            "truncated": truncated,
            "query": {
                "lon": query.lon,
                "lat": query.lat,
                "radius_m": query.radius_m,
                "layers": list(layers),
                "crs_for_distances": f"EPSG:{METRIC_SRID}",
            },
        },
        option=orjson.OPT_NAIVE_UTC,
    )
