"""Registry features as GeoJSON text built in PostgreSQL, and a page of them as bytes.

Each Feature is concatenated text made by ``ST_AsGeoJSON`` and one JSON expression per visible
property, so a page of 1,000 features is joined into one byte string without a Python object per
property. Which properties a role sees is decided here (``geo.access``, docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

import orjson

from geo.access import PERSON_RECORDS, PERSONAL_COLUMNS, PERSONAL_FIELDS, sees_personal_data
from geo.models import Base
from geo.registry.layers import Field, Layer
from geo.times import WIB_OFFSET, WIB_OFFSET_SQL

GEOJSON_DECIMALS: Final = 7  # ~1 cm at the equator


def visible_fields(
    layer: Layer, role: str, properties: tuple[str, ...] | None = None
) -> list[Field]:
    """The layer's fields as ``role`` may see them: personal ones only with PERSONAL_DATA; for
    the others, a personal field with an aggregate form (a suppressed count) is read as that,
    so the SQL never touches what the role's database role may not read (docs/privacy.md).
    ``properties`` keeps only those (the OGC API's property selection), in the layer's order."""
    if properties is not None:
        wanted = set(properties)
        return [f for f in visible_fields(layer, role) if f.name in wanted]
    if sees_personal_data(role):
        return list(layer.fields)
    hidden = set(PERSONAL_FIELDS.get(layer.record, ()))
    return [
        replace(f, sql=f.aggregate_sql) if f.name in hidden else f
        for f in layer.fields
        if f.name not in hidden or f.aggregate_sql is not None
    ]


def row_columns(layer: Layer, role: str) -> str:
    """The columns of a row that ``role``'s database role may read (``*`` for all). Records of
    persons are never listed for roles without personal data (the routes refuse them)."""
    if sees_personal_data(role) or layer.record in PERSON_RECORDS:
        return "*"
    hidden = set(PERSONAL_COLUMNS.get(layer.table, ()))
    names = [c.name for c in Base.metadata.tables[layer.table].columns if c.name not in hidden]
    return ", ".join(f"t.{name}" for name in names)


def carries_personal_data(layer: Layer, role: str) -> bool:
    """Whether a response of ``layer`` to ``role`` names persons (an audited read); a count with
    an aggregate form (workers of a workplace) is not a person's data."""
    if not sees_personal_data(role):
        return False
    counts = {f.name for f in layer.fields if f.aggregate_sql is not None}
    personal = set(PERSONAL_FIELDS.get(layer.record, ())) - counts
    return bool(personal) and any(f.name in personal for f in visible_fields(layer, role))


def property_sql(spec: Field) -> str:
    """A SQL expression giving one property's JSON text (``null`` when SQL NULL)."""
    expr = spec.read_sql()
    if spec.kind == "datetime":
        # Shown in WIB with its offset (docs/architecture.md): to_json's ISO text of the local
        # time, its closing quote replaced by the offset (no JSON parse per value, as ``#>>`` does).
        local = f"({expr}) {WIB_OFFSET_SQL}"
        value = f"""rtrim(to_json({local})::text, '"') || '{WIB_OFFSET}"'"""
    elif spec.kind in ("int", "ref", "bool") and spec.sql is None:
        value = f"({expr})::text"  # integer and boolean columns print as JSON
    elif spec.kind in ("ids", "json"):
        value = f"({expr})::text"  # already json / jsonb
    else:
        value = f"to_json({expr})::text"  # strings escaped; numerics (NaN quoted), dates
    return f"coalesce({value}, 'null')"


def feature_sql(
    layer: Layer, fields: list[Field], *, alias: str = "t", geometry: str | None = None
) -> str:
    """A SQL expression giving one GeoJSON Feature as text.

    The Feature is concatenated text: ``ST_AsGeoJSON`` output goes in as it is (a cast to
    ``json`` would parse it again: about a sixth of a 1,000-feature page), and so does each
    property's JSON text: ``json_build_object`` looks up every argument's type and output
    function on every row, ~10 % of a page more than casting integer and boolean columns to
    text and escaping strings with ``to_json``. Keys are field names from code (nothing to
    escape). A feature without geometry gets ``"geometry": null``. ``geometry`` replaces the
    default ``ST_AsGeoJSON`` of the stored (lon, lat) point by another output CRS
    (``geo.ogc.crs``).
    """
    geometry = geometry or f"ST_AsGeoJSON({alias}.geom, {GEOJSON_DECIMALS})"
    props = " || ', ' || ".join(f"""'"{f.name}": ' || {property_sql(f)}""" for f in fields)
    return (
        f"""('{{"type": "Feature", "id": ' || {alias}.id || ', "geometry": ' """
        f"|| coalesce({geometry}, 'null') "
        f"""|| ', "properties": {{' || {props or "''"} || '}}}}')"""
    )


@dataclass
class FeaturePage:
    """One page of features as GeoJSON text, and what the links need.

    ``features`` holds one Feature text per row; a page built by :func:`list_features` instead
    carries them already joined by PostgreSQL (``joined``, ``returned`` of them), so a page of
    1,000 features crosses the driver as one value.
    """

    features: list[str]
    limit: int
    offset: int
    has_more: bool
    number_matched: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    joined: str | None = None
    returned: int | None = None
    last_id: int | None = None  # primary key of the last feature: the keyset ``after`` of next

    @property
    def number_returned(self) -> int:
        return self.returned if self.returned is not None else len(self.features)

    def to_bytes(self, *, links: list[dict[str, str]] | None = None) -> bytes:
        """The page as a GeoJSON FeatureCollection (bytes, ready to send)."""
        head: dict[str, Any] = {"type": "FeatureCollection"}
        tail: dict[str, Any] = {"numberReturned": self.number_returned}
        if self.number_matched is not None:
            tail["numberMatched"] = self.number_matched
        tail.update(self.extra)
        tail["links"] = links or []
        return b"".join(
            (
                orjson.dumps(head)[:-1],
                b',"features":[',
                (self.joined if self.joined is not None else ",".join(self.features)).encode(),
                b"],",
                orjson.dumps(tail)[1:],
            )
        )
