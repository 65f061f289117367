"""What each importable layer holds: columns, types, aliases (Indonesian headers included).

One table drives reading (header mapping), validation, staging and export, so a column added
here is imported and exported alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

from geo.errors import ValidationError
from geo.models import (
    FOREIGNER_STATUSES,
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    PERMIT_TYPES,
    SECTORS,
    SEXES,
    SIGHTING_SOURCES,
)

Kind = Literal["text", "int", "date", "datetime", "enum", "nationality", "ref"]


@dataclass(frozen=True)
class Column:
    """One attribute of a layer as it appears in files."""

    name: str
    kind: Kind
    required: bool = False
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    # Spellings seen in office files → the stored value (keys normalised like headers).
    synonyms: dict[str, str] = field(default_factory=dict)
    minimum: int | None = None
    maximum: int | None = None
    default: str | None = None
    # For kind "ref": the table whose external_ref the value names, and the stored FK column.
    ref_table: str | None = None
    ref_column: str | None = None


@dataclass(frozen=True)
class LayerSpec:
    layer: str  # API/CLI name (plural)
    table: str
    columns: tuple[Column, ...]
    geometry_required: bool
    time_column: str | None
    conflict_key: tuple[str, ...]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


EXTERNAL_REF = Column(
    "external_ref",
    "text",
    aliases=("ref", "external_id", "id_eksternal", "no_ref", "nomor_referensi", "referensi"),
    max_length=100,
)

SECTOR_SYNONYMS = {
    "perkebunan": "plantation",
    "sawit": "plantation",
    "kelapa_sawit": "plantation",
    "perkebunan_sawit": "plantation",
    "tambang": "mining",
    "pertambangan": "mining",
    "konstruksi": "construction",
    "perikanan": "fishing",
    "pelabuhan_perikanan": "fishing",
    "perdagangan": "trade",
    "perhotelan": "hospitality",
    "hotel": "hospitality",
    "pendidikan": "education_religious",
    "keagamaan": "education_religious",
    "pendidikan_keagamaan": "education_religious",
    "lsm": "ngo",
    "lainnya": "other",
}

PERMIT_SYNONYMS = {
    "itas": "KITAS",
    "kitas": "KITAS",
    "itap": "KITAP",
    "kitap": "KITAP",
    "visa_kunjungan": "VISA_KUNJUNGAN",
    "visit_visa": "VISA_KUNJUNGAN",
    "vku": "VISA_KUNJUNGAN",
    "voa": "VOA",
    "visa_on_arrival": "VOA",
    "plb": "PLB",
    "pas_lintas_batas": "PLB",
    "bca": "PLB",
    "lainnya": "OTHER",
    "other": "OTHER",
}

SEX_SYNONYMS = {
    "l": "M",
    "laki_laki": "M",
    "lakilaki": "M",
    "pria": "M",
    "male": "M",
    "m": "M",
    "p": "F",
    "perempuan": "F",
    "wanita": "F",
    "female": "F",
    "f": "F",
    "x": "X",
}

INCIDENT_SYNONYMS = {
    "melebihi_izin_tinggal": "overstay",
    "bekerja_ilegal": "illegal_work",
    "tka_ilegal": "illegal_work",
    "masuk_ilegal": "illegal_entry",
    "jalan_tikus": "illegal_entry",
    "penyalahgunaan_izin": "permit_misuse",
    "pemalsuan_dokumen": "document_fraud",
    "penyelundupan": "smuggling",
    "tppo": "human_trafficking",
    "perdagangan_orang": "human_trafficking",
    "keresahan_sosial": "social_unrest",
    "lainnya": "other",
}

INCIDENT_STATUS_SYNONYMS = {
    "baru": "open",
    "terbuka": "open",
    "diselidiki": "investigating",
    "penyelidikan": "investigating",
    "selesai": "closed",
    "ditutup": "closed",
}

FOREIGNER_STATUS_SYNONYMS = {
    "aktif": "active",
    "keluar": "departed",
    "dideportasi": "deported",
    "kabur": "absconded",
    "meninggal": "deceased",
}

SOURCE_SYNONYMS = {
    "patroli": "patrol",
    "penginapan": "lodging",
    "hotel": "lodging",
    "apoa": "lodging",
    "pos_pemeriksaan": "checkpoint",
    "pemeriksaan": "checkpoint",
    "laporan_masyarakat": "public_report",
    "masyarakat": "public_report",
    "lainnya": "other",
}

WORKPLACES = LayerSpec(
    layer="workplaces",
    table="workplace",
    geometry_required=True,
    time_column=None,
    conflict_key=("external_ref",),
    columns=(
        EXTERNAL_REF,
        Column("name", "text", True, ("nama", "nama_perusahaan", "perusahaan", "company"), 200),
        Column(
            "sector",
            "enum",
            True,
            ("sektor", "bidang_usaha", "jenis_usaha"),
            choices=SECTORS,
            synonyms=SECTOR_SYNONYMS,
        ),
        Column("address", "text", aliases=("alamat",)),
        Column("rptka_number", "text", aliases=("no_rptka", "nomor_rptka", "rptka"), max_length=64),
        Column(
            "foreign_worker_quota",
            "int",
            aliases=("kuota_tka", "kuota", "quota"),
            minimum=0,
            maximum=1_000_000,
        ),
    ),
)

FOREIGNERS = LayerSpec(
    layer="foreigners",
    table="foreigner",
    geometry_required=False,
    time_column=None,
    conflict_key=("external_ref",),
    columns=(
        EXTERNAL_REF,
        Column("full_name", "text", True, ("nama", "nama_lengkap", "name"), 200),
        Column(
            "nationality",
            "nationality",
            True,
            ("kewarganegaraan", "warga_negara", "kebangsaan", "negara", "country"),
        ),
        Column(
            "sex",
            "enum",
            aliases=("jenis_kelamin", "jk", "gender", "kelamin"),
            choices=SEXES,
            synonyms=SEX_SYNONYMS,
        ),
        Column("birth_date", "date", aliases=("tanggal_lahir", "tgl_lahir", "dob")),
        Column(
            "passport_number",
            "text",
            aliases=("no_paspor", "nomor_paspor", "paspor", "passport", "no_passport"),
            max_length=32,
        ),
        Column(
            "permit_type",
            "enum",
            True,
            ("jenis_izin", "izin", "jenis_izin_tinggal", "permit"),
            choices=PERMIT_TYPES,
            synonyms=PERMIT_SYNONYMS,
        ),
        Column(
            "permit_number", "text", aliases=("no_izin", "nomor_izin", "no_kitas"), max_length=64
        ),
        Column(
            "permit_expires_on",
            "date",
            aliases=(
                "berlaku_sampai",
                "masa_berlaku",
                "tanggal_habis_izin",
                "tgl_habis",
                "expiry",
                "expires_on",
            ),
        ),
        Column(
            "sponsor_ref",
            "ref",
            aliases=("sponsor", "penjamin", "ref_sponsor", "sponsor_external_ref"),
            max_length=100,
            ref_table="workplace",
            ref_column="sponsor_workplace_id",
        ),
        Column(
            "status",
            "enum",
            aliases=("status_wna",),
            choices=FOREIGNER_STATUSES,
            synonyms=FOREIGNER_STATUS_SYNONYMS,
            default="active",
        ),
    ),
)

INCIDENTS = LayerSpec(
    layer="incidents",
    table="incident",
    geometry_required=True,
    time_column="occurred_at",
    conflict_key=("external_ref",),
    columns=(
        EXTERNAL_REF,
        Column(
            "kind",
            "enum",
            True,
            ("jenis", "jenis_kejadian", "kejadian"),
            choices=INCIDENT_KINDS,
            synonyms=INCIDENT_SYNONYMS,
        ),
        Column(
            "severity",
            "int",
            True,
            ("tingkat", "keparahan", "tingkat_keparahan"),
            minimum=1,
            maximum=5,
        ),
        Column(
            "status",
            "enum",
            aliases=("status_kejadian",),
            choices=INCIDENT_STATUSES,
            synonyms=INCIDENT_STATUS_SYNONYMS,
            default="open",
        ),
        Column(
            "occurred_at",
            "datetime",
            True,
            ("tanggal", "waktu", "tanggal_kejadian", "waktu_kejadian", "date", "datetime"),
        ),
        Column("description", "text", aliases=("keterangan", "uraian", "deskripsi")),
        Column(
            "workplace_ref",
            "ref",
            aliases=("ref_tempat_kerja", "tempat_kerja_ref"),
            max_length=100,
            ref_table="workplace",
            ref_column="workplace_id",
        ),
    ),
)

SIGHTINGS = LayerSpec(
    layer="sightings",
    table="sighting",
    geometry_required=True,
    time_column="observed_at",
    conflict_key=("external_ref", "observed_at"),
    columns=(
        EXTERNAL_REF,
        Column(
            "observed_at",
            "datetime",
            True,
            ("tanggal", "waktu", "tanggal_waktu", "waktu_laporan", "date", "datetime"),
        ),
        Column(
            "foreigner_ref",
            "ref",
            aliases=("ref_wna", "wna_ref", "orang_asing_ref"),
            max_length=100,
            ref_table="foreigner",
            ref_column="foreigner_id",
        ),
        Column(
            "source",
            "enum",
            True,
            ("sumber", "sumber_laporan"),
            choices=SIGHTING_SOURCES,
            synonyms=SOURCE_SYNONYMS,
        ),
        Column("reported_by", "text", aliases=("pelapor", "dilaporkan_oleh"), max_length=100),
        Column("note", "text", aliases=("catatan", "keterangan")),
    ),
)

LAYERS: Final[dict[str, LayerSpec]] = {
    spec.layer: spec for spec in (WORKPLACES, FOREIGNERS, INCIDENTS, SIGHTINGS)
}

# Import order when files of several layers arrive together: references point backwards.
LAYER_ORDER: Final = ("workplaces", "foreigners", "incidents", "sightings")

LON_ALIASES: Final = ("lon", "lng", "long", "longitude", "bujur", "x")
LAT_ALIASES: Final = ("lat", "latitude", "lintang", "y")
WKT_ALIASES: Final = ("wkt", "geom", "geometry", "geometri", "the_geom")


def layer_spec(layer: str) -> LayerSpec:
    """The spec of ``layer`` (plural API name; the singular table name is accepted too)."""
    key = layer.strip().lower()
    for spec in LAYERS.values():
        if key in (spec.layer, spec.table):
            return spec
    raise ValidationError(
        f"layer: unknown layer {layer!r}; expected one of {', '.join(LAYERS)}",
        field="layer",
        value=layer,
    )


def normalise_key(value: str) -> str:
    """A header or a category as a comparable key: lower case, ASCII, words joined by '_'."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
