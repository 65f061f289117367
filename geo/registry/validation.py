"""A client's GeoJSON Feature checked against its layer: values the table takes, or a
ValidationError naming the property and the bad value."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
import pycountry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.agencies import SHORT_NAME
from geo.errors import ValidationError
from geo.geometry import point_from_geojson, validate_geometry
from geo.locate import check_in_area
from geo.registry.layers import Field, Layer
from geo.settings import AreaSettings
from geo.times import parse_time

MISSING: Final = object()  # a PATCH that leaves the geometry alone
MAX_SHARED_WITH: Final = 50


def _bad(name: str, message: str, value: Any) -> ValidationError:
    shown = value if isinstance(value, int | float | str) or value is None else str(value)[:100]
    if isinstance(shown, str):
        shown = shown[:100]
    return ValidationError(
        f"properties.{name}: {message}; got {value!r}"[:400],
        field=f"properties.{name}",
        value=shown,
    )


def coerce_value(spec: Field, value: Any) -> Any:
    """A client's value for ``spec`` as the database takes it; ValidationError names it."""
    name = spec.name
    if value is None:
        if spec.required:
            raise _bad(name, "is required", value)
        return None
    kind = spec.kind
    if kind in ("str", "text"):
        if not isinstance(value, str):
            raise _bad(name, "must be a string", value)
        value = value.strip()
        if "\x00" in value:
            raise _bad(name, "must not contain NUL characters", value)
        if spec.max_length is not None and len(value) > spec.max_length:
            raise _bad(name, f"must be at most {spec.max_length} characters", value[:50] + "…")
        if not value:
            if spec.required:
                raise _bad(name, "must not be empty", value)
            return None
        return value
    if kind in ("int", "ref"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(name, "must be an integer", value)
        low = spec.minimum if spec.minimum is not None else (1 if kind == "ref" else -(2**31))
        high = spec.maximum if spec.maximum is not None else 2**31 - 1
        if not low <= value <= high:
            raise _bad(name, f"must be between {low} and {high}", value)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad(name, "must be true or false", value)
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in spec.choices:
            raise _bad(name, f"must be one of {', '.join(spec.choices)}", value)
        return value
    if kind == "nationality":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
            raise _bad(name, "must be an ISO 3166-1 alpha-3 code such as MYS", value)
        code = value.strip().upper()
        if pycountry.countries.get(alpha_3=code) is None and code not in ("XXA", "XXB", "XXX"):
            raise _bad(name, "is not an ISO 3166-1 alpha-3 country code", value)
        return code
    if kind == "date":
        if not isinstance(value, str):
            raise _bad(name, "must be an ISO date (YYYY-MM-DD)", value)
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise _bad(name, "must be an ISO date (YYYY-MM-DD)", value) from None
        if not 1900 <= day.year <= 2200:
            raise _bad(name, "must be between the years 1900 and 2200", value)
        return day
    if kind == "datetime":
        if not isinstance(value, str):
            raise _bad(name, "must be an ISO 8601 datetime", value)
        return parse_time(value, field=f"properties.{name}")
    if kind == "ids":
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**31 - 1 for v in value
        ):
            raise _bad(name, "must be a list of record ids", value)
        if len(value) > 1000:
            raise _bad(name, "must list at most 1000 ids", len(value))
        return sorted(set(value))
    if kind == "agencies":
        if not isinstance(value, list) or any(
            not isinstance(v, str) or not SHORT_NAME.fullmatch(v.strip().upper()) for v in value
        ):
            raise _bad(name, "must be a list of agency short names such as ['POLRES']", value)
        if len(value) > MAX_SHARED_WITH:
            raise _bad(name, f"must list at most {MAX_SHARED_WITH} agencies", len(value))
        return sorted({v.strip().upper() for v in value})
    if kind == "json":
        if not isinstance(value, dict):
            raise _bad(name, "must be a JSON object", value)
        try:
            encoded = orjson.dumps(value)
        except TypeError:
            raise _bad(name, "must be plain JSON", value) from None
        if len(encoded) > 100_000:
            raise _bad(name, "must be at most 100 kB", len(encoded))
        return encoded.decode()
    raise AssertionError(f"unhandled field kind {kind}")  # pragma: no cover


