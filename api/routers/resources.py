"""``/api/v1/{foreigners,workplaces,incidents,sightings,zones}``: list, read, create, patch, delete.

One :class:`LayerRoutes` factory registers the five routes of a layer (as titiler builds its
routers): each handler parses HTTP and calls ``geo.registry``, which returns GeoJSON as text.
No ``from __future__ import annotations`` here: the handlers are closures whose parameter
descriptions FastAPI must evaluate at definition time.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.types import DecoratedCallable
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from api.auth import PrincipalDep, require
from api.deps import SessionDep, SettingsDep
from api.responses import GeoJSON
from api.routing import ERRORS, Deleter, client_address
from api.schemas import EXAMPLES, AnyFeature, FeaturePage, ProblemDetail, feature_in_schema
from geo import registry
from geo.access import read_permission, write_permission
from geo.registry import idempotency
from geo.registry.reads import audit_personal_read
from geo.users import Principal


class RecordIdConvertor(Convertor[str]):
    """A record id segment that is never one of the layer's own sub-paths (import, export, and
    the workplaces' risk ranking), so ``PATCH /workplaces/export`` is a 405 from the export
    route, not a 422 from this one; any other segment reaches the handler, which answers 422
    naming a non-integer id."""

    regex = r"(?!(?:import|export|risk)$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("recid", RecordIdConvertor())

router = APIRouter(prefix="/api/v1")

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Feature = Annotated[dict[str, Any], Body()]
IdempotencyKey = Annotated[
    str | None, Header(description="Retries with the same key return the first response")
]


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


def list_filters_dependency(layer: registry.Layer) -> Callable[..., registry.ListFilters]:
    """The list query of ``layer`` (filters and paging) as a dependency; bad values are 422s."""
    kinds = ", ".join(layer.choices.get("kind", ())) or "—"
    statuses = ", ".join(layer.choices.get("status", ())) or "—"

    def list_filters(
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
    ) -> registry.ListFilters:
        return registry.parse_filters(
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

    return list_filters


def feature_body(layer: registry.Layer, *, partial: bool = False) -> dict[str, Any]:
    """The documented request body of a create (whole Feature) or a patch (some properties)."""
    example = EXAMPLES[layer.name]
    if partial:
        example = {"properties": dict(list(example["properties"].items())[:1])}
    content: dict[str, Any] = {
        "application/json": {
            "schema": feature_in_schema(layer, partial=partial),
            "example": example,
        }
    }
    if not partial:
        content["application/geo+json"] = {"schema": feature_in_schema(layer)}
    return {"requestBody": {"required": True, "content": content}}


def with_notes(result: registry.WriteResult) -> dict[str, Any]:
    """The written feature, with the notes of its repairs (``make_valid``) when there are any."""
    return {**result.feature, "notes": result.notes} if result.notes else result.feature


@dataclass
class LayerRoutes:
    """The five routes of one registry layer on ``router``: list, read, create, patch, delete."""

    layer: registry.Layer
    router: APIRouter

    def __post_init__(self) -> None:
        self.name = self.layer.name
        self.collection = f"/{self.name}"
        self.item = f"/{self.name}/{{record_id:recid}}"
        # Records that are persons (foreigners, sightings) are listed and read only with personal
        # data: a 403 that says so; other roles see them as counts per area (docs/privacy.md).
        self.reader = Depends(require(read_permission(self.layer.record)))
        # Persons (foreigners, sightings) and zones are written only with personal data;
        # incidents and workplaces by every writer (docs/privacy.md, "Member agencies").
        self.writer = Depends(require(write_permission(self.layer.record)))
        self.register_list()
        self.register_read()
        self.register_create()
        self.register_update()
        self.register_delete()

    def _route(
        self, method: str, path: str, action: str, **kwargs: Any
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.api_route(
            path, methods=[method], tags=[self.name], name=f"{action}_{self.name}", **kwargs
        )

    def register_list(self) -> None:
        layer = self.layer
        Filters = Annotated[registry.ListFilters, Depends(list_filters_dependency(layer))]

        @self._route(
            "GET",
            self.collection,
            "list",
            response_class=GeoJSON,
            summary=f"List {self.name} (GeoJSON FeatureCollection)",
            responses={200: {"model": FeaturePage}, **ERRORS},
            dependencies=[self.reader],
        )
        def list_items(
            request: Request, session: SessionDep, principal: PrincipalDep, filters: Filters
        ) -> Response:
            page = registry.list_features(
                session=session,
                layer=layer,
                filters=filters,
                role=principal.role,
                principal=principal,
                client=client_address(request),
            )
            return GeoJSON(page.to_bytes(links=page_links(request, page, filters)))

    def register_read(self) -> None:
        layer = self.layer

        @self._route(
            "GET",
            self.item,
            "get",
            response_class=GeoJSON,
            summary=f"One of the {self.name} (GeoJSON Feature)",
            responses={200: {"model": AnyFeature}, 404: {"model": ProblemDetail}, **ERRORS},
            dependencies=[self.reader],
        )
        def get_item(
            request: Request, session: SessionDep, principal: PrincipalDep, record_id: RecordId
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

    def register_create(self) -> None:
        layer = self.layer

        @self._route(
            "POST",
            self.collection,
            "create",
            response_class=GeoJSON,
            status_code=201,
            summary=f"Create one of the {self.name} from a GeoJSON Feature",
            responses={
                201: {"model": AnyFeature, "description": "Created"},
                200: {"model": AnyFeature, "description": "Already stored (idempotent retry)"},
                409: {"model": ProblemDetail, "description": "Duplicate external_ref or name"},
                **ERRORS,
            },
            openapi_extra=feature_body(layer),
            dependencies=[self.writer],
        )
        def create_item(
            request: Request,
            session: SessionDep,
            settings: SettingsDep,
            principal: PrincipalDep,
            body: Feature,
            idempotency_key: IdempotencyKey = None,
        ) -> Response:
            registry.check_writer(layer=layer, body=body, principal=principal)
            claim = IdempotentWrite(request, session, principal, idempotency_key, layer)
            if (replay := claim.replay()) is not None:
                return replay
            result = registry.create_feature(
                session=session,
                layer=layer,
                body=body,
                principal=principal,
                area=settings.area,
                client=client_address(request),
            )
            payload = claim.store(orjson.dumps(with_notes(result)), 201 if result.created else 200)
            return GeoJSON(
                payload,
                status_code=201 if result.created else 200,
                headers={"Location": f"{request.url.path}/{result.feature['id']}"},
            )

    def register_update(self) -> None:
        layer = self.layer

        @self._route(
            "PATCH",
            self.item,
            "update",
            response_class=GeoJSON,
            summary=f"Change some properties (and/or the geometry) of one of the {self.name}",
            responses={200: {"model": AnyFeature}, 404: {"model": ProblemDetail}, **ERRORS},
            openapi_extra=feature_body(layer, partial=True),
            dependencies=[self.writer],
        )
        def update_item(
            request: Request,
            session: SessionDep,
            settings: SettingsDep,
            principal: PrincipalDep,
            record_id: RecordId,
            body: Feature,
        ) -> Response:
            registry.check_writer(layer=layer, body=body, principal=principal)
            result = registry.update_feature(
                session=session,
                layer=layer,
                record_id=record_id,
                body=body,
                principal=principal,
                area=settings.area,
                client=client_address(request),
            )
            return GeoJSON(with_notes(result))

    def register_delete(self) -> None:
        layer = self.layer

        @self._route(
            "DELETE",
            self.item,
            "delete",
            status_code=204,
            summary=f"Delete one of the {self.name} (admin only; audited)",
            responses={404: {"model": ProblemDetail}, **ERRORS},
        )
        def delete_item(
            request: Request, session: SessionDep, principal: Deleter, record_id: RecordId
        ) -> Response:
            registry.delete_feature(
                session=session,
                layer=layer,
                record_id=record_id,
                principal=principal,
                client=client_address(request),
            )
            return Response(status_code=204)


class IdempotentWrite:
    """``Idempotency-Key`` on a POST: the first response is stored, retries get it back."""

    def __init__(
        self,
        request: Request,
        session: Session,
        principal: Principal,
        key: str | None,
        layer: registry.Layer,
    ) -> None:
        self.request, self.session, self.principal, self.key = request, session, principal, key
        self.layer = layer

    def replay(self) -> Response | None:
        """The stored response of an earlier request with this key, else None (key claimed).

        A replay shows the record again: audited as a read when it carries personal data.
        """
        if self.key is None:
            return None
        stored = idempotency.claim(
            session=self.session,
            user_name=self.principal.name,
            key=self.key,
            method="POST",
            path=self.request.url.path,
        )
        if stored is None:
            return None
        audit_personal_read(
            session=self.session,
            layer=self.layer,
            principal=self.principal,
            resource=f"{self.layer.name}/{orjson.loads(stored.body).get('id')}",
            count=1,
            client=client_address(self.request),
        )
        return GeoJSON(
            stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )

    def store(self, payload: bytes, status_code: int) -> bytes:
        if self.key is not None:
            idempotency.save(
                session=self.session,
                user_name=self.principal.name,
                key=self.key,
                status_code=status_code,
                body=payload,
            )
        return payload


for _layer in registry.LAYERS.values():
    LayerRoutes(_layer, router)
