"""Reading the registry: a page of a layer, its count, one feature; reads of personal data
leave an audit row (docs/privacy.md)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import audit
from geo.access import strip_personal
from geo.errors import NotFoundError
from geo.prepared import execute_prepared
from geo.registry.cql import order_sql
from geo.registry.features import (
    FeaturePage,
    carries_personal_data,
    feature_sql,
    row_columns,
    visible_fields,
)
from geo.registry.filters import MAX_ID, ListFilters
from geo.registry.layers import Layer
from geo.registry.pages import PAGE_BY_BOX_SQL, PAGE_SQL, collect_by_box
from geo.registry.where import where_clause
from geo.users import Principal


def audit_personal_read(
    *,
    session: Session,
    layer: Layer,
    principal: Principal | None,
    resource: str,
    count: int,
    client: str | None,
) -> None:
    """An audit row when ``count`` features carrying personal data went to ``principal``."""
    if principal is not None and count > 0 and carries_personal_data(layer, principal.role):
        audit.record(
            session=session,
            principal=principal,
            action="read",
            resource=resource,
            record_count=count,
            client=client,
        )


def list_features(
    *,
    session: Session,
    layer: Layer,
    filters: ListFilters,
    role: str,
    principal: Principal | None = None,
    client: str | None = None,
    count: bool = False,
    properties: tuple[str, ...] | None = None,
    geometry: str | None = None,
) -> FeaturePage:
    """A page of ``layer`` ordered by primary key (or ``filters.sort``, then the key); audited
    when it carries personal data.

    ``filters.after`` (keyset) starts after that primary key, so deep pages cost what the first
    one does; ``offset`` still applies after it. ``properties`` keeps only those properties;
    ``geometry`` is the SQL of another output CRS (:func:`geo.registry.features.feature_sql`).
    """
    where = where_clause(layer, filters, session=session)
    fields = visible_fields(layer, role, properties)
    by_box = collect_by_box(session=session, layer=layer, filters=filters, where=where)
    sql = (PAGE_BY_BOX_SQL if by_box else PAGE_SQL).format(
        feature=feature_sql(layer, fields, geometry=geometry),
        table=layer.table,
        joins=layer.joins,
        where=where.sql,
        row_columns=row_columns(layer, role),
        order=order_sql(filters.sort),
    )
    params = {
        **where.params,
        "limit": filters.limit,
        "last_n": filters.limit,
        "fetch": filters.limit + 1,
        "offset": filters.offset,
    }
    # The box collection's plan is right for any box the count grid sends it (few rows: the
    # spatial index, then the first ones by id), so it is prepared once per connection and
    # not planned again per page; the key walk's plan depends on the box (geo.prepared).
    result = (
        execute_prepared(session, sql, params) if by_box else session.execute(text(sql), params)
    )
    joined, returned, has_more, last_id = result.one()
    matched = count_features(session=session, layer=layer, filters=filters) if count else None
    audit_personal_read(
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
    where = where_clause(layer, filters, session=session)
    sql = f"SELECT count(*) FROM {layer.table} t {where.joins} WHERE {where.sql}"
    return int(session.execute(text(sql), where.params).scalar_one())


def check_id(record_id: Any, layer: Layer) -> int:
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
    properties: tuple[str, ...] | None = None,
    geometry: str | None = None,
) -> dict[str, Any]:
    """One feature as a GeoJSON dict; NotFoundError if absent."""
    record_id = check_id(record_id, layer)
    fields = visible_fields(layer, role, properties)
    select = feature_sql(layer, fields, geometry=geometry)
    sql = f"SELECT {select} FROM {layer.table} t {layer.joins} WHERE t.id = :id"
    raw = session.execute(text(sql), {"id": record_id}).scalar()
    if raw is None:
        raise NotFoundError(f"no {layer.record} with id {record_id}")
    if audit_read:
        audit_personal_read(
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
