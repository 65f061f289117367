"""Map labels in Bahasa Indonesia (default) and English. One table; ``t(key, lang)`` reads it."""

from __future__ import annotations

from typing import Final, Literal

Lang = Literal["id", "en"]
LANGS: Final[tuple[str, ...]] = ("id", "en")

LABELS: Final[dict[str, dict[str, str]]] = {
    # views
    "heatmap": {"id": "Peta panas", "en": "Heatmap"},
    "overview": {"id": "Ikhtisar wilayah perbatasan", "en": "Border zone overview"},
    "hexbins": {"id": "Sel heksagonal", "en": "Hexagon bins"},
    "timeline": {"id": "Linimasa", "en": "Timeline"},
    # layers
    "incidents": {"id": "Kejadian", "en": "Incidents"},
    "sightings": {"id": "Laporan keberadaan WNA", "en": "Sightings of foreigners"},
    "land": {"id": "Daratan", "en": "Land"},
    "kabupaten": {"id": "Kabupaten Sambas", "en": "Sambas Regency"},
    "kecamatan": {"id": "Kecamatan", "en": "Districts (kecamatan)"},
    "border": {"id": "Batas negara RI–Malaysia", "en": "Indonesia–Malaysia border"},
    "coastline": {"id": "Garis pantai", "en": "Coastline"},
    "crossing_post": {"id": "Pos lintas batas", "en": "Border crossing posts"},
    "town": {"id": "Kota/desa", "en": "Towns"},
    "zones": {"id": "Zona (pita perbatasan, pengawasan)", "en": "Zones (border bands, watch)"},
    "workplaces": {"id": "Tempat kerja TKA", "en": "Workplaces of foreign workers"},
    "alerts": {"id": "Peringatan terbaru", "en": "Latest alerts"},
    "heat": {"id": "Intensitas (relatif)", "en": "Intensity (relative)"},
    "cells": {"id": "Jumlah per sel", "en": "Count per cell"},
    "hexagons": {"id": "Jumlah per heksagon", "en": "Count per hexagon"},
    "choropleth": {"id": "Kecamatan (koroplet)", "en": "Kecamatan (choropleth)"},
    # legend / captions
    "count": {"id": "Jumlah", "en": "Count"},
    "per_km2": {"id": "per km²", "en": "per km²"},
    "per_foreigner": {"id": "per WNA terdaftar", "en": "per registered foreigner"},
    "foreigners": {"id": "WNA terdaftar", "en": "Registered foreigners"},
    "area_km2": {"id": "Luas (km²)", "en": "Area (km²)"},
    "cell_size": {"id": "Ukuran sel", "en": "Cell size"},
    "count_per_cell": {"id": "Jumlah per sel {size}", "en": "Count per {size} cell"},
    "heat_note": {
        "id": "Warna panas relatif terhadap zoom; angka kelas = jumlah nyata per sel.",
        "en": "Heat colours are relative to zoom; class numbers are real counts per cell.",
    },
    "suppressed_note": {
        "id": "Jumlah orang di bawah 3 disembunyikan (<3).",
        "en": "Counts of persons below 3 are hidden (<3).",
    },
    "no_data": {"id": "Tidak ada data", "en": "No data"},
    "total": {"id": "Total", "en": "Total"},
    "period": {"id": "Periode", "en": "Period"},
    "week": {"id": "Minggu mulai", "en": "Week of"},
    "month": {"id": "Bulan", "en": "Month"},
    "all_time": {"id": "Semua waktu", "en": "All time"},
    "filters": {"id": "Filter", "en": "Filters"},
    "start": {"id": "Mulai", "en": "From"},
    "end": {"id": "Sampai", "en": "To"},
    "kind": {"id": "Jenis", "en": "Kind"},
    "sector": {"id": "Sektor", "en": "Sector"},
    "quota": {"id": "Kuota TKA", "en": "Foreign-worker quota"},
    "rule": {"id": "Aturan", "en": "Rule"},
    "severity": {"id": "Tingkat", "en": "Severity"},
    "status": {"id": "Status", "en": "Status"},
    "distance": {"id": "Jarak", "en": "Distance"},
    "time_wib": {"id": "Waktu (WIB)", "en": "Time (WIB)"},
    "generated": {"id": "Dibuat", "en": "Generated"},
    "play": {"id": "Putar", "en": "Play"},
    "pause": {"id": "Jeda", "en": "Pause"},
    "attribution": {
        "id": "Batas: Kemendagri (cahyadsn/wilayah_boundaries); © kontributor OpenStreetMap",
        "en": "Boundaries: Kemendagri (cahyadsn/wilayah_boundaries); © OpenStreetMap contributors",
    },
    # incident kinds
    "overstay": {"id": "Melebihi izin tinggal", "en": "Overstay"},
    "illegal_work": {"id": "Bekerja tanpa izin", "en": "Illegal work"},
    "illegal_entry": {"id": "Masuk ilegal / jalan tikus", "en": "Illegal entry"},
    "permit_misuse": {"id": "Penyalahgunaan izin", "en": "Permit misuse"},
    "document_fraud": {"id": "Pemalsuan dokumen", "en": "Document fraud"},
    "smuggling": {"id": "Penyelundupan", "en": "Smuggling"},
    "human_trafficking": {"id": "TPPO", "en": "Human trafficking"},
    "social_unrest": {"id": "Gangguan sosial", "en": "Social unrest"},
    "other": {"id": "Lainnya", "en": "Other"},
    # sighting sources
    "patrol": {"id": "Patroli", "en": "Patrol"},
    "lodging": {"id": "Laporan penginapan (APOA)", "en": "Lodging report"},
    "checkpoint": {"id": "Pos pemeriksaan", "en": "Checkpoint"},
    "public_report": {"id": "Laporan masyarakat", "en": "Public report"},
}


def check_lang(lang: str | None, default: str = "id") -> Lang:
    from geo.errors import ValidationError

    value = (lang or default).strip().lower()
    if value not in LANGS:
        raise ValidationError(
            f"lang must be one of {', '.join(LANGS)}; got {lang!r}", field="lang", value=lang
        )
    return value  # type: ignore[return-value]


def t(key: str, lang: str = "id", **fmt: object) -> str:
    """The label for ``key`` in ``lang``; unknown keys come back as themselves."""
    entry = LABELS.get(key)
    text = entry.get(lang, entry["id"]) if entry else key
    return text.format(**fmt) if fmt else text
