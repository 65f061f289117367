"""The planted hotspots: where, how big, which kinds, when. Pure (no database).

Hotspot analysis is tested against this answer: the persistent hotspots hold incidents
at a steady rate over the whole year; the emerging one is an *intensifying* hot spot in the sense
of ArcGIS's Emerging Hot Spot Analysis: present in every weekly slice (Monday 00:00 WIB, as the
analysis cuts them), at least one incident each week, so it is significant in well over 90 % of
the slices, with weekly counts rising steadily to about four times the first weeks' level, so the
trend of its Gi* z-scores is significantly upward.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

Pattern = Literal["persistent", "emerging"]

GROUND_TRUTH_VERSION: Final = 3
WINDOW_DAYS: Final = 365
# Share of all incidents planted in each persistent hotspot and in the emerging one (which needs
# at least one incident in each of the ~53 weekly slices: 25 % of the small set's 400 is 100).
PERSISTENT_SHARE: Final = 0.075
EMERGING_SHARE: Final = 0.25
# Every weekly slice gets one incident; the rest rises linearly over the slices.
EMERGING_BASE_PER_WEEK: Final = 1
WIB: Final = dt.timezone(dt.timedelta(hours=7))


@dataclass(frozen=True)
class Hotspot:
    name: str
    kecamatan: str
    lon: float
    lat: float
    radius_m: float
    kinds: tuple[str, ...]
    pattern: Pattern
    spread_m: float | None = None  # scatter (sd) around the centre; default radius / 2.5

    @property
    def scatter_m(self) -> float:
        return self.spread_m if self.spread_m is not None else self.radius_m / 2.5


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
        spread_m=250.0,  # tight, so each week's incident falls in the same Gi* neighbourhood
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


def week_slices(start: dt.datetime, stop: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The weekly slices of ``[start, stop)`` as the hotspot analysis cuts them (weeks starting
    Monday 00:00 WIB; the first and last may be partial), as UTC datetimes."""
    first = start.astimezone(WIB)
    monday = dt.datetime.combine(
        first.date() - dt.timedelta(days=first.weekday()), dt.time(0), tzinfo=WIB
    )
    out = []
    while monday < stop:
        nxt = monday + dt.timedelta(days=7)
        out.append((max(monday, start).astimezone(dt.UTC), min(nxt, stop).astimezone(dt.UTC)))
        monday = nxt
    return out


def emerging_weekly_counts(total: int, n_weeks: int) -> list[int]:
    """Counts per weekly slice of the emerging hotspot (oldest first): ``EMERGING_BASE_PER_WEEK``
    in every slice, the rest spread in proportion to the slice's rank (a linear rise)."""
    base = min(EMERGING_BASE_PER_WEEK, total // max(n_weeks, 1))
    counts = [base] * n_weeks
    rest_total = total - base * n_weeks
    weights = list(range(1, n_weeks + 1))
    raw = [rest_total * w / sum(weights) for w in weights]
    extra = [int(x) for x in raw]
    left = rest_total - sum(extra)
    for i in sorted(range(n_weeks), key=lambda i: (raw[i] - extra[i], i), reverse=True)[:left]:
        extra[i] += 1
    return [c + e for c, e in zip(counts, extra, strict=True)]


def ground_truth(
    *,
    seed: int,
    size: str,
    end: dt.date,
    n_incidents: int,
    planted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer key as a JSON-ready dict (format: docs/demo-data.md). ``planted`` is the
    generator's ``DemoData.truth`` (violations, expected rule hits, ordinary life)."""
    start, stop = window(end)
    slices = week_slices(start, stop)
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
            "start": start.isoformat(),
            "end": stop.isoformat(),
        }
        if spot.pattern == "emerging":
            item["expected_trend"] = "intensifying_hot"
            item["weekly_slices"] = [a.isoformat() for a, _ in slices]
            item["weekly_counts"] = emerging_weekly_counts(count, len(slices))
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
        **(planted or {}),
    }
