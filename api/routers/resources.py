"""``/api/v1/{foreigners,workplaces,incidents,sightings,zones}``: list, read, create, patch, delete.

Handlers only parse HTTP and call ``geo.registry``; GeoJSON comes back from PostgreSQL as text.
No ``from __future__ import annotations`` here: the handlers are closures whose parameter
descriptions FastAPI must evaluate at definition time.
"""

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import GeoJSON
from api.schemas import EXAMPLES, AnyFeature, FeaturePage, ProblemDetail, feature_in_schema
from geo import registry
from geo.access import DELETE, READ, WRITE
from geo.registry import idempotency
from geo.users import Principal


class RecordIdConvertor(Convertor[str]):
    """A record id segment that is never one of the layer's own sub-paths (import, export), so
    ``PATCH /workplaces/export`` is a 405 from the export route, not a 422 from this one; any
    other segment reaches the handler, which answers 422 naming a non-integer id."""

    regex = r"(?!(?:import|export)$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("recid", RecordIdConvertor())

router = APIRouter(prefix="/api/v1")

Reader = Annotated[Principal, Depends(require(READ))]
Writer = Annotated[Principal, Depends(require(WRITE))]
Deleter = Annotated[Principal, Depends(require(DELETE))]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDetail, "description": "Missing or invalid token"},
    403: {"model": ProblemDetail, "description": "The role may not do this"},
    422: {"model": ProblemDetail, "description": "A value is invalid (field and value named)"},
}


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def page_links(
    request: Request, page: registry.FeaturePage, filters: registry.ListFilters
) -> list[dict[str, str]]:
    """``self`` and, while more remain, ``next``: same filters, keyset ``after`` the last id.

    A keyset link costs the database what the first page did, however deep the client goes
    (an OFFSET reads and discards every earlier row).
    """
    base = str(request.url.replace(query=""))
    params = filters.query_params()
    here: dict[str, Any] = {**params, "limit": page.limit}
    if filters.after is not None:
        here["after"] = filters.after
    if page.offset or filters.after is None:
        here["offset"] = page.offset
    links = [
        {
            "href": f"{base}?{urlencode(here)}",
            "rel": "self",
            "type": "application/geo+json",
        }
    ]
    if page.has_more:
        nxt: dict[str, Any] = {**params, "limit": page.limit}
        if page.last_id is not None:
            nxt["after"] = page.last_id
        else:
            nxt["offset"] = page.offset + page.limit
        links.append(
            {"href": f"{base}?{urlencode(nxt)}", "rel": "next", "type": "application/geo+json"}
        )
    return links


