"""Planted violations and planted ordinary life, with the answer key the alert rules are measured
against (docs/demo-data.md, "Violations and ordinary life").

The generator first draws everybody's routine (``geo.demo.generate``); this module then picks
disjoint groups of people and gives each a part: overstayers keep being sighted after their permit
expired, PLB holders travel far outside the PLB area, visitors cross the border away from the
crossing posts, KITAS holders work at a workplace other than their sponsor; and, as controls that
must *not* raise alerts, PLB holders who live in the border band and are seen at home daily, PLB
holders who shop inside the PLB area, and workers who commute every day between home and the
sponsor's site. Planted incident clusters replace a few background incidents. Everything draws
from generators of its own (``default_rng([seed, k])``), so the incidents of the planted hotspots
stay exactly as they were.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely

from geo.demo.sampling import (
    M_PER_DEG,
    Geography,
    around,
    in_polygon,
    iso,
    metres_to,
    near_border_within,
    times,
)
from geo.demo.truth import HOTSPOTS, WINDOW_DAYS

# How many of each part per 300 foreigners (the small set); the large set scales them.
PER_300: Final = {
    "overstay": 8,
    "plb_far_outside": 8,
    "unofficial_crossing": 8,
    "work_elsewhere": 6,
    "incident_cluster": 5,
    "border_resident": 8,
    "plb_shopper": 8,
    "commuter": 8,
}
# What the parts mean, in metres.
CROSSING_POST_CLEARANCE_M: Final = 2_000.0  # an unofficial crossing is at least this far from posts
CROSSING_NEAR_BORDER_M: Final = 500.0  # its sightings lie within this of the border line
PLB_TRIP_MIN_OUTSIDE_M: Final = 10_000.0  # a planted PLB trip goes at least this far outside
WORK_ELSEWHERE_MIN_M: Final = 40_000.0  # the other workplace is this far from the sponsor
BORDER_BAND_M: Final = 2_000.0  # the near-border band of the border rule's default
# A planted incident cluster is a new one: no other incident within this of its centre in the
# four weeks before it nor while it lasts. Any incident in a 2 km square of the cluster rule's
# grid that the cluster (300 m across) touches lies within 3.2 km of its centre, and the rule's
# window (14 days) plus its quiet days (14) is how far back another cluster could keep such a
# square's episode open (docs/alerts.md).
CLUSTER_CLEARANCE_M: Final = 3_500.0
CLUSTER_QUIET_BEFORE_DAYS: Final = 28.0
COMMUTE_M: Final = (8_000.0, 18_000.0)  # a commuter's home from the sponsor's site
RESIDENT_DAILY: Final = 40  # extra home sightings of each border resident
SHOPPER_TRIPS: Final = 24  # extra market sightings of each PLB shopper
COMMUTER_DAYS: Final = 20  # extra home + work sighting pairs of each commuter
VIOLATING_WORKPLACES_PER_60: Final = 10  # planted violating workplaces per 60 workplaces
EXPIRED_PER_WORKPLACE: Final = 2  # overstaying workers at each expired-permit workplace
# Which hotspots get a workplace at their centre (the place their incidents are about).
HOTSPOT_SECTORS: Final = {
    "Pelabuhan perikanan Pemangkat": "fishing",
    "Kebun sawit Galing": "plantation",
    "Kebun sawit Sejangkung": "plantation",
}
RULES: Final = {
    "overstay": ["expired_permit_sighting"],
    "plb_far_outside": ["plb_outside_area"],
    "unofficial_crossing": ["sighting_near_border"],
    "work_elsewhere": ["far_from_sponsor"],
    "incident_cluster": ["incident_cluster"],
}
WIB: Final = dt.timezone(dt.timedelta(hours=7))


def part_counts(n_foreigners: int) -> dict[str, int]:
    scale = n_foreigners / 300
    return {k: max(1, round(v * scale)) for k, v in PER_300.items()}


@dataclass
class Plan:
    """Who plays which part, and the planted sighting rows (``tag`` names the truth entry)."""

    roles: dict[str, np.ndarray]
    expiry_day: np.ndarray  # per foreigner: day of the window on which the permit expires
    elsewhere: dict[int, int] = field(default_factory=dict)  # foreigner row -> workplace row
    hotspot_workplaces: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)

    def role_of(self, n: int) -> np.ndarray:
        out = np.full(n, "", dtype=object)
        for role, rows in self.roles.items():
            out[rows] = role
        return out


def place_hotspot_workplaces(workplaces: pd.DataFrame) -> dict[str, int]:
    """Move one workplace of the right sector to each plantation/port hotspot's centre."""
    taken: set[int] = set()
    placed: dict[str, int] = {}
    quota = workplaces["foreign_worker_quota"].to_numpy()
    for spot in HOTSPOTS:
        sector = HOTSPOT_SECTORS.get(spot.name)
        if sector is None:
            continue
        rows = [
            int(i)
            for i in np.flatnonzero(workplaces["sector"].to_numpy() == sector)
            if int(i) not in taken and quota[int(i)] > 0
        ]
        if not rows:
            continue
        row = rows[0]
        taken.add(row)
        workplaces.loc[row, ["lon", "lat"]] = [round(spot.lon, 6), round(spot.lat, 6)]
        placed[spot.name] = row
    return placed


