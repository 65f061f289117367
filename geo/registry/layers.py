"""What each registry layer is: its table, fields, geometry, time column and filters.

Everything here is code, never user input: table and column names below are the only
identifiers the registry's SQL is built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from geo.models import (
    FOREIGNER_STATUSES,
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    PERMIT_TYPES,
    SECTORS,
    SEXES,
    SHARING_LEVELS,
    SIGHTING_SOURCES,
    ZONE_KINDS,
)

FieldKind = Literal[
    "str",
    "text",
    "int",
    "date",
    "datetime",
    "enum",
    "bool",
    "nationality",
    "ids",
    "ref",
    "json",
    "agencies",
]


@dataclass(frozen=True)
class Field:
    """One property of a layer: how it is read, and how a client may write it."""

    name: str
    kind: FieldKind
    required: bool = False
    writable: bool = True
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    references: str | None = None  # table a ``ref`` field points at
    sql: str | None = None  # read expression (default ``t.<name>``)
    # A personal field some of which roles without personal data may see: the expression they
    # get instead (a count with small values suppressed, docs/privacy.md); None: nothing.
    aggregate_sql: str | None = None

    def read_sql(self) -> str:
        """The value's SQL expression (``sql``, else the column)."""
        return self.sql or f"t.{self.name}"


def _derived() -> tuple[Field, ...]:
    names = ("kecamatan_code", "kecamatan_name", "desa_code", "desa_name", "border_side")
    return (
        *(Field(name, "str", writable=False) for name in names),
        Field(
            "distance_to_border_m",
            "int",
            writable=False,
            # Rounded as a double: the same values as numeric rounding (all 1e6 of the large
            # demo set), printed without a trailing ".0", at a fifth of the cost per row.
            sql="round(t.distance_to_border_m * 10) / 10",
        ),
    )


def _sharing() -> tuple[Field, ...]:
    """Who made a record and whom it is shared with (docs/privacy.md, "Sharing between
    agencies"): the reporting agency (set from the writer's, never sent), the sharing level and,
    for ``agencies``, the other agencies' short names."""
    return (
        Field(
            "agency",
            "str",
            writable=False,
            # A CASE first: most rows name no agency or none besides it, and the subquery then
            # runs for nothing on each row of a page (~18 % of a 1,000-feature page's statement).
            sql="CASE WHEN t.agency_id IS NULL THEN NULL "
            "ELSE (SELECT a.short_name FROM agency a WHERE a.id = t.agency_id) END",
        ),
        Field("sharing", "enum", choices=SHARING_LEVELS),
        Field(
            "shared_with",
            "agencies",
            sql="CASE WHEN cardinality(t.shared_with) = 0 THEN '[]'::json ELSE "
            "(SELECT coalesce(json_agg(a.short_name ORDER BY a.short_name), '[]'::json) "
            "FROM agency a WHERE a.id = ANY (t.shared_with)) END",
        ),
    )


def _stamps() -> tuple[Field, ...]:
    return (
        Field("created_at", "datetime", writable=False),
        Field("updated_at", "datetime", writable=False),
    )


@dataclass(frozen=True)
class FilterColumn:
    """The column a list filter compares; ``joined`` when it belongs to the layer's join.

    ``sql_type``: the column's type when it is not text (the values arrive as text);
    ``null_value``: a filter value that matches rows where the column is NULL.
    """

    column: str
    joined: bool = False
    sql_type: str | None = None
    null_value: str | None = None


def _columns(**columns: str) -> dict[str, FilterColumn]:
    return {name: FilterColumn(column) for name, column in columns.items()}


@dataclass(frozen=True)
class Layer:
    """A registry layer (an API collection) and the table behind it."""

    name: str  # foreigners, workplaces, incidents, sightings, zones
    table: str
    record: str  # singular, the key of geo.access.PERSONAL_FIELDS
    fields: tuple[Field, ...]
    geometry_types: tuple[str, ...] = ("Point",)
    geometry_required: bool = True
    time_column: str | None = None
    filters: dict[str, FilterColumn] = field(default_factory=dict)  # filter name → column
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # filter → allowed values
    joins: str = ""  # the join a ``joined`` filter column needs (alias ``f``)
    has_updated_at: bool = True
    located: bool = True  # has the derived kecamatan/desa/border columns
    alerts_layer: str | None = None  # the name geo.alerts.evaluate_for takes

    @property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def writable(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields if f.writable}


FOREIGNERS = Layer(
    name="foreigners",
    table="foreigner",
    record="foreigner",
    fields=(
        Field("full_name", "str", required=True, max_length=200),
        Field("nationality", "nationality", required=True),
        Field("sex", "enum", choices=SEXES),
        Field("birth_date", "date"),
        Field("passport_number", "str", max_length=32),
        Field("permit_type", "enum", required=True, choices=PERMIT_TYPES),
        Field("permit_number", "str", max_length=64),
        Field("permit_expires_on", "date"),
        Field("sponsor_workplace_id", "ref", references="workplace"),
        Field("status", "enum", choices=FOREIGNER_STATUSES),
        Field("external_ref", "str", max_length=100),
        *_derived(),
        *_stamps(),
    ),
    geometry_required=False,
    time_column="created_at",
    filters=_columns(
        status="status",
        nationality="nationality",
        permit_type="permit_type",
        kecamatan="kecamatan_code",
    ),
    choices={"status": FOREIGNER_STATUSES, "permit_type": PERMIT_TYPES},
    alerts_layer="foreigners",
)

