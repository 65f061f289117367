"""The OpenAPI document states every status a route can answer, with one error body schema.

Errors leave through ``api/errors.py`` with one shape (``Problem``), not FastAPI's default
``HTTPValidationError``; clients and fuzzers (``tests/hardening/test_fuzz.py``) rely on the
document saying so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field


class Problem(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="What went wrong, for the person who sent the request.")
    type: str | None = Field(default=None, description="The error class, e.g. ValidationError.")
    field: str | None = Field(default=None, description="The field that held the bad value.")
    value: Any = Field(default=None, description="The bad value (never a secret).")
    errors: Any = Field(default=None, description="Per-item problems (validation, imports).")
    constraint: str | None = Field(default=None, description="The database rule broken.")


ERROR_DESCRIPTIONS = {
    "400": "Malformed request body (not valid JSON or form data)",
    "401": "Missing, invalid or revoked bearer token",
    "403": "The token's role may not do this",
    "404": "No such record, or not visible to this role",
    "409": "Conflicts with existing data (duplicate key, wrong state)",
    "413": "Request body larger than the limit",
    "422": "A value is invalid; `field` and `value` say which",
    "429": "Too many requests for this token; see Retry-After",
    "503": "The database is unavailable; see Retry-After",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
PUBLIC_PATHS = {"/healthz"}


def _problem_response(code: str) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses each operation can give (in place); returns ``spec``."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in WRITE_METHODS | {"get", "head"}:
                continue
            codes = {"422", "503"}
            if path not in PUBLIC_PATHS:
                codes |= {"401", "403", "429"}
            if "{" in path:
                codes.add("404")
            if method in WRITE_METHODS:
                codes |= {"409", "404"}
            if "requestBody" in op:
                codes |= {"400", "413"}
            responses = op.setdefault("responses", {})
            for code in sorted(codes | {c for c in responses if c in ERROR_DESCRIPTIONS}):
                # Every error leaves api/errors.py as application/json Problem (never FastAPI's
                # HTTPValidationError, never the route's own media type); keep a route's wording.
                declared = responses.get(code, {})
                if "text/plain" in declared.get("content", {}):
                    continue  # a protocol's own plain-text answer (Traccar's /osmand)
                entry = _problem_response(code)
                if code != "422" and declared.get("description"):
                    entry["description"] = declared["description"]
                responses[code] = entry
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return spec


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            app.openapi_schema = document_errors(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