@dataclass
class ValidFeature:
    values: dict[str, Any]
    geometry: BaseGeometry | object | None  # MISSING when a PATCH leaves it alone
    notes: list[str]
    out_of_area: bool = False


def validate_feature(
    *,
    session: Session,
    layer: Layer,
    body: Any,
    area: AreaSettings,
    partial: bool = False,
) -> ValidFeature:
    """A GeoJSON Feature (or, for PATCH, a partial one) → values for the table."""
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"body must be a GeoJSON Feature object; got {type(body).__name__}",
            field="body",
            value=str(body)[:100],
        )
    kind = body.get("type", "Feature" if partial else None)
    if kind != "Feature":
        raise ValidationError(
            f"type must be 'Feature'; got {kind!r}", field="type", value=str(kind)[:50]
        )
    props = body.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise ValidationError(
            f"properties must be an object; got {type(props).__name__}",
            field="properties",
            value=str(props)[:100],
        )
    writable = layer.writable
    values: dict[str, Any] = {}
    for name, value in props.items():
        spec = layer.by_name.get(name)
        if spec is None:
            raise ValidationError(
                f"properties.{name}: unknown property for {layer.name}; "
                f"writable properties are {', '.join(writable)}",
                field=f"properties.{name}",
                value=str(value)[:100],
            )
        if name not in writable:
            raise ValidationError(
                f"properties.{name}: is derived and read-only",
                field=f"properties.{name}",
                value=str(value)[:100],
            )
        values[name] = coerce_value(spec, value)
    if not partial:
        for spec in writable.values():
            if spec.required and values.get(spec.name) is None:
                raise ValidationError(
                    f"properties.{spec.name}: is required", field=f"properties.{spec.name}"
                )
    for name, value in values.items():
        spec = layer.by_name[name]
        if spec.kind in ("ref", "ids") and value:
            _check_references(
                session=session, spec=spec, ids=value if isinstance(value, list) else [value]
            )
        if spec.kind == "agencies":
            values[name] = _agency_ids(session=session, name=name, short_names=value or [])

    notes: list[str] = []
    geometry: BaseGeometry | object | None = MISSING
    out_of_area = False
    if "geometry" in body or not partial:
        raw = body.get("geometry")
        if raw is None:
            if layer.geometry_required:
                raise ValidationError(
                    f"geometry: a {layer.geometry_types[0]} is required for {layer.name}",
                    field="geometry",
                )
            geometry = None
        else:
            if layer.geometry_types == ("Point",):
                geom: BaseGeometry = point_from_geojson(raw)
            else:
                geom, note = validate_geometry(raw, allowed_types=layer.geometry_types)
                if note:
                    notes.append(f"geometry {note}")
            probe = geom if geom.geom_type == "Point" else geom.representative_point()
            out_of_area = check_in_area(
                session=session,
                lon=probe.x,
                lat=probe.y,
                area=area,
                allow_out_of_area=layer.name == "sightings" and area.allow_out_of_area_sightings,
            )
            if out_of_area:
                notes.append("point is outside the area of interest; stored with out_of_area=true")
            geometry = geom
    return ValidFeature(values, geometry, notes, out_of_area)


def _agency_ids(*, session: Session, name: str, short_names: list[str]) -> list[int]:
    """Active agencies' ids for their short names; ValidationError names an unknown one."""
    if not short_names:
        return []
    rows = session.execute(
        text("SELECT short_name, id FROM agency WHERE short_name = ANY(:names) AND active"),
        {"names": short_names},
    )
    found = {str(short): int(agency_id) for short, agency_id in rows}
    missing = [n for n in short_names if n not in found]
    if missing:
        raise _bad(name, "names no active agency (GET /api/v1/agencies)", missing[0])
    return sorted(int(found[n]) for n in short_names)


def _check_references(*, session: Session, spec: Field, ids: list[int]) -> None:
    assert spec.references is not None
    found = set(
        session.execute(
            text(f"SELECT id FROM {spec.references} WHERE id = ANY(:ids)"), {"ids": ids}
        ).scalars()
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(
            f"properties.{spec.name}: no {spec.references} with id {missing[0]}",
            field=f"properties.{spec.name}",
            value=missing[0],
        )
