"""The words of the field's map layers and briefing page (patrol tracks, visited stops, patrol
coverage), in Bahasa Indonesia and English. Kept apart from ``maps.labels`` so the field's pages
carry their own vocabulary; :func:`ft` falls back to Indonesian as ``maps.labels.t`` does."""

from __future__ import annotations

from typing import Final

FIELD_LABELS: Final[dict[str, dict[str, str]]] = {
    "tracks": {"id": "Jejak tim patroli", "en": "Patrol team tracks"},
    "stops": {
        "id": "Titik rencana: dikunjungi / terlewat",
        "en": "Planned stops: visited / missed",
    },
    "stop_plan": {"id": "Titik {n}", "en": "Stop {n}"},
    "stop_log": {"id": "Log patroli #{n}", "en": "Patrol log #{n}"},
    "visited": {"id": "dikunjungi", "en": "visited"},
    "missed": {"id": "terlewat", "en": "missed"},
    "closest": {"id": "terdekat {m} m", "en": "closest {m} m"},
    "no_track": {"id": "tidak ada jejak", "en": "no track"},
    "by": {"id": "oleh {teams}", "en": "by {teams}"},
    "at": {"id": "pukul {time}", "en": "at {time}"},
    "visits_title": {"id": "Rencana vs jejak, {day}", "en": "Plan vs tracks, {day}"},
    "visits_summary": {
        "id": "{visited} dari {total} titik dikunjungi",
        "en": "{visited} of {total} stops visited",
    },
    "track_tip": {"id": "{team}: {km} km", "en": "{team}: {km} km"},
    "coverage": {"id": "Cakupan patroli", "en": "Patrol coverage"},
    "col_team": {"id": "Tim", "en": "Team"},
    "col_km": {"id": "km ditempuh", "en": "km walked"},
    "col_hours": {"id": "jam terlacak", "en": "hours tracked"},
    "col_positions": {"id": "posisi", "en": "positions"},
    "col_hot_cells": {"id": "sel rawan tercakup", "en": "hot cells covered"},
    "all_teams": {"id": "Semua tim", "en": "All teams"},
    "coverage_note": {
        "id": "Sel rawan: sel titik rawan (≥ 95 %) rencana patroli; tercakup bila jejak lewat "
        "dalam {r} km dari pusat sel. Jam terlacak: tanpa jeda sinyal > {gap} menit.",
        "en": "Hot cells: the patrol plan's hot-spot cells (≥ 95 %); covered when a track passed "
        "within {r} km of the cell centre. Hours tracked exclude signal gaps > {gap} min.",
    },
    "coverage_none": {
        "id": "Tidak ada jejak patroli dalam periode ini.",
        "en": "No patrol tracks in this period.",
    },
}


def ft(key: str, lang: str = "id", **fmt: object) -> str:
    """The label ``key`` in ``lang`` (Indonesian when missing), formatted with ``fmt``."""
    entry = FIELD_LABELS[key]
    text = entry.get(lang) or entry["id"]
    return text.format(**fmt) if fmt else text
