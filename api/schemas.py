"""Request and response schemas of the registry, proximity and audit endpoints.

Responses are GeoJSON (geojson-pydantic models, used for the OpenAPI document and by the tests
to validate what the API returns). Request bodies are read as JSON objects and validated by
``geo.registry`` (so a 422 names the property and the value); their OpenAPI schema is built
here from the same field table.
"""

from __future__ import annotations

from typing import Any

from geojson_pydantic import Feature, FeatureCollection
from geojson_pydantic.geometries import Geometry
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydField

from geo.registry import Layer
from geo.registry.layers import Field


class AnyFeature(Feature[Geometry | None, dict[str, Any] | None]):  # type: ignore[type-var]
    """A GeoJSON Feature of any geometry (or none) with free properties."""

    model_config = ConfigDict(extra="allow")


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class FeaturePage(FeatureCollection[AnyFeature]):
    """A page of features with the OGC-style counts and a ``next`` link while more remain."""

    model_config = ConfigDict(extra="allow")

    numberReturned: int = PydField(description="Features on this page.")
    numberMatched: int | None = PydField(default=None, description="All matching features.")
    links: list[Link] = PydField(default_factory=list)


class ProblemDetail(BaseModel):
    detail: str
    field: str | None = None
    value: Any = None


class AuditEntry(BaseModel):
    id: int
    at: str
    user_name: str | None
    role: str | None
    action: str
    resource: str
    record_count: int
    client: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    numberReturned: int
    links: list[Link]


_JSON_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "text": {"type": "string"},
    "int": {"type": "integer"},
    "ref": {"type": "integer", "minimum": 1},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "nationality": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    "json": {"type": "object"},
}


def _property_schema(spec: Field) -> dict[str, Any]:
    schema = dict(_JSON_TYPES.get(spec.kind, {"type": "string"}))
    if spec.kind == "enum":
        schema = {"type": "string", "enum": list(spec.choices)}
    if spec.max_length is not None:
        schema["maxLength"] = spec.max_length
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    if not spec.required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _geometry_schema(layer: Layer) -> dict[str, Any]:
    position = {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 2,
        "maxItems": 3,
    }
    if layer.geometry_types == ("Point",):
        geometry: dict[str, Any] = {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {"type": {"const": "Point"}, "coordinates": position},
        }
    else:
        ring = {"type": "array", "items": position, "minItems": 4}
        geometry = {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"enum": ["Polygon", "MultiPolygon"]},
                "coordinates": {"type": "array"},
            },
            "description": "Polygon or MultiPolygon (lon, lat); rings: " + str(ring["minItems"]),
        }
    if not layer.geometry_required:
        return {"anyOf": [geometry, {"type": "null"}]}
    return geometry


def feature_in_schema(layer: Layer, *, partial: bool = False) -> dict[str, Any]:
    """JSON schema of the body of POST (a Feature) or PATCH (a partial Feature)."""
    writable = layer.writable
    props: dict[str, Any] = {
        "type": "object",
        "properties": {name: _property_schema(spec) for name, spec in writable.items()},
        "additionalProperties": False,
    }
    required = [name for name, spec in writable.items() if spec.required]
    if required and not partial:
        props["required"] = required
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "Feature"},
            "geometry": _geometry_schema(layer),
            "properties": props,
        },
    }
    if not partial:
        schema["required"] = ["type", "geometry", "properties"]
    return schema


EXAMPLES: dict[str, dict[str, Any]] = {
    "foreigners": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.3021, 1.3549]},
        "properties": {
            "full_name": "Contoh Orang Asing",
            "nationality": "MYS",
            "sex": "M",
            "birth_date": "1990-01-31",
            "passport_number": "X0000001",
            "permit_type": "PLB",
            "permit_number": "PLB-000001",
            "permit_expires_on": "2026-06-30",
            "external_ref": "kanim-sambas-0001",
        },
    },
    "workplaces": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.35, 1.55]},
        "properties": {
            "name": "PT Contoh Sawit Lestari",
            "sector": "plantation",
            "rptka_number": "RPTKA-000/2025",
            "foreign_worker_quota": 12,
        },
    },
    "incidents": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.33, 1.62]},
        "properties": {
            "kind": "illegal_work",
            "severity": 3,
            "occurred_at": "2025-03-14T09:30:00",
            "description": "Pekerja asing tanpa izin kerja di kebun",
        },
    },
    "sightings": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [109.31, 1.37]},
        "properties": {
            "observed_at": "2025-03-14T08:00:00+07:00",
            "source": "patrol",
            "reported_by": "Tim Patroli 1",
            "external_ref": "patroli-2025-03-14-001",
        },
    },
    "zones": {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[109.30, 1.50], [109.40, 1.50], [109.40, 1.60], [109.30, 1.60], [109.30, 1.50]]
            ],
        },
        "properties": {"name": "Zona pantau contoh", "kind": "watch", "active": True},
    },
}
