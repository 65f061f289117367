"""Exports as the faces ask for them: raw filter values in, the file and one audit row out.

``GET /api/v1/{layer}/export`` and ``timpora export`` both call :func:`export_request`, so the
same option gives the same check, the same file and the same audit row whichever face asked.
(Imports need no wrapper: both faces call :func:`geo.io.import_file`, which audits.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.io.exporter import EXPORT_FORMATS, ExportResult, export_layer
from geo.registry import get_layer, parse_filters
from geo.users import Principal

# Keyword arguments of geo.registry.parse_filters, as a query string or CLI options give them.
RawFilters = Mapping[str, Any]


def check_export_format(fmt: str) -> str:
    """The format in lower case; an unknown one is a ValidationError naming it."""
    name = fmt.lower()
    if name not in EXPORT_FORMATS:
        raise ValidationError(
            f"format: {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}", field="format", value=fmt
        )
    return name


def export_request(
    *,
    session: Session,
    layer: str,
    fmt: str,
    principal: Principal,
    client: str | None,
    raw_filters: RawFilters | None = None,
    role: str | None = None,
    out: Path | None = None,
) -> ExportResult:
    """Export ``layer`` with the list filters given as raw values (``bbox``, ``start``, ...).

    ``role`` is whose view the file holds (default: the principal's own role); personal fields
    only for roles that may see them. The audit row names ``principal``.
    """
    name = check_export_format(fmt)
    filters = parse_filters(layer=get_layer(layer), **dict(raw_filters or {}))
    return export_layer(
        session=session,
        layer=layer,
        fmt=name,
        role=role or principal.role,
        principal=principal,
        filters=filters,
        out=out,
        client=client,
    )