WORKPLACES = Layer(
    name="workplaces",
    table="workplace",
    record="workplace",
    fields=(
        Field("name", "str", required=True, max_length=200),
        Field("sector", "enum", required=True, choices=SECTORS),
        Field("address", "text", max_length=2000),
        Field("rptka_number", "str", max_length=64),
        Field("foreign_worker_quota", "int", minimum=0, maximum=1_000_000),
        Field("external_ref", "str", max_length=100),
        Field(
            "foreign_workers",
            "int",
            writable=False,
            sql="(SELECT count(*) FROM foreigner fw WHERE fw.sponsor_workplace_id = t.id)",
            # Through the view that leaves counts below 3 out (migration 0015): "<3" for those.
            aggregate_sql="coalesce((SELECT coalesce(to_json(w.foreign_workers), '\"<3\"'::json) "
            "FROM workplace_workers w WHERE w.workplace_id = t.id), '0'::json)",
        ),
        *_derived(),
        *_stamps(),
    ),
    time_column="created_at",
    filters=_columns(kind="sector", kecamatan="kecamatan_code"),
    choices={"kind": SECTORS},
    alerts_layer="workplaces",
)

INCIDENTS = Layer(
    name="incidents",
    table="incident",
    record="incident",
    fields=(
        Field("kind", "enum", required=True, choices=INCIDENT_KINDS),
        Field("severity", "int", required=True, minimum=1, maximum=5),
        Field("status", "enum", choices=INCIDENT_STATUSES),
        Field("occurred_at", "datetime", required=True),
        Field("description", "text", max_length=10_000),
        Field("workplace_id", "ref", references="workplace"),
        Field(
            "foreigner_ids",
            "ids",
            references="foreigner",
            sql="(SELECT coalesce(json_agg(x.foreigner_id ORDER BY x.foreigner_id), '[]'::json) "
            "FROM incident_foreigner x WHERE x.incident_id = t.id)",
        ),
        Field("external_ref", "str", max_length=100),
        *_sharing(),
        *_derived(),
        *_stamps(),
    ),
    time_column="occurred_at",
    filters=_columns(kind="kind", status="status", kecamatan="kecamatan_code"),
    choices={"kind": INCIDENT_KINDS, "status": INCIDENT_STATUSES},
    alerts_layer="incidents",
)

SIGHTINGS = Layer(
    name="sightings",
    table="sighting",
    record="sighting",
    fields=(
        Field("observed_at", "datetime", required=True),
        Field("foreigner_id", "ref", references="foreigner"),
        Field("foreigner_name", "str", writable=False, sql="f.full_name"),
        Field("source", "enum", required=True, choices=SIGHTING_SOURCES),
        Field("reported_by", "str", max_length=100),
        Field("note", "text", max_length=10_000),
        Field("external_ref", "str", max_length=100),
        Field("out_of_area", "bool", writable=False),
        *_sharing(),
        *_derived(),
        Field("created_at", "datetime", writable=False),
    ),
    time_column="observed_at",
    filters={
        **_columns(kind="source", kecamatan="kecamatan_code"),
        "nationality": FilterColumn("nationality", joined=True),
        "permit_type": FilterColumn("permit_type", joined=True),
    },
    choices={"kind": SIGHTING_SOURCES, "permit_type": PERMIT_TYPES},
    joins="LEFT JOIN foreigner f ON f.id = t.foreigner_id",
    has_updated_at=False,
    alerts_layer="sightings",
)

ZONES = Layer(
    name="zones",
    table="zone",
    record="zone",
    fields=(
        Field("name", "str", required=True, max_length=200),
        Field("kind", "enum", required=True, choices=ZONE_KINDS),
        Field("active", "bool"),
        Field("derived", "bool", writable=False),
        Field("properties", "json"),
        Field(
            "area_km2", "int", writable=False, sql="round((ST_Area(t.geom_utm) / 1e6)::numeric, 3)"
        ),
        *_stamps(),
    ),
    geometry_types=("MultiPolygon",),
    time_column="created_at",
    filters=_columns(kind="kind"),
    choices={"kind": ZONE_KINDS},
    located=False,
)

LAYERS: Final[dict[str, Layer]] = {
    layer.name: layer for layer in (FOREIGNERS, WORKPLACES, INCIDENTS, SIGHTINGS, ZONES)
}


def get_layer(name: str) -> Layer:
    from geo.errors import NotFoundError

    try:
        return LAYERS[name]
    except KeyError:
        raise NotFoundError(
            f"no layer {name!r}; layers are {', '.join(LAYERS)}", details={"layer": name}
        ) from None
