"""Labels of the workplace-risk map view and the inspection plan sheet, in Bahasa Indonesia
(default) and English: the factors, the kinds of agency, and the texts around them."""

from __future__ import annotations

from typing import Any, Final

from geo.risk import BORDER_SCALE_M
from maps.labels import Lang
from maps.static_layers import number_text

RISK_LABELS: Final[dict[str, dict[str, str]]] = {
    # factors (geo.risk.FACTORS)
    "over_quota": {"id": "Melebihi kuota RPTKA", "en": "Over the RPTKA quota"},
    "expired_permits": {"id": "Izin kedaluwarsa", "en": "Expired permits"},
    "expiring_permits": {"id": "Izin segera habis", "en": "Permits expiring"},
    "sighted_elsewhere": {
        "id": "Pekerja sponsor lain terlihat",
        "en": "Workers of other sponsors seen",
    },
    "open_alerts": {"id": "Peringatan terbuka", "en": "Open alerts"},
    "incidents": {"id": "Kejadian", "en": "Incidents"},
    "border_proximity": {"id": "Dekat perbatasan", "en": "Near the border"},
    "days_since_inspection": {
        "id": "Hari sejak pemeriksaan terakhir",
        "en": "Days since the last inspection",
    },
    "sponsor_violations": {
        "id": "Pelanggaran pekerja yang disponsori",
        "en": "Violations by its sponsored workers",
    },
    # kinds of agency (geo.models.AGENCY_KINDS)
    "immigration": {"id": "Imigrasi", "en": "Immigration"},
    "police": {"id": "Kepolisian", "en": "Police"},
    "military": {"id": "TNI", "en": "Military"},
    "prosecutor": {"id": "Kejaksaan", "en": "Prosecutor"},
    "intelligence": {"id": "Intelijen", "en": "Intelligence"},
    "kesbangpol": {"id": "Kesbangpol", "en": "Kesbangpol"},
    "manpower": {"id": "Dinas tenaga kerja", "en": "Manpower office"},
    "civil_registry": {"id": "Dukcapil", "en": "Civil registry"},
    "public_order": {"id": "Satpol PP", "en": "Public order police"},
    "customs": {"id": "Bea Cukai", "en": "Customs"},
    "other": {"id": "Lainnya", "en": "Other"},
    # the plan sheet
    "plan_title": {"id": "Rencana pemeriksaan gabungan", "en": "Joint inspection plan"},
    "plan_day": {"id": "Hari {day}", "en": "Day {day}"},
    "plan_week": {"id": "Minggu {start} – {end}", "en": "Week {start} – {end}"},
    "plan_start": {"id": "Berangkat dari", "en": "Start"},
    "plan_route": {
        "id": "Rute {km} km (garis lurus, kembali ke titik berangkat; batas {max} km/hari)",
        "en": "Route {km} km (straight lines, back to the start; limit {max} km/day)",
    },
    "plan_stops": {"id": "{n} tempat kerja", "en": "{n} workplaces"},
    "plan_number": {"id": "Rencana no. {id}", "en": "Plan no. {id}"},
    "plan_kecamatan": {"id": "Kecamatan", "en": "Kecamatan"},
    "col_order": {"id": "No.", "en": "No."},
    "col_visit": {"id": "Tanggal", "en": "Date"},
    "col_workplace": {"id": "Tempat kerja", "en": "Workplace"},
    "col_leg": {"id": "Jarak km", "en": "Leg km"},
    "col_score": {"id": "Skor", "en": "Score"},
    "col_reasons": {"id": "Alasan", "en": "Reasons"},
    "col_agencies": {"id": "Instansi", "en": "Agencies"},
    "plan_no_stops": {
        "id": "Tidak ada tempat kerja berisiko dalam jangkauan",
        "en": "No workplace at risk within reach",
    },
    "plan_persons": {"id": "Orang", "en": "Persons"},
    "plan_start_marker": {"id": "Titik berangkat", "en": "Start"},
    "plan_route_line": {"id": "Rute", "en": "Route"},
    "plan_stop_marker": {"id": "Tempat kerja (urutan)", "en": "Workplace (order)"},
    "plan_method": {
        "id": 'Skor = jumlah faktor × bobot; "<3" = kurang dari 3 orang.',
        "en": 'Score = sum of factor × weight; "<3" = fewer than 3 persons.',
    },
    # the map view
    "risk_view": {"id": "Risiko tempat kerja", "en": "Workplace risk"},
    "risk_rank": {"id": "Peringkat", "en": "Rank"},
    "risk_score": {"id": "Skor risiko", "en": "Risk score"},
    "risk_class_top": {"id": "Peringkat 1–{n}", "en": "Ranks 1–{n}"},
    "risk_class_range": {"id": "Peringkat {a}–{b}", "en": "Ranks {a}–{b}"},
    "risk_class_suppressed": {
        "id": "Satu faktor tentang <3 orang (ditekan)",
        "en": "A single factor about <3 persons (suppressed)",
    },
    "risk_suppressed_popup": {
        "id": "Rinciannya tidak ditampilkan: satu-satunya faktor menyangkut kurang dari 3 orang.",
        "en": "Details withheld: the only factor concerns fewer than 3 persons.",
    },
    "risk_key_title": {"id": "Risiko tempat kerja", "en": "Workplace risk"},
    "risk_key_note": {
        "id": "Ukuran dan warna menurut peringkat; {n} tempat kerja teratas.",
        "en": "Size and colour by rank; the top {n} workplaces.",
    },
    "risk_factors": {"id": "Faktor", "en": "Factors"},
    "risk_plan_layer": {"id": "Rencana pemeriksaan {id}", "en": "Inspection plan {id}"},
    "risk_none": {"id": "Tidak ada tempat kerja berisiko", "en": "No workplace at risk"},
    "risk_as_of": {"id": "Peringkat per tanggal {day}", "en": "Ranking as of {day}"},
    # the printed snapshot (maps.risk_snapshot)
    "snap_risk_method": {
        "id": "Skor = jumlah faktor × bobot yang berlaku. Peringkat teratas — skor: "
        "faktor terbesar",
        "en": "Score = sum of factor × the weight in force. Top ranks — score: largest factor",
    },
    "snap_risk_window": {
        "id": "Faktor dalam radius {radius}, {days} hari terakhir",
        "en": "Factors within {radius}, the last {days} days",
    },
    "risk_plan_key": {
        "id": "Rencana pemeriksaan {id}: rute dan urutan",
        "en": "Inspection plan {id}: route and stops",
    },
}


