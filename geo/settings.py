"""Settings, one small class per concern, all read from ``TIMPORA_*`` variables or ``.env``.

Nothing here is read at import time: callers build ``Settings()`` (or pass explicit values),
so tests construct the objects they need instead of patching the environment.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from geo.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_COMMON = SettingsConfigDict(
    env_prefix="TIMPORA_",
    env_file=".env",
    env_file_encoding="utf-8",
    extra="ignore",
)

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", ""}


class DatabaseSettings(BaseSettings):
    """Where the database is: an external server (``TIMPORA_DATABASE_URL``) or the embedded one.

    Two connections (docs/privacy.md): the service's (``TIMPORA_DATABASE_URL``, a login that is
    no superuser and owns nothing) and the owner's (``TIMPORA_DATABASE_OWNER_URL``), which runs
    migrations and maintenance commands. The embedded cluster makes both.
    """

    model_config = _COMMON

    database_url: SecretStr | None = Field(
        default=None,
        description="URL the service connects with (an existing PostGIS database); unset: the "
        "embedded cluster.",
    )
    database_owner_url: SecretStr | None = Field(
        default=None,
        description="URL of the schema's owner, for migrations and maintenance commands; unset: "
        "TIMPORA_DATABASE_URL (or the embedded cluster's superuser).",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data",
        description="Where the embedded cluster keeps its files (cluster in DATA_DIR/pg).",
    )
    db_port: int = Field(default=54329, ge=1024, le=65535, description="Preferred embedded port.")
    pool_size: int = Field(default=10, ge=1, le=200)
    connect_timeout_s: int = Field(default=5, ge=1, le=120)
    startup_wait_s: float = Field(
        default=30.0, ge=0, le=600, description="How long start-up retries an unreachable database."
    )
    statement_timeout_ms: int = Field(
        default=30_000, ge=0, description="Statement timeout of API requests (ms); 0: none."
    )
    maintenance_statement_timeout_ms: int = Field(
        default=0,
        ge=0,
        description="Statement timeout of CLI and maintenance sessions (demo seed, import, "
        "partitions, backup/restore, batch alerts, boundaries) in ms; 0: none.",
    )

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @model_validator(mode="after")
    def _owner_needs_service(self) -> DatabaseSettings:
        if self.database_owner_url is not None and self.database_url is None:
            raise ValueError(
                "TIMPORA_DATABASE_OWNER_URL is set without TIMPORA_DATABASE_URL (the service's "
                "own connection); set both, or neither for the embedded cluster"
            )
        return self

    @cached_property
    def cluster_dir(self) -> Path:
        return self.data_dir.resolve() / "pg"


class AreaSettings(BaseSettings):
    """The area of interest: the regency extent plus a margin."""

    model_config = _COMMON

    aoi_margin_m: float = Field(default=10_000.0, ge=0, le=200_000)
    allow_out_of_area_sightings: bool = False
    reference_data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data",
        description="Folder with the reference layers (sambas-admin/, border-osm/, places/).",
    )
    plb_kecamatan: list[str] = Field(
        default_factory=lambda: ["Paloh", "Sajingan Besar"],
        description="Kecamatan that make up the PLB (border crossing pass) area zone.",
    )
    office_lon: float | None = None
    office_lat: float | None = None

    @model_validator(mode="after")
    def _office_pair(self) -> AreaSettings:
        if (self.office_lon is None) != (self.office_lat is None):
            raise ValueError("TIMPORA_OFFICE_LON and TIMPORA_OFFICE_LAT must be set together")
        return self


class ImportSettings(BaseSettings):
    """Imports over HTTP: background jobs and the caps on their work (docs/import-export.md)."""

    model_config = _COMMON

    import_max_upload_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Largest file an import accepts."
    )
    import_max_uncompressed_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024,
        description="XLSX and zipped Shapefiles: largest sum of the archive's member sizes.",
    )
    import_max_rows: int = Field(
        default=2_000_000, ge=1, description="Most rows one imported file may hold."
    )
    import_workers: int = Field(
        default=1, ge=1, le=8, description="Import jobs run at once (a worker process each)."
    )
    import_max_jobs: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Jobs kept in memory (finished ones are forgotten oldest first); also the "
        "most that may wait.",
    )


class ServiceSettings(BaseSettings):
    """The HTTP service."""

    model_config = _COMMON

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Per accepted token, else per client address; 0 disables."
    )
    max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    analysis_time_limit_s: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Time limit of one analysis (hotspots, KDE, DBSCAN, patrol plans, map views) "
        "in an API request; past it the request ends with 503.",
    )
    log_json: bool = False
    log_level: str = "INFO"
    tile_url: str | None = Field(
        default=None, description="An office tile server; unset keeps maps fully offline."
    )
    tile_attribution: str = ""
    basemap_file: Path | None = Field(
        default=None,
        description="An office basemap archive (PMTiles v3 or MBTiles; roads, rivers, villages) "
        "that the service serves itself and every map view draws under the data "
        "(docs/maps.md). Unset: the views draw only the reference geography.",
    )
    basemap_attribution: str = Field(
        default="",
        description="Credit line of the basemap archive; empty takes the archive's own "
        "attribution, else '© OpenStreetMap contributors'.",
    )
    default_lang: Literal["id", "en"] = "id"
    classification_marking: str = "TERBATAS"
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private and link-local addresses (an office "
        "whose receivers live on its own network); refused by default.",
    )


class FieldSettings(BaseSettings):
    """Positions from the patrol teams' phones and reports from the field form."""

    model_config = _COMMON

    field_max_accuracy_m: float = Field(
        default=100.0,  # geo.field.tracks.DEFAULT_MAX_ACCURACY_M
        gt=0,
        le=10_000,
        description="Positions less accurate than this are kept out of tracks and coverage.",
    )
    field_track_gap_s: float = Field(
        default=600.0,  # geo.field.tracks.DEFAULT_GAP_S
        gt=0,
        le=86_400,
        description="A silence longer than this breaks a track into two parts.",
    )
    field_photo_max_bytes: int = Field(
        default=3 * 1024 * 1024, ge=10_000, le=20 * 1024 * 1024, description="Per report photo."
    )
    field_track_retention_days: int = Field(
        default=365,
        ge=1,
        le=36_500,
        description="timpora purge removes track positions recorded longer ago than this.",
    )
    field_photo_retention_days: int = Field(
        default=365,
        ge=1,
        le=36_500,
        description="timpora purge removes field-form photos received longer ago than this.",
    )


