"""Domain errors → HTTP status codes, in one table (tipg/titiler style).

Clients get a message they can act on; operators get the detail in the log. No response carries
SQL, a DSN or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, PendingRollbackError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.responses import JSON
from geo import errors

log = logging.getLogger("timpora.api")

STATUS_CODES: dict[type[errors.TimporaError], int] = {
    errors.ValidationError: 422,
    errors.QueryError: 400,
    errors.GeometryError: 422,
    errors.OutOfAreaError: 422,
    errors.ImportRejectedError: 422,
    errors.TooLargeError: 413,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.PermissionDeniedError: 403,
    errors.AuthenticationError: 401,
    errors.RateLimitedError: 429,
    errors.DatabaseUnavailableError: 503,
    errors.ConfigurationError: 500,
    errors.ClusterError: 503,
    errors.AnalysisTimeoutError: 503,
}

RETRY_AFTER_S = 2


def status_for(exc: errors.TimporaError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def error_body(exc: errors.TimporaError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": exc.message, "type": type(exc).__name__}
    if isinstance(exc, errors.ValidationError):
        if exc.field is not None:
            body["field"] = exc.field
        if exc.value is not None:
            body["value"] = _echo(exc.value)
    if exc.details is not None:
        body["errors"] = exc.details
    return body


async def timpora_error_handler(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, errors.TimporaError)
    code = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if code == 503:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    if isinstance(exc, errors.AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if code >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return JSON(error_body(exc), status_code=code, headers=headers)


async def integrity_error_handler(request: Request, exc: Exception) -> JSON:
    # The constraint name tells the client which rule was broken; the SQL stays in the log.
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    pgcode = getattr(orig, "pgcode", None)
    log.info("integrity error on %s: %s", request.url.path, orig)
    if pgcode == "23505":
        return JSON(
            {"detail": "a record with the same key already exists", "constraint": constraint},
            status_code=409,
        )
    if pgcode == "23503":
        return JSON(
            {"detail": "a referenced record does not exist", "constraint": constraint},
            status_code=422,
        )
    return JSON(
        {"detail": "the values break a rule of the data model", "constraint": constraint},
        status_code=422,
    )


async def database_error_handler(request: Request, exc: Exception) -> JSON:
    if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
        log.warning("database unavailable on %s: %s", request.url.path, getattr(exc, "orig", exc))
        return JSON(
            {"detail": "the database is unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    pgcode = getattr(getattr(exc, "orig", None), "pgcode", None) or ""
    log.error("database error on %s: %s", request.url.path, getattr(exc, "orig", exc))
    if pgcode.startswith("22"):  # data exception: bad value that got past validation
        return JSON({"detail": "a value is out of range or malformed"}, status_code=422)
    if pgcode == "57014":  # statement timeout
        return JSON({"detail": "the query took too long; narrow the filters"}, status_code=503)
    return JSON({"detail": "internal database error"}, status_code=500)


def _echo(value: Any) -> Any:
    """A bad value as it can be echoed in JSON: huge integers and odd types as text, cut short."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, list | tuple) and len(value) <= 10:
        return [_echo(v) for v in value]
    return str(value)[:200]


async def request_validation_handler(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        item: dict[str, Any] = {"field": ".".join(loc), "message": err.get("msg")}
        if "input" in err and not isinstance(err["input"], dict | list):
            item["value"] = _echo(err["input"])
        problems.append(item)
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}"
    if "value" in first:
        detail += f" (got {first['value']!r})"
    return JSON({"detail": detail, "errors": problems}, status_code=422)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names one route's only)."""
    methods: set[str] = set()
    probe = {**request.scope, "method": "\x00"}
    for route in request.app.router.routes:
        match, _ = route.matches(probe)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def http_exception_handler(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSON({"detail": exc.detail}, status_code=exc.status_code, headers=headers or None)


async def lost_transaction_handler(request: Request, exc: Exception) -> JSON:
    # Raised when code touches a session whose connection died earlier in the request (the
    # first error was a lost connection): the same outage, so the same answer.
    log.warning("database connection lost during %s: %s", request.url.path, type(exc).__name__)
    return JSON(
        {"detail": "the database is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.TimporaError, timpora_error_handler)
    app.add_exception_handler(IntegrityError, integrity_error_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(PendingRollbackError, lost_transaction_handler)
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
