"""The planted hotspots: where, how big, which kinds, when. Pure (no database).

Hotspot analysis (issue 8) is tested against this answer: the persistent hotspots hold incidents
over the whole year, the emerging one only in the last ``EMERGING_WEEKS`` weeks with counts rising
week by week.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

Pattern = Literal["persistent", "emerging"]

GROUND_TRUTH_VERSION: Final = 1
WINDOW_DAYS: Final = 365
EMERGING_WEEKS: Final = 10
# Share of all incidents planted in each persistent hotspot and in the emerging one.
PERSISTENT_SHARE: Final = 0.075
EMERGING_SHARE: Final = 0.10


@dataclass(frozen=True)
class Hotspot:
    name: str
    kecamatan: str
    lon: float
    lat: float
    radius_m: float
    kinds: tuple[str, ...]
    pattern: Pattern


HOTSPOTS: Final = (
    Hotspot(
        "Jalur tikus dekat PLBN Aruk",
        "Sajingan Besar",
        109.655,
        1.612,
        1000.0,
        ("illegal_entry", "smuggling"),
        "persistent",
    ),
    Hotspot(
        "Pelabuhan perikanan Pemangkat",
        "Pemangkat",
        108.975,
        1.175,
        1000.0,
        ("illegal_work", "overstay"),
        "persistent",
    ),
    Hotspot(
        "Kebun sawit Galing",
        "Galing",
        109.3925,
        1.5963,
        1000.0,
        ("illegal_work", "permit_misuse"),
        "persistent",
    ),
    Hotspot(
        "Temajuk", "Paloh", 109.52, 1.965, 1000.0, ("illegal_entry", "smuggling"), "persistent"
    ),
    Hotspot(
        "Kebun sawit Sejangkung",
        "Sejangkung",
        109.4916,
        1.4141,
        1000.0,
        ("illegal_work", "human_trafficking"),
        "emerging",
    ),
)


def window(end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The twelve months of data: [end − 365 d, end) at midnight WIB, as UTC datetimes."""
    wib = dt.timezone(dt.timedelta(hours=7))
    stop = dt.datetime.combine(end, dt.time(0), tzinfo=wib).astimezone(dt.UTC)
    return stop - dt.timedelta(days=WINDOW_DAYS), stop


def planted_counts(n_incidents: int) -> list[int]:
    return [
        round(n_incidents * (EMERGING_SHARE if h.pattern == "emerging" else PERSISTENT_SHARE))
        for h in HOTSPOTS
    ]


def emerging_weekly_counts(total: int) -> list[int]:
    """Counts per week of the emerging hotspot, rising linearly (week 1 … week N)."""
    weights = list(range(1, EMERGING_WEEKS + 1))
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(x) for x in raw]
    rest = total - sum(counts)
    for i in sorted(range(EMERGING_WEEKS), key=lambda i: raw[i] - counts[i], reverse=True)[:rest]:
        counts[i] += 1
    return counts


def ground_truth(*, seed: int, size: str, end: dt.date, n_incidents: int) -> dict[str, Any]:
    """The answer key as a JSON-ready dict (format: docs/demo-data.md)."""
    start, stop = window(end)
    emerging_start = stop - dt.timedelta(weeks=EMERGING_WEEKS)
    spots = []
    for spot, count in zip(HOTSPOTS, planted_counts(n_incidents), strict=True):
        item: dict[str, Any] = {
            "name": spot.name,
            "kecamatan": spot.kecamatan,
            "pattern": spot.pattern,
            "centre": {"lon": spot.lon, "lat": spot.lat},
            "radius_m": spot.radius_m,
            "kinds": list(spot.kinds),
            "n_incidents": count,
            "start": (emerging_start if spot.pattern == "emerging" else start).isoformat(),
            "end": stop.isoformat(),
        }
        if spot.pattern == "emerging":
            item["weekly_counts"] = emerging_weekly_counts(count)
        spots.append(item)
    return {
        "version": GROUND_TRUTH_VERSION,
        "generator": "geo.demo",
        "seed": seed,
        "size": size,
        "end_date": end.isoformat(),
        "window": {"start": start.isoformat(), "end": stop.isoformat()},
        "layer": "incidents",
        "external_ref_prefix": "DEMO-I-",
        "hotspots": spots,
    }