class NotifySettings(BaseSettings):
    """Notifications through Apprise: the office's SMTP server, the digest's hour, the link in
    the messages, and which channels users may add for themselves (docs/alerts.md)."""

    model_config = _COMMON

    notify_sender: bool = Field(
        default=True,
        description="Run the background sender (queued messages, the scheduled digest) in this "
        "process; off for a process that only serves while another one sends (timpora notify "
        "deliver, or another instance).",
    )
    notify_digest_hour: int | None = Field(
        default=7,
        ge=0,
        le=23,
        description="Hour of the day (WIB) the service sends the daily digest; unset: no "
        "scheduled digest (timpora notify digest still sends one).",
    )
    notify_public_url: str | None = Field(
        default=None,
        max_length=500,
        description="The address people open the dashboard at, for the link in the messages; "
        "unset: http://HOST:PORT/ of this service.",
    )
    notify_user_schemes: list[str] = Field(
        default_factory=lambda: ["mailto", "mailtos", "tgram"],
        description="Apprise URL schemes users other than administrators may use for their own "
        "subscriptions (an administrator may use any); a plain e-mail address is always allowed.",
    )
    notify_timeout_s: float = Field(
        default=20.0, gt=0, le=300, description="Longest one message may take to send."
    )
    smtp_host: str | None = Field(
        default=None,
        max_length=255,
        description="The office's SMTP server: subscriptions given as a plain e-mail address are "
        "sent through it.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "insecure"] = "starttls"
    smtp_user: str | None = Field(default=None, max_length=255)
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(
        default="timpora@localhost", max_length=255, description="Sender address of e-mails."
    )

    @field_validator("notify_digest_hour", mode="before")
    @classmethod
    def _no_hour(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "off"):
            return None
        return value

    @model_validator(mode="after")
    def _public_url(self) -> NotifySettings:
        url = self.notify_public_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"TIMPORA_NOTIFY_PUBLIC_URL must be an http(s) URL; got {url!r}")
        self.notify_user_schemes = [s.strip().lower() for s in self.notify_user_schemes if s]
        return self


class Settings:
    """All settings of one process, built from the environment unless given explicitly."""

    def __init__(
        self,
        *,
        database: DatabaseSettings | None = None,
        area: AreaSettings | None = None,
        service: ServiceSettings | None = None,
        field: FieldSettings | None = None,
        imports: ImportSettings | None = None,
        notify: NotifySettings | None = None,
    ) -> None:
        try:
            self.database = database or DatabaseSettings()
            self.area = area or AreaSettings()
            self.service = service or ServiceSettings()
            self.field = field or FieldSettings()
            self.imports = imports or ImportSettings()
            self.notify = notify or NotifySettings()
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            raise ConfigurationError(_short_validation_message(exc)) from None
        self._enforce_non_default_secrets()

    def _enforce_non_default_secrets(self) -> None:
        """Production needs real database passwords (the embedded cluster makes its own)."""
        if self.service.environment != "production":
            return
        for name, value in (
            ("TIMPORA_DATABASE_URL", self.database.database_url),
            ("TIMPORA_DATABASE_OWNER_URL", self.database.database_owner_url),
        ):
            if value is None:
                continue
            try:
                password = make_url(value.get_secret_value()).password or ""
            except ArgumentError:
                continue  # geo.db reports a malformed URL, naming what is wrong
            if password.lower() in PLACEHOLDER_SECRETS or len(password) < 12:
                raise ConfigurationError(
                    f"the password in {name} is a placeholder or shorter than 12 "
                    "characters; set a real one in production"
                )

    def __repr__(self) -> str:
        return f"Settings(embedded={self.database.embedded}, env={self.service.environment})"


def _short_validation_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            name = f"TIMPORA_{loc.upper()}" if loc else "settings"
            parts.append(f"{name}: {err.get('msg')}")
        return "invalid settings: " + "; ".join(parts)
    return f"invalid settings: {exc}"