def _day_of(date: pd.Timestamp, start_date: dt.date) -> int:
    return (date.date() - start_date).days


def plan_roles(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    start: dt.datetime,
    hotspot_workplaces: dict[str, int],
) -> Plan:
    """Pick disjoint groups for each part and adjust their permits and homes (in place)."""
    n = len(foreigners)
    want = part_counts(n)
    start_date = start.astimezone(WIB).date()
    permit = foreigners["permit_type"].to_numpy()
    sponsor_refs = foreigners["sponsor_ref"].to_numpy()
    wp_index = {r: i for i, r in enumerate(workplaces["external_ref"])}
    sponsor = np.array([wp_index.get(r, -1) if r is not None else -1 for r in sponsor_refs])
    home = foreigners[["lon", "lat"]].to_numpy(dtype=float, copy=True)
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    border = geo.border
    home_border_m = metres_to(home, border)
    free = np.ones(n, dtype=bool)

    def pick(candidates: np.ndarray, k: int) -> np.ndarray:
        pool = np.flatnonzero(candidates & free)
        chosen = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
        free[chosen] = False
        return chosen

    is_plb = permit == "PLB"
    roles: dict[str, np.ndarray] = {}
    # Violating workplaces: some employ overstayers, some hidden workers (sponsored elsewhere),
    # some more workers than their quota (set below, once everybody's status is known).
    n_wp = len(workplaces)
    kitas = (permit == "KITAS") & (sponsor >= 0)
    kitas_per_wp = np.bincount(sponsor[kitas], minlength=n_wp)
    wp_border_m = metres_to(wp_xy, border)
    k_wp = max(3, round(VIOLATING_WORKPLACES_PER_60 * n_wp / 60))
    k_expired = max(1, min(k_wp // 3, want["overstay"] // EXPIRED_PER_WORKPLACE))
    k_hidden = max(1, k_wp // 3)
    taken = np.zeros(n_wp, dtype=bool)

    def pick_workplaces(eligible: np.ndarray, k: int) -> np.ndarray:
        pool = np.flatnonzero(eligible & ~taken)
        chosen = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
        taken[chosen] = True
        return chosen

    expired_wps = pick_workplaces(kitas_per_wp >= EXPIRED_PER_WORKPLACE + 1, k_expired)
    hidden_wps = pick_workplaces(wp_border_m > 3_000, k_hidden)
    over_quota_k = k_wp - len(expired_wps) - len(hidden_wps)
    workers = [
        pick(kitas & (sponsor == w), EXPIRED_PER_WORKPLACE)  # overstayers at these sites
        for w in expired_wps
    ]
    rest = want["overstay"] - sum(len(x) for x in workers)
    roles["overstay"] = np.sort(
        np.concatenate(
            [*workers, pick(np.isin(permit, ["VISA_KUNJUNGAN", "VOA"]) & (sponsor < 0), rest)]
        ).astype(int)
    )
    roles["plb_far_outside"] = pick(is_plb, want["plb_far_outside"])
    roles["border_resident"] = pick(is_plb, want["border_resident"])
    roles["plb_shopper"] = pick(is_plb, want["plb_shopper"])
    roles["unofficial_crossing"] = pick(
        np.isin(permit, ["VISA_KUNJUNGAN", "VOA", "KITAP"])
        & (sponsor < 0)
        & (home_border_m > 10_000),
        want["unofficial_crossing"],
    )
    # The other workplace: far from the sponsor and from home, away from the border band; one
    # of the planted hidden-worker sites where one is that far.
    elsewhere: dict[int, int] = {}
    hidden = np.isin(np.arange(n_wp), hidden_wps)
    candidates = np.flatnonzero(kitas & free)
    for f in rng.permutation(candidates):
        if len(elsewhere) >= want["work_elsewhere"]:
            break
        d_sponsor = np.hypot(*(wp_xy - wp_xy[sponsor[f]]).T) * M_PER_DEG
        d_home = np.hypot(*(wp_xy - home[f]).T) * M_PER_DEG
        ok = np.flatnonzero(
            (d_sponsor > WORK_ELSEWHERE_MIN_M) & (d_home > 30_000) & (wp_border_m > 3_000)
        )
        if len(ok):
            preferred = ok[hidden[ok]]
            elsewhere[int(f)] = int(rng.choice(preferred if len(preferred) else ok))
            free[f] = False
    roles["work_elsewhere"] = np.array(sorted(elsewhere), dtype=int)
    roles["commuter"] = pick(kitas, want["commuter"])

    # Permits: overstayers expired 40-150 days before the end; every other planted person holds
    # a permit valid past the end (so each part raises only its own rule).
    end_date = start_date + dt.timedelta(days=WINDOW_DAYS)
    expires = pd.to_datetime(foreigners["permit_expires_on"])
    for role, rows in roles.items():
        if not len(rows):
            continue
        if role == "overstay":
            days = -rng.integers(40, 150, len(rows))
        elif role in ("plb_far_outside", "border_resident", "plb_shopper"):
            days = rng.integers(45, 90, len(rows))
        else:
            days = rng.integers(60, 700, len(rows))
        expires.iloc[rows] = pd.to_datetime(end_date) + pd.to_timedelta(days, unit="D")
    foreigners["permit_expires_on"] = expires.dt.strftime("%Y-%m-%d")
    foreigners.loc[np.concatenate(list(roles.values())), "status"] = "active"
    # Whoever's permit ran out and is not a planted overstayer has left the country.
    left = (expires < pd.Timestamp(end_date)).to_numpy(copy=True)
    left[roles["overstay"]] = False
    foreigners.loc[left, "status"] = "departed"
    # Quotas: every workplace holds its active sponsored workers, except the planted ones over
    # their quota, which hold one to three fewer.
    active = (foreigners["status"] == "active").to_numpy() & (sponsor >= 0)
    employed = np.bincount(sponsor[active], minlength=n_wp)
    quota = np.maximum(workplaces["foreign_worker_quota"].to_numpy(dtype=int), employed)
    over_quota = pick_workplaces(employed >= 3, over_quota_k)
    quota[over_quota] = employed[over_quota] - rng.integers(1, 4, len(over_quota))
    quota[over_quota] = np.maximum(quota[over_quota], 1)
    workplaces["foreign_worker_quota"] = quota

    # Homes: every PLB holder inside the PLB area near the border; border residents within the
    # border band, away from the crossing posts; commuters 8-18 km from the sponsor's site.
    plb_rows = np.flatnonzero(is_plb)
    outside = plb_rows[~shapely.contains_xy(geo.plb_area, home[plb_rows, 0], home[plb_rows, 1])]
    home[outside] = near_border_within(rng, geo, len(outside), 1_000.0, 12_000.0, geo.plb_area)
    residents = roles["border_resident"]
    if len(residents):
        pts = np.empty((0, 2))
        while len(pts) < len(residents):
            cand = near_border_within(rng, geo, 8, 300.0, 1_800.0, geo.plb_area)
            far = _metres_to_points(cand, geo.crossing_posts).min(axis=1) > 3_000
            pts = np.vstack([pts, cand[far]])
        home[residents] = pts[: len(residents)]
    for f in roles["commuter"]:
        base = wp_xy[sponsor[f]]
        for _ in range(200):
            angle = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(*COMMUTE_M) / M_PER_DEG
            cand = base + dist * np.array([np.cos(angle), np.sin(angle)])
            if geo.kabupaten.contains(shapely.Point(cand)):
                home[f] = cand
                break
    foreigners["lon"] = home[:, 0].round(6)
    foreigners["lat"] = home[:, 1].round(6)
    expiry_day = np.array([_day_of(d, start_date) for d in pd.to_datetime(expires)])
    return Plan(
        roles=roles,
        expiry_day=expiry_day,
        elsewhere=elsewhere,
        hotspot_workplaces=hotspot_workplaces,
    )


def _metres_to_points(xy: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Metres from each of ``xy`` to each of ``points`` (n x k)."""
    d = xy[:, None, :] - points[None, :, :]
    metres: np.ndarray = np.hypot(d[..., 0], d[..., 1]) * M_PER_DEG
    return metres


def _row(
    who: int,
    day: int,
    hour: float,
    xy: np.ndarray,
    source: str,
    tag: str,
    reported_by: str | None = None,
) -> dict[str, Any]:
    return {
        "who": who,
        "day": day,
        "hour": float(hour),
        "lon": float(xy[0]),
        "lat": float(xy[1]),
        "source": source,
        "tag": tag,
        "reported_by": reported_by,
    }


def plant_sightings(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    plan: Plan,
    towns: dict[str, tuple[float, float]],
) -> None:
    """The violations' sighting rows and their truth entries (``plan.rows``, ``plan.entries``)."""
    home = foreigners[["lon", "lat"]].to_numpy(dtype=float)
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    sponsor_of = dict(zip(foreigners.index, foreigners["sponsor_ref"], strict=True))
    refs = foreigners["external_ref"].to_numpy()
    wrefs = workplaces["external_ref"].to_numpy()
    hotels = np.flatnonzero(workplaces["sector"].to_numpy() == "hospitality")
    n_entry = 0

    def entry(kind: str, subject: dict[str, list[str]], **extra: Any) -> str:
        nonlocal n_entry
        n_entry += 1
        tag = f"V-{n_entry:04d}"
        plan.entries.append(
            {"id": tag, "kind": kind, "rules": RULES[kind], "subject": subject, **extra}
        )
        return tag

    # Overstays: three evening sightings at home after the expiry (the routine goes on as well).
    for f in plan.roles["overstay"]:
        tag = entry("overstay", {"foreigners": [refs[f]]})
        first = int(plan.expiry_day[f]) + 1
        for day in np.sort(rng.integers(first, WINDOW_DAYS, 3)):
            xy = around(rng, home[f][None], 150.0, geo.kabupaten, 600.0)[0]
            plan.rows.append(_row(int(f), int(day), rng.uniform(18, 21), xy, "patrol", tag))

    # PLB holders far outside the PLB area: a one- to three-day trip to a town, with a lodging
    # report each night.
    far_towns = [
        (name, xy)
        for name, xy in towns.items()
        if metres_to(np.array([xy]), geo.plb_area)[0] > PLB_TRIP_MIN_OUTSIDE_M + 3_000
    ]
    for f in plan.roles["plb_far_outside"]:
        name, centre = far_towns[int(rng.integers(len(far_towns)))]
        tag = entry("plb_far_outside", {"foreigners": [refs[f]]}, where=name)
        day0 = int(rng.integers(20, WINDOW_DAYS - 5))
        nights = int(rng.integers(1, 4))
        town_hotels = [h for h in hotels if np.hypot(*(wp_xy[h] - centre)) * M_PER_DEG < 5_000]
        for k in range(nights):
            xy = around(rng, np.array([centre]), 600.0, geo.kabupaten, 2_000.0)[0]
            plan.rows.append(_row(int(f), day0 + k, rng.uniform(9, 16), xy, "patrol", tag))
            if town_hotels:
                h = int(town_hotels[int(rng.integers(len(town_hotels)))])
                xy = around(rng, wp_xy[h][None], 20.0, geo.kabupaten, 60.0)[0]
                hotel = str(workplaces["name"].iat[h])
                plan.rows.append(
                    _row(int(f), day0 + k, rng.uniform(19, 23), xy, "lodging", tag, hotel)
                )

    # Unofficial crossings: near a border point away from every crossing post; half beside the
    # planted jalur tikus hotspot, half anywhere along the regency's border.
    trail = next(h for h in HOTSPOTS if "tikus" in h.name)
    for i, f in enumerate(plan.roles["unofficial_crossing"]):
        point = _crossing_point(rng, geo, (trail.lon, trail.lat) if i % 2 == 0 else None)
        tag = entry(
            "unofficial_crossing",
            {"foreigners": [refs[f]]},
            where={"lon": round(float(point[0]), 6), "lat": round(float(point[1]), 6)},
        )
        day = int(rng.integers(10, WINDOW_DAYS - 2))
        for hour, side in [(rng.uniform(5, 7), True), (rng.uniform(7.5, 9), False)] + (
            [(rng.uniform(15, 18), True)] if rng.uniform() < 0.5 else []
        ):
            xy = _beside(rng, geo, point, indonesian_side=side)
            plan.rows.append(_row(int(f), day, hour, xy, "patrol", tag))

    # Work at a workplace other than the sponsor: weeks of daytime sightings there.
    for f, w in plan.elsewhere.items():
        tag = entry(
            "work_elsewhere",
            {"foreigners": [refs[f]], "workplaces": [wrefs[w], sponsor_of[f]]},
            workplace=wrefs[w],
            sponsor=sponsor_of[f],
        )
        day0 = int(rng.integers(30, WINDOW_DAYS - 45))
        span = int(rng.integers(14, 43))
        for day in np.sort(rng.integers(day0, day0 + span, int(rng.integers(6, 13)))):
            xy = around(rng, wp_xy[w][None], 150.0, geo.kabupaten, 400.0)[0]
            plan.rows.append(_row(int(f), int(day), rng.uniform(8, 16), xy, "patrol", tag))


def _crossing_point(
    rng: np.random.Generator, geo: Geography, near: tuple[float, float] | None
) -> np.ndarray:
    """A point on the border line at least the clearance (+ margin) from every crossing post."""
    p = geo.border_lengths / geo.border_lengths.sum()
    for _ in range(10_000):
        part = int(rng.choice(len(geo.border_parts), p=p))
        if near is not None:
            at = shapely.line_locate_point(geo.border_parts[part], shapely.Point(near))
            at += rng.uniform(-3_000, 3_000) / M_PER_DEG
        else:
            at = rng.uniform(0, 1) * geo.border_lengths[part]
        pt = shapely.line_interpolate_point(geo.border_parts[part], at)
        xy = np.array([pt.x, pt.y])
        clear = _metres_to_points(xy[None], geo.crossing_posts).min() > (
            CROSSING_POST_CLEARANCE_M + 800
        )
        beside_regency = geo.kabupaten.distance(pt) * M_PER_DEG < 200
        if clear and beside_regency:
            return xy
    raise RuntimeError("no border point away from the crossing posts")


def _beside(
    rng: np.random.Generator, geo: Geography, point: np.ndarray, *, indonesian_side: bool
) -> np.ndarray:
    """A point within ~400 m of ``point``, on the chosen side, within the near-border limit."""
    border = geo.border.intersection(shapely.Point(point).buffer(0.02))  # the line nearby
    for _ in range(10_000):
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(50, 400) / M_PER_DEG
        xy = point + dist * np.array([np.cos(angle), np.sin(angle)])
        at = shapely.Point(xy)
        if indonesian_side:
            on_side = bool(geo.kabupaten.contains(at))
        elif geo.malaysia is not None:
            on_side = bool(geo.malaysia.contains(at))
        else:
            on_side = not geo.kabupaten.contains(at)
        d = metres_to(xy[None], border)[0]
        if on_side and 30 < d < CROSSING_NEAR_BORDER_M - 50:
            return xy
    raise RuntimeError("no point beside the crossing point")


def plant_incident_clusters(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    incidents: pd.DataFrame,
    k: int,
    start: dt.datetime,
    plan: Plan,
) -> None:
    """Turn background incidents (not tied to a workplace) into ``k`` tight clusters: three or
    four incidents within 300 m over at most five days, far from workplaces and hotspots, at a
    quiet place: no other incident within ``CLUSTER_CLEARANCE_M`` from
    ``CLUSTER_QUIET_BEFORE_DAYS`` before the cluster to its end (a new cluster, not more of one
    already forming there; the large set's background is dense enough for both)."""
    background = np.flatnonzero(
        incidents["workplace_ref"].isna().to_numpy()
        & ~incidents.index.isin(range(_n_hotspot_rows(incidents)))
    )
    avoid = np.vstack(
        [workplaces[["lon", "lat"]].to_numpy(dtype=float), [[h.lon, h.lat] for h in HOTSPOTS]]
    )
    at_xy = incidents[["lon", "lat"]].to_numpy(dtype=float, copy=True)
    at_day = (
        pd.to_datetime(incidents["occurred_at"]) - pd.Timestamp(start)
    ).dt.total_seconds().to_numpy(copy=True) / 86400
    rows = rng.permutation(background)
    used = 0
    for _ in range(k):
        size = int(rng.integers(3, 5))
        if used + size > len(rows):
            break
        members = rows[used : used + size]
        used += size
        others = np.ones(len(incidents), dtype=bool)
        others[members] = False
        for _attempt in range(10_000):
            centre = in_polygon(rng, geo.kabupaten, 1)[0]
            day0 = rng.uniform(14, WINDOW_DAYS - 6)
            if _metres_to_points(centre[None], avoid).min() <= 3_000:
                continue
            near = others & (at_day >= day0 - CLUSTER_QUIET_BEFORE_DAYS) & (at_day <= day0 + 5)
            if not near.any() or (
                _metres_to_points(centre[None], at_xy[near]).min() > CLUSTER_CLEARANCE_M
            ):
                break
        else:
            raise RuntimeError("no quiet place for a planted incident cluster")
        days = np.sort(day0 + rng.uniform(0, 5, size))
        whole = np.floor(days)
        when = times(rng, start, whole, (days - whole) * 24.0)
        xy = around(rng, np.tile(centre, (size, 1)), 120.0, geo.kabupaten, 300.0)
        kind = str(rng.choice(["smuggling", "social_unrest", "document_fraud"]))
        incidents.loc[members, "kind"] = kind
        incidents.loc[members, "occurred_at"] = iso(when)
        incidents.loc[members, "lon"] = xy[:, 0].round(6)
        incidents.loc[members, "lat"] = xy[:, 1].round(6)
        at_xy[members] = xy.round(6)
        at_day[members] = (when - np.datetime64(start.replace(tzinfo=None), "s")).astype(
            np.int64
        ) / 86400
        plan.clusters.append(
            {
                "rows": [int(m) for m in members],
                "centre": {"lon": round(float(centre[0]), 6), "lat": round(float(centre[1]), 6)},
                "kind": kind,
            }
        )


def _n_hotspot_rows(incidents: pd.DataFrame) -> int:
    from geo.demo.truth import planted_counts as hotspot_counts

    return sum(hotspot_counts(len(incidents)))


def _period(stamps: pd.Series) -> dict[str, str]:
    return {"start": stamps.min().isoformat(), "end": stamps.max().isoformat()}


def truth_sections(
    *,
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    incidents: pd.DataFrame,
    sightings: pd.DataFrame,
    plan: Plan,
    tags: np.ndarray,
    geo: Geography,
    end: dt.date,
) -> dict[str, Any]:
    """The ``violations``, ``expected`` and ``ordinary`` sections of the answer key."""
    refs = foreigners["external_ref"].to_numpy()
    stamps = pd.to_datetime(sightings["observed_at"])
    s_refs = sightings["external_ref"].to_numpy()
    by_tag = pd.Series(np.arange(len(tags))).groupby(tags).indices
    overstayers = set(refs[plan.roles["overstay"]])
    person = sightings["foreigner_ref"]
    mine_rows = person[person.isin(overstayers)]
    by_person = pd.Series(mine_rows.index.to_numpy()).groupby(mine_rows.to_numpy()).indices
    wib_date = stamps.iloc[mine_rows.index].dt.tz_convert(WIB).dt.strftime("%Y-%m-%d")
    expires_of = dict(zip(foreigners["external_ref"], foreigners["permit_expires_on"], strict=True))
    violations: list[dict[str, Any]] = []
    for e in plan.entries:
        rows = by_tag.get(e["id"], np.array([], dtype=int))
        item = {**e, **_period(stamps.iloc[rows])}
        if e["kind"] == "overstay":
            # Every sighting after the expiry (WIB date), planted or routine.
            f_ref = e["subject"]["foreigners"][0]
            expires = expires_of[f_ref]
            candidates = mine_rows.index.to_numpy()[by_person[f_ref]]
            rows = candidates[(wib_date.loc[candidates] > expires).to_numpy()]
            item.update(_period(stamps.iloc[rows]), permit_expires_on=expires)
        item["evidence"] = {"sightings": s_refs[np.sort(rows)].tolist()}
        violations.append(item)
    i_stamps = pd.to_datetime(incidents["occurred_at"])
    i_refs = incidents["external_ref"].to_numpy()
    for n, cluster in enumerate(plan.clusters, start=1):
        rows = cluster["rows"]
        violations.append(
            {
                "id": f"C-{n:04d}",
                "kind": "incident_cluster",
                "rules": RULES["incident_cluster"],
                "subject": {"incidents": [str(i_refs[r]) for r in rows]},
                "where": cluster["centre"],
                **_period(i_stamps.iloc[rows]),
            }
        )
    return {
        "violations": violations,
        "expected": _expected(workplaces, foreigners, incidents, plan, end),
        "ordinary": _ordinary(foreigners, plan, refs, geo),
        "workplaces": _violating_workplaces(workplaces, foreigners, plan, end, stamps),
    }


def _violating_workplaces(
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    plan: Plan,
    end: dt.date,
    stamps: pd.Series,
) -> list[dict[str, Any]]:
    """Every workplace that breaks a rule of its own, from the data: more active sponsored
    workers than its quota, workers sponsored elsewhere seen working there, active workers whose
    permit has expired. Only the planted ones do; the rest keep within their quota."""
    refs = foreigners["external_ref"].to_numpy()
    active = (foreigners["status"] == "active").to_numpy()
    sponsor = foreigners["sponsor_ref"].to_numpy()
    expired = (pd.to_datetime(foreigners["permit_expires_on"]) < pd.Timestamp(end)).to_numpy()
    hidden: dict[str, list[str]] = {}
    for f, w in sorted(plan.elsewhere.items()):
        hidden.setdefault(str(workplaces["external_ref"].iat[w]), []).append(str(refs[f]))
    out: list[dict[str, Any]] = []
    for w_ref, quota in zip(
        workplaces["external_ref"], workplaces["foreign_worker_quota"], strict=True
    ):
        mine = active & (sponsor == w_ref)
        late = refs[mine & expired].tolist()
        found: list[str] = []
        if mine.sum() > quota:
            found.append("over_quota")
        if w_ref in hidden:
            found.append("hidden_workers")
        if late:
            found.append("expired_permits")
        if not found:
            continue
        out.append(
            {
                "id": f"WP-{len(out) + 1:04d}",
                "kind": "violating_workplace",
                "violations": found,
                "subject": {
                    "workplaces": [w_ref],
                    "foreigners": sorted({*late, *hidden.get(w_ref, [])}),
                },
                "active_sponsored": int(mine.sum()),
                "foreign_worker_quota": int(quota),
                "hidden_workers": hidden.get(w_ref, []),
                "expired_workers": late,
                "start": stamps.min().isoformat(),
                "end": stamps.max().isoformat(),
            }
        )
    return out


def _expected(
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    incidents: pd.DataFrame,
    plan: Plan,
    end: dt.date,
) -> list[dict[str, Any]]:
    """Rule hits the data implies besides the planted violations: the hotspots' incidents (at
    their workplace, in clusters), incidents reported at a workplace, permits about to expire."""
    out: list[dict[str, Any]] = []
    i_refs = incidents["external_ref"].to_numpy()
    i_stamps = pd.to_datetime(incidents["occurred_at"])
    wrefs = workplaces["external_ref"].to_numpy()
    first = 0
    from geo.demo.truth import planted_counts as hotspot_counts

    for spot, count in zip(HOTSPOTS, hotspot_counts(len(incidents)), strict=True):
        rows = range(first, first + count)
        first += count
        w = plan.hotspot_workplaces.get(spot.name)
        subject: dict[str, list[str]] = {"incidents": [str(i_refs[r]) for r in rows]}
        rules = ["incident_cluster"]
        if w is not None:
            subject["workplaces"] = [str(wrefs[w])]
            rules.append("incident_near_workplace")
        out.append(
            {
                "id": f"H-{len(out) + 1:04d}",
                "kind": "hotspot_incidents",
                "rules": rules,
                "subject": subject,
                "where": spot.name,
                **_period(i_stamps.iloc[list(rows)]),
            }
        )
    at_work = incidents[incidents["workplace_ref"].notna()]
    for w_ref, group in at_work.groupby("workplace_ref", sort=True):
        out.append(
            {
                "id": f"W-{len(out) + 1:04d}",
                "kind": "incident_at_workplace",
                "rules": ["incident_near_workplace", "incident_cluster"],
                "subject": {"incidents": group["external_ref"].tolist(), "workplaces": [w_ref]},
                **_period(pd.to_datetime(group["occurred_at"])),
            }
        )
    days_left = (pd.to_datetime(foreigners["permit_expires_on"]) - pd.Timestamp(end)).dt.days
    notice = foreigners[(days_left >= 0) & (days_left <= 30) & (foreigners["status"] == "active")]
    if len(notice):
        wib_end = dt.datetime.combine(end, dt.time(0), tzinfo=WIB)
        out.append(
            {
                "id": f"P-{len(out) + 1:04d}",
                "kind": "permit_notice",
                "rules": ["permit_expiring"],
                "subject": {"foreigners": notice["external_ref"].tolist()},
                "start": (wib_end - dt.timedelta(days=31)).astimezone(dt.UTC).isoformat(),
                "end": (wib_end + dt.timedelta(days=31)).astimezone(dt.UTC).isoformat(),
                "today": end.isoformat(),
            }
        )
    return out


def _ordinary(
    foreigners: pd.DataFrame, plan: Plan, refs: np.ndarray, geo: Geography
) -> list[dict[str, Any]]:
    """Routine that must not raise an alert: who lives in the border band, who shops inside the
    PLB area, who commutes between home and the sponsor's site."""
    home = foreigners[["lon", "lat"]].to_numpy(dtype=float)
    in_band = (metres_to(home, geo.border) <= BORDER_BAND_M - 100) & shapely.contains_xy(
        geo.kabupaten, home[:, 0], home[:, 1]
    )
    busy = np.zeros(len(foreigners), dtype=bool)
    busy[plan.roles["border_resident"]] = True
    return [
        {
            "kind": "border_resident",
            "rules_not_expected": ["sighting_near_border"],
            "about": "lives in the border band and is seen at home daily",
            "subject": {"foreigners": refs[plan.roles["border_resident"]].tolist()},
        },
        {
            "kind": "lives_in_border_band",
            "rules_not_expected": ["sighting_near_border"],
            "about": "every other person whose home lies in the border band, planted or not",
            "subject": {"foreigners": refs[in_band & ~busy].tolist()},
        },
        {
            "kind": "plb_shopper",
            "rules_not_expected": ["plb_outside_area", "sighting_near_border"],
            "about": "PLB holder shopping at markets inside the PLB area",
            "subject": {"foreigners": refs[plan.roles["plb_shopper"]].tolist()},
        },
        {
            "kind": "commuter",
            "rules_not_expected": ["far_from_sponsor"],
            "about": "daily between home (8-18 km away) and the sponsor's site",
            "subject": {"foreigners": refs[plan.roles["commuter"]].tolist()},
        },
    ]
