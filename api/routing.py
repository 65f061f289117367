"""What the routers share: role dependencies, documented error responses, the client address and
file downloads. Routers import from here, never from each other."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from api.auth import require
from api.schemas import ProblemDetail
from geo import access
from geo.users import Principal

Reader = Annotated[Principal, Depends(require(access.READ))]
Writer = Annotated[Principal, Depends(require(access.WRITE))]
Deleter = Annotated[Principal, Depends(require(access.DELETE))]

# The error responses most routes declare (api/openapi.py completes every operation's list).
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDetail, "description": "Missing or invalid token"},
    403: {"model": ProblemDetail, "description": "The role may not do this"},
    422: {"model": ProblemDetail, "description": "A value is invalid (field and value named)"},
}


def client_address(request: Request) -> str | None:
    """The peer's address for the audit log (the proxy's, behind a reverse proxy)."""
    return request.client.host if request.client else None


def download(
    content: bytes, *, media_type: str, file_name: str, headers: dict[str, str] | None = None
) -> Response:
    """A file the browser saves rather than shows; never cached (it may hold personal data)."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file_name}"',
            "Cache-Control": "private, no-store",
            **(headers or {}),
        },
    )
