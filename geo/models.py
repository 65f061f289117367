"""The domain schema (docs/architecture.md) as SQLAlchemy 2.0 / GeoAlchemy2 models.

Geometries are stored in EPSG:4326. Every table that is measured in metres also has a stored
generated column ``geom_utm`` (EPSG:32649) with its own GiST index, so metric predicates
(``ST_DWithin`` in metres, buffers, areas, hex grids) run against an index in the CRS they use.
The migrations in ``geo/migrations`` are the source of truth for the database; these classes
mirror them for the ORM paths (CRUD, tests).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

SRID = 4326
METRIC_SRID = 32649

# Enumerations are check constraints (not PG enums) so that adding a value is a one-line
# migration without ALTER TYPE locks.
ADMIN_LEVELS = ("kabupaten", "kecamatan", "desa")
REFERENCE_KINDS = (
    "border",
    "coastline",
    "land",
    "crossing_post",
    "town",
    "office",
    "landmark",
    "border_marker",
    "label_point",
)
SECTORS = (
    "plantation",
    "mining",
    "construction",
    "fishing",
    "trade",
    "hospitality",
    "education_religious",
    "ngo",
    "other",
)
PERMIT_TYPES = ("KITAS", "KITAP", "VISA_KUNJUNGAN", "VOA", "PLB", "OTHER")
SEXES = ("M", "F", "X")
FOREIGNER_STATUSES = ("active", "departed", "deported", "absconded", "deceased")
# Written only with an inspection's findings (geo/inspections.py), never by the field form.
INSPECTION_SOURCE = "inspection"
SIGHTING_SOURCES = ("patrol", "lodging", "checkpoint", "public_report", "other", INSPECTION_SOURCE)
INCIDENT_KINDS = (
    "overstay",
    "illegal_work",
    "illegal_entry",
    "permit_misuse",
    "document_fraud",
    "smuggling",
    "human_trafficking",
    "social_unrest",
    "other",
)
INCIDENT_STATUSES = ("open", "investigating", "closed")
ZONE_KINDS = ("border_band", "watch", "restricted", "plb_area", "patrol_sector")
RULE_KINDS = (
    "incident_near_workplace",
    "sighting_near_border",
    "sighting_in_zone",
    "expired_permit_sighting",
    "plb_outside_area",
    "far_from_sponsor",
    "incident_cluster",
    "permit_expiring",
)
ALERT_STATUSES = ("new", "acknowledged", "resolved", "lapsed")
OPEN_ALERT_STATUSES = ("new", "acknowledged")
ALERT_NOTE_ACTIONS = (
    "note",
    "assign",
    "unassign",
    "acknowledge",
    "resolve",
    "reopen",
    "lapse",
)
ROLES = ("admin", "analyst", "coordinator", "planner", "viewer")
AGENCY_KINDS = (
    "immigration",
    "police",
    "military",
    "prosecutor",
    "intelligence",
    "kesbangpol",
    "manpower",
    "civil_registry",
    "public_order",
    "customs",
    "other",
)
BORDER_SIDES = ("ID", "MY")
# Whom a record is shared with (docs/privacy.md): the whole Timpora, named agencies, or the
# reporting agency only; in widening order from the last.
SHARING_LEVELS = ("timpora", "agencies", "agency")


def in_list(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def coords_check(column: str = "geom") -> str:
    """Finite, in-range coordinates of a Point column (the typmod enforces SRID and type).

    ``ST_X``/``ST_Y`` of the point itself: a centroid per row cost ~1.5 s a million rows written
    (migration 0012)."""
    return (
        f"{column} IS NULL OR (ST_X({column}) BETWEEN -180 AND 180 "
        f"AND ST_Y({column}) BETWEEN -90 AND 90)"
    )


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB}


def utm_column(src: str = "geom", geometry_type: str = "POINT") -> Any:
    return mapped_column(
        Geometry(geometry_type, srid=METRIC_SRID, spatial_index=False),
        Computed(f"ST_Transform({src}, {METRIC_SRID})", persisted=True),
        nullable=True,
    )


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Shared:
    """The reporting agency and the sharing level of a record (migration 0027; row-level
    security in the database, docs/privacy.md). ``agency_id`` defaults to the agency of the
    writing request; the sharing is only ever widened (a trigger refuses the rest)."""

    agency_id: Mapped[int | None] = mapped_column(
        Integer, server_default=text("timpora_request_agency()")
    )
    sharing: Mapped[str] = mapped_column(String(8), server_default="timpora", nullable=False)
    shared_with: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default="{}", nullable=False
    )


class Located:
    """A point with the location fields derived on write (filled on write: docs/architecture.md)."""

    # ``sighting`` has no index on kecamatan_code: no query needs it (migration 0017,
    # docs/performance/indexes.md).
    kecamatan_index: bool = True

    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=False
    )
    geom_utm: Mapped[WKBElement | None] = utm_column()
    kecamatan_code: Mapped[str | None] = mapped_column(String(16))
    kecamatan_name: Mapped[str | None] = mapped_column(String(100))
    desa_code: Mapped[str | None] = mapped_column(String(20))
    desa_name: Mapped[str | None] = mapped_column(String(100))
    distance_to_border_m: Mapped[float | None] = mapped_column(Double)
    border_side: Mapped[str | None] = mapped_column(String(2))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{name}_geom", "geom", postgresql_using="gist"),
            Index(f"ix_{name}_geom_utm", "geom_utm", postgresql_using="gist"),
            *(
                (Index(f"ix_{name}_kecamatan_code", "kecamatan_code"),)
                if cls.kecamatan_index
                else ()
            ),
            CheckConstraint(coords_check(), name="geom_range"),
            CheckConstraint(
                "border_side IS NULL OR " + in_list("border_side", BORDER_SIDES),
                name="border_side",
            ),
            *cls._extra_table_args(),  # type: ignore[attr-defined]
        )


class AdminArea(Base):
    __tablename__ = "admin_area"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    level: Mapped[str] = mapped_column(String(12), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(String(20))
    area_km2: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )
    geom_utm: Mapped[WKBElement | None] = utm_column(geometry_type="MULTIPOLYGON")
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(in_list("level", ADMIN_LEVELS), name="level"),
        Index("ix_admin_area_geom", "geom", postgresql_using="gist"),
        Index("ix_admin_area_geom_utm", "geom_utm", postgresql_using="gist"),
        Index("ix_admin_area_level", "level"),
    )


class ReferenceFeature(Base):
    __tablename__ = "reference_feature"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    country: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("GEOMETRY", srid=SRID, spatial_index=False), nullable=False
    )
    geom_utm: Mapped[WKBElement | None] = utm_column(geometry_type="GEOMETRY")

    __table_args__ = (
        CheckConstraint(in_list("kind", REFERENCE_KINDS), name="kind"),
        UniqueConstraint("kind", "name"),
        Index("ix_reference_feature_geom", "geom", postgresql_using="gist"),
        Index("ix_reference_feature_geom_utm", "geom_utm", postgresql_using="gist"),
    )


class Workplace(Located, Timestamps, Base):
    __tablename__ = "workplace"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    sector: Mapped[str] = mapped_column(String(24), nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    rptka_number: Mapped[str | None] = mapped_column(String(64))
    foreign_worker_quota: Mapped[int | None] = mapped_column(Integer)
    footprint: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)

    @classmethod
    def _extra_table_args(cls) -> tuple[Any, ...]:
        return (
            CheckConstraint(in_list("sector", SECTORS), name="sector"),
            CheckConstraint(
                "foreign_worker_quota IS NULL OR foreign_worker_quota >= 0", name="quota"
            ),
        )


class Foreigner(Timestamps, Base):
    """A registered foreign national. ``geom`` is the residence (optional)."""

    __tablename__ = "foreigner"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    nationality: Mapped[str] = mapped_column(String(3), nullable=False)
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    passport_number: Mapped[str | None] = mapped_column(String(32))
    permit_type: Mapped[str] = mapped_column(String(16), nullable=False)
    permit_number: Mapped[str | None] = mapped_column(String(64))
    permit_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    sponsor_workplace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workplace.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(12), server_default="active", nullable=False)
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    geom_utm: Mapped[WKBElement | None] = utm_column()
    kecamatan_code: Mapped[str | None] = mapped_column(String(16))
    kecamatan_name: Mapped[str | None] = mapped_column(String(100))
    desa_code: Mapped[str | None] = mapped_column(String(20))
    desa_name: Mapped[str | None] = mapped_column(String(100))
    distance_to_border_m: Mapped[float | None] = mapped_column(Double)
    border_side: Mapped[str | None] = mapped_column(String(2))

    __table_args__ = (
        CheckConstraint("nationality ~ '^[A-Z]{3}$'", name="nationality"),
        CheckConstraint("sex IS NULL OR " + in_list("sex", SEXES), name="sex"),
        CheckConstraint(in_list("permit_type", PERMIT_TYPES), name="permit_type"),
        CheckConstraint(in_list("status", FOREIGNER_STATUSES), name="status"),
        CheckConstraint(coords_check(), name="geom_range"),
        CheckConstraint(
            "border_side IS NULL OR " + in_list("border_side", BORDER_SIDES), name="border_side"
        ),
        Index("ix_foreigner_geom", "geom", postgresql_using="gist"),
        Index("ix_foreigner_geom_utm", "geom_utm", postgresql_using="gist"),
        Index("ix_foreigner_permit_expires_on", "permit_expires_on"),
        Index("ix_foreigner_sponsor_workplace_id", "sponsor_workplace_id"),
        Index("ix_foreigner_kecamatan_code", "kecamatan_code"),
    )


class Sighting(Shared, Located, Base):
    """A time-stamped position report; the high-volume table.

    Partition-ready: the primary key and the idempotency key both include ``observed_at``, the
    partition key, and no foreign key points *at* this table (alerts keep the id as a value).
    """

    __tablename__ = "sighting"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    observed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, nullable=False
    )
    foreigner_id: Mapped[int | None] = mapped_column(
        ForeignKey("foreigner.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    reported_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    out_of_area: Mapped[bool] = mapped_column(Boolean, server_default="false", nullable=False)
    # An identifier: bytewise comparison (migration 0012; its key builds twice as fast).
    external_ref: Mapped[str | None] = mapped_column(String(100, collation="C"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    kecamatan_index = False

    @classmethod
    def _extra_table_args(cls) -> tuple[Any, ...]:
        return (
            CheckConstraint(in_list("source", SIGHTING_SOURCES), name="source"),
            UniqueConstraint("external_ref", "observed_at"),
            Index("ix_sighting_observed_at", "observed_at"),
            Index("ix_sighting_foreigner_id_observed_at", "foreigner_id", "observed_at"),
        )


incident_foreigner = Table(
    "incident_foreigner",
    Base.metadata,
    Column("incident_id", ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True),
    Column("foreigner_id", ForeignKey("foreigner.id", ondelete="CASCADE"), primary_key=True),
)


class Incident(Shared, Located, Timestamps, Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    severity: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), server_default="open", nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    workplace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workplace.id", ondelete="SET NULL")
    )
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)

    @classmethod
    def _extra_table_args(cls) -> tuple[Any, ...]:
        return (
            CheckConstraint(in_list("kind", INCIDENT_KINDS), name="kind"),
            CheckConstraint("severity BETWEEN 1 AND 5", name="severity"),
            CheckConstraint(in_list("status", INCIDENT_STATUSES), name="status"),
            Index("ix_incident_occurred_at", "occurred_at"),
        )


class Zone(Timestamps, Base):
    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true", nullable=False)
    derived: Mapped[bool] = mapped_column(Boolean, server_default="false", nullable=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )
    geom_utm: Mapped[WKBElement | None] = utm_column(geometry_type="MULTIPOLYGON")

    __table_args__ = (
        CheckConstraint(in_list("kind", ZONE_KINDS), name="kind"),
        Index("ix_zone_geom", "geom", postgresql_using="gist"),
        Index("ix_zone_geom_utm", "geom_utm", postgresql_using="gist"),
    )


class AlertRule(Base):
    __tablename__ = "alert_rule"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)
    severity: Mapped[int] = mapped_column(SmallInteger, server_default="3", nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true", nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(in_list("kind", RULE_KINDS), name="kind"),
        CheckConstraint("severity BETWEEN 1 AND 5", name="severity"),
    )


class Alert(Base):
    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rule.id"), nullable=False)
    rule_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    severity: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), server_default="new", nullable=False)
    dedup_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    # Subjects as plain values: sighting is partitioned later and cannot be a FK target.
    incident_id: Mapped[int | None] = mapped_column(Integer)
    sighting_id: Mapped[int | None] = mapped_column(BigInteger)
    foreigner_id: Mapped[int | None] = mapped_column(Integer)
    workplace_id: Mapped[int | None] = mapped_column(Integer)
    zone_id: Mapped[int | None] = mapped_column(Integer)
    subjects: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)
    distance_m: Mapped[float | None] = mapped_column(Double)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    kecamatan_code: Mapped[str | None] = mapped_column(String(16))
    kecamatan_name: Mapped[str | None] = mapped_column(String(100))
    desa_code: Mapped[str | None] = mapped_column(String(20))
    desa_name: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)
    event_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    ack_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolve_note: Mapped[str | None] = mapped_column(Text)
    # Episode (migration 0016): repeated triggers of the rule for the subject update the open row.
    episode_key: Mapped[str] = mapped_column(Text, nullable=False)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    occurrences: Mapped[int] = mapped_column(Integer, server_default="1", nullable=False)
    worst_distance_m: Mapped[float | None] = mapped_column(Double)
    last_sighting_id: Mapped[int | None] = mapped_column(BigInteger)
    # Triage.
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    assigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(in_list("status", ALERT_STATUSES), name="status"),
        CheckConstraint("severity BETWEEN 1 AND 5", name="severity"),
        CheckConstraint("occurrences >= 1", name="occurrences"),
        Index("ix_alert_geom", "geom", postgresql_using="spgist"),  # migration 0013
        Index("ix_alert_status_created_at", "status", "created_at"),
        Index("ix_alert_rule_kind", "rule_kind"),
        Index(
            "ux_alert_open_episode",
            "episode_key",
            unique=True,
            postgresql_where=text("status IN ('new', 'acknowledged')"),
        ),
        Index(  # migration 0019
            "ix_alert_episode_latest", "episode_key", text("last_seen_at DESC"), text("id DESC")
        ),
        Index(
            "ix_alert_open_queue",
            "severity",
            text("last_seen_at DESC"),
            postgresql_where=text("status IN ('new', 'acknowledged')"),
        ),
    )


class AlertNote(Base):
    """One dated triage entry on an alert: a note, an assignment or a status change."""

    __tablename__ = "alert_note"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), nullable=False
    )
    author: Mapped[str] = mapped_column(String(100), nullable=False)
    agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agency.id"), server_default=text("timpora_request_agency()")
    )
    action: Mapped[str] = mapped_column(String(16), server_default="note", nullable=False)
    body: Mapped[str] = mapped_column(Text, server_default="", nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(in_list("action", ALERT_NOTE_ACTIONS), name="action"),
        Index("ix_alert_note_alert_id", "alert_id", "created_at"),
    )


class Agency(Timestamps, Base):
    """A member agency of the Timpora (immigration office, Polres, Kodim, ...).

    ``personal_data``: whether the agency's function needs the foreigners' personal data
    (docs/privacy.md). Agencies are never deleted; one that leaves the team is deactivated.
    """

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    short_name: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    personal_data: Mapped[bool] = mapped_column(Boolean, server_default="false", nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true", nullable=False)

    __table_args__ = (
        CheckConstraint(in_list("kind", AGENCY_KINDS), name="kind"),
        CheckConstraint("length(btrim(name)) > 0", name="name"),
        CheckConstraint("short_name ~ '^[A-Z0-9][A-Z0-9_-]*$'", name="short_name"),
    )


class AppUser(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role"),)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    user_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agency.id"), server_default=text("timpora_request_agency()")
    )
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    resource: Mapped[str] = mapped_column(String(200), nullable=False)
    record_count: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    client: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index(
            "ix_audit_log_imports",
            "resource",
            postgresql_include=["record_count"],
            postgresql_where=text("action = 'import'"),
        ),
    )


# --- hotspots and patrol ---


class PatrolLog(Shared, Base):
    """Where and when a patrol went (a point and the radius it watched)."""

    __tablename__ = "patrol_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    patrolled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    team: Mapped[str | None] = mapped_column(String(100))
    radius_m: Mapped[float] = mapped_column(Double, server_default="1000", nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=False
    )
    geom_utm: Mapped[WKBElement | None] = utm_column()
    agency: Mapped[Agency | None] = relationship(
        primaryjoin="foreign(PatrolLog.agency_id) == Agency.id", lazy="joined", viewonly=True
    )

    __table_args__ = (
        CheckConstraint("radius_m > 0 AND radius_m <= 50000", name="radius_m"),
        CheckConstraint("ended_at IS NULL OR ended_at >= patrolled_at", name="ended_at"),
        CheckConstraint(coords_check(), name="geom_range"),
        Index("ix_patrol_log_geom", "geom", postgresql_using="gist"),
        Index("ix_patrol_log_geom_utm", "geom_utm", postgresql_using="gist"),
        Index("ix_patrol_log_patrolled_at", "patrolled_at"),
    )


# --- alerts ---

OUTBOX_STATUSES = ("pending", "delivered", "failed")


class Webhook(Base):
    """A registered receiver of alerts: JSON POSTs signed with HMAC-SHA256 over the body."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true", nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("url ~ '^https?://'", name="webhook_url_check"),
        CheckConstraint("length(secret) >= 16", name="webhook_secret_check"),
    )


class AlertOutbox(Base):
    """One pending/delivered webhook delivery (alert × webhook), written by a trigger."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), nullable=False
    )
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, server_default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(in_list("status", OUTBOX_STATUSES), name="status"),
        UniqueConstraint("alert_id", "webhook_id"),
    )