def _add_layer_routes(layer: registry.Layer) -> None:
    name = layer.name
    kinds = ", ".join(layer.choices.get("kind", ())) or "—"
    statuses = ", ".join(layer.choices.get("status", ())) or "—"
    tag = name

    @router.get(
        f"/{name}",
        response_class=GeoJSON,
        summary=f"List {name} (GeoJSON FeatureCollection)",
        tags=[tag],
        responses={200: {"model": FeaturePage}, **ERRORS},
        name=f"list_{name}",
    )
    def list_items(
        request: Request,
        session: SessionDep,
        principal: Reader,
        bbox: Annotated[
            str | None,
            Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)", examples=["109,1,110,2"]),
        ] = None,
        start: Annotated[
            str | None, Query(description="ISO 8601, inclusive; no offset = WIB")
        ] = None,
        end: Annotated[
            str | None, Query(description="ISO 8601, exclusive; no offset = WIB")
        ] = None,
        kind: Annotated[list[str] | None, Query(description=f"kind: {kinds}")] = None,
        status: Annotated[list[str] | None, Query(description=f"status: {statuses}")] = None,
        nationality: Annotated[
            list[str] | None, Query(description="ISO 3166-1 alpha-3 (foreigners, sightings)")
        ] = None,
        permit_type: Annotated[list[str] | None, Query(description="permit type")] = None,
        kecamatan: Annotated[
            list[str] | None, Query(description="Kemendagri code (61.01.09) or name")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=registry.MAX_LIMIT)] = registry.DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        after: Annotated[
            int | None,
            Query(
                ge=0,
                le=2**63 - 1,
                description="Keyset paging: features with an id greater than this "
                "(the `next` link sets it)",
            ),
        ] = None,
    ) -> Response:
        filters = registry.parse_filters(
            layer=layer,
            bbox=bbox,
            start=start,
            end=end,
            kind=kind,
            status=status,
            nationality=nationality,
            permit_type=permit_type,
            kecamatan=kecamatan,
            limit=limit,
            offset=offset,
            after=after,
        )
        page = registry.list_features(
            session=session,
            layer=layer,
            filters=filters,
            role=principal.role,
            principal=principal,
            client=client_address(request),
        )
        return GeoJSON(page.to_bytes(links=page_links(request, page, filters)))

    @router.get(
        f"/{name}/{{record_id:recid}}",
        response_class=GeoJSON,
        summary=f"One of the {name} (GeoJSON Feature)",
        tags=[tag],
        responses={200: {"model": AnyFeature}, 404: {"model": ProblemDetail}, **ERRORS},
        name=f"get_{name}",
    )
    def get_item(
        request: Request,
        session: SessionDep,
        principal: Reader,
        record_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    ) -> Response:
        feature = registry.get_feature(
            session=session,
            layer=layer,
            record_id=record_id,
            role=principal.role,
            principal=principal,
            client=client_address(request),
        )
        return GeoJSON(feature)

    @router.post(
        f"/{name}",
        response_class=GeoJSON,
        status_code=201,
        summary=f"Create one of the {name} from a GeoJSON Feature",
        tags=[tag],
        responses={
            201: {"model": AnyFeature, "description": "Created"},
            200: {"model": AnyFeature, "description": "Already stored (idempotent retry)"},
            409: {"model": ProblemDetail, "description": "Duplicate external_ref or name"},
            **ERRORS,
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": feature_in_schema(layer),
                        "example": EXAMPLES[name],
                    },
                    "application/geo+json": {"schema": feature_in_schema(layer)},
                },
            }
        },
        name=f"create_{name}",
    )
    def create_item(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        principal: Writer,
        body: Annotated[dict[str, Any], Body()],
        idempotency_key: Annotated[
            str | None,
            Header(description="Retries with the same key return the first response"),
        ] = None,
    ) -> Response:
        if idempotency_key is not None:
            stored = idempotency.claim(
                session=session,
                user_name=principal.name,
                key=idempotency_key,
                method="POST",
                path=request.url.path,
            )
            if stored is not None:
                return GeoJSON(
                    stored.body,
                    status_code=stored.status_code,
                    headers={"Idempotent-Replayed": "true"},
                )
        result = registry.create_feature(
            session=session,
            layer=layer,
            body=body,
            principal=principal,
            area=settings.area,
            client=client_address(request),
        )
        feature = result.feature
        if result.notes:
            feature = {**feature, "notes": result.notes}
        status_code = 201 if result.created else 200
        payload = orjson.dumps(feature)
        if idempotency_key is not None:
            idempotency.save(
                session=session,
                user_name=principal.name,
                key=idempotency_key,
                status_code=status_code,
                body=payload,
            )
        return GeoJSON(
            payload,
            status_code=status_code,
            headers={"Location": f"{request.url.path}/{feature['id']}"},
        )

    @router.patch(
        f"/{name}/{{record_id:recid}}",
        response_class=GeoJSON,
        summary=f"Change some properties (and/or the geometry) of one of the {name}",
        tags=[tag],
        responses={200: {"model": AnyFeature}, 404: {"model": ProblemDetail}, **ERRORS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": feature_in_schema(layer, partial=True),
                        "example": {
                            "properties": dict(list(EXAMPLES[name]["properties"].items())[:1])
                        },
                    }
                },
            }
        },
        name=f"update_{name}",
    )
    def update_item(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        principal: Writer,
        record_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        body: Annotated[dict[str, Any], Body()],
    ) -> Response:
        result = registry.update_feature(
            session=session,
            layer=layer,
            record_id=record_id,
            body=body,
            principal=principal,
            area=settings.area,
            client=client_address(request),
        )
        feature = {**result.feature, "notes": result.notes} if result.notes else result.feature
        return GeoJSON(feature)

    @router.delete(
        f"/{name}/{{record_id:recid}}",
        status_code=204,
        summary=f"Delete one of the {name} (admin only; audited)",
        tags=[tag],
        responses={404: {"model": ProblemDetail}, **ERRORS},
        name=f"delete_{name}",
    )
    def delete_item(
        request: Request,
        session: SessionDep,
        principal: Deleter,
        record_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    ) -> Response:
        registry.delete_feature(
            session=session,
            layer=layer,
            record_id=record_id,
            principal=principal,
            client=client_address(request),
        )
        return Response(status_code=204)


for _layer in registry.LAYERS.values():
    _add_layer_routes(_layer)