def rt(key: str, lang: str = "id", **fmt: object) -> str:
    """The label for ``key`` in ``lang``; unknown keys come back as themselves."""
    entry = RISK_LABELS.get(key)
    text = entry.get(lang, entry["id"]) if entry else key
    return text.format(**fmt) if fmt else text


def factor_rows(factors: list[dict[str, Any]], lang: Lang) -> list[tuple[str, str]]:
    """The factors present as (name, value) in words: ("Melebihi kuota RPTKA", "3"),
    ("Dekat perbatasan", "2,1 km"); a suppressed count stays "<3"."""
    out = []
    for f in factors:
        value = f["value"]
        name = rt(f["factor"], lang)
        if f["factor"] == "border_proximity":
            if isinstance(value, int | float) and value > 0:
                away_km = (1.0 - float(value)) * BORDER_SCALE_M / 1000.0
                out.append((name, f"{number_text(away_km, lang, 1)} km"))
        elif isinstance(value, str):
            out.append((name, value))
        elif value:
            out.append((name, number_text(float(value), lang, 0)))
    return out


def factor_texts(factors: list[dict[str, Any]], lang: Lang) -> list[str]:
    """The factors present, in words: "Melebihi kuota RPTKA 3", "Dekat perbatasan 2,1 km"."""
    return [f"{name} {value}" for name, value in factor_rows(factors, lang)]


def agency_texts(agencies: list[dict[str, Any]], lang: Lang) -> list[str]:
    """Each kind's registered agencies by short name, else the kind in words."""
    out = []
    for entry in agencies:
        names = [a.get("short_name") or a.get("name") or "" for a in entry.get("agencies", [])]
        out.append(", ".join(n for n in names if n) or rt(entry["kind"], lang))
    return out
