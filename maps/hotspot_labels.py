"""Names and colours of the hotspot analysis: Gi* confidence classes (ArcGIS's palette),
emerging-hotspot trends and the patrol plan, in Indonesian and English.

Shared by the web views (``maps.hotspot_layers``) and the printed maps (``maps.static_layers``).
"""

from __future__ import annotations

from typing import Final

BIN_COLOURS: Final = {
    3: "#d62f27",
    2: "#ed7551",
    1: "#fab984",
    0: "#f7f7f2",
    -1: "#c0ccbe",
    -2: "#849eba",
    -3: "#4575b5",
}
TREND_COLOURS: Final = {
    "new": "#7b3294",
    "consecutive": "#c2a5cf",
    "intensifying": "#a50026",
    "persistent": "#f46d43",
    "diminishing": "#fdae61",
    "sporadic": "#fee090",
    "oscillating": "#d9a8a0",
    "historical": "#bababa",
}
PATROL_COLOUR: Final = "#1b7837"

LABELS: Final[dict[str, dict[str, str]]] = {
    "id": {
        "title": "Titik panas kejadian (Gi*, FDR)",
        "title_sightings": "Titik panas laporan keberadaan (Gi*, FDR)",
        "hot": "Titik panas",
        "cold": "Titik dingin",
        "not_significant": "Tidak signifikan",
        "confidence": "Keyakinan",
        "count": "Jumlah",
        "trend": "Tren",
        "trends": "Tren titik panas",
        "kde": "Kepadatan kernel (KDE)",
        "clusters": "Klaster DBSCAN",
        "cluster_size": "Jumlah titik",
        "patrol": "Rencana patroli",
        "start": "Titik berangkat",
        "stop": "Titik patroli",
        "route": "Rute",
        "covered": "Bobot tercakup",
        "length": "Panjang rute",
        "cell": "Sel heksagon",
        "no_pattern": "Tidak ada pola",
        "new": "baru",
        "consecutive": "berturut-turut",
        "intensifying": "menguat",
        "persistent": "menetap",
        "diminishing": "melemah",
        "sporadic": "sporadis",
        "oscillating": "berosilasi",
        "historical": "historis",
        "method": "Gi* (6 tetangga + diri), koreksi FDR Benjamini-Hochberg",
        "no_data": "Tidak ada data",
    },
    "en": {
        "title": "Incident hot spots (Gi*, FDR)",
        "title_sightings": "Sighting hot spots (Gi*, FDR)",
        "hot": "Hot spot",
        "cold": "Cold spot",
        "not_significant": "Not significant",
        "confidence": "Confidence",
        "count": "Count",
        "trend": "Trend",
        "trends": "Emerging hot spot trends",
        "kde": "Kernel density (KDE)",
        "clusters": "DBSCAN clusters",
        "cluster_size": "Points",
        "patrol": "Patrol plan",
        "start": "Start",
        "stop": "Patrol point",
        "route": "Route",
        "covered": "Covered weight",
        "length": "Route length",
        "cell": "Hex cell",
        "no_pattern": "No pattern",
        "new": "new",
        "consecutive": "consecutive",
        "intensifying": "intensifying",
        "persistent": "persistent",
        "diminishing": "diminishing",
        "sporadic": "sporadic",
        "oscillating": "oscillating",
        "historical": "historical",
        "method": "Gi* (6 neighbours + self), Benjamini-Hochberg FDR",
        "no_data": "No data",
    },
}


def label(key: str, lang: str = "id") -> str:
    return LABELS.get(lang, LABELS["id"]).get(key, key)


def confidence_text(gi_bin: int, lang: str = "id") -> str:
    if gi_bin == 0:
        return label("not_significant", lang)
    kind = label("hot" if gi_bin > 0 else "cold", lang)
    return f"{kind} {dict([(1, 90), (2, 95), (3, 99)])[abs(gi_bin)]} %"


def trend_text(trend: str, lang: str = "id") -> str:
    if trend == "no_pattern":
        return label("no_pattern", lang)
    pattern, kind = trend.rsplit("_", 1)
    return f"{label(kind, lang)} {label(pattern, lang)}"
