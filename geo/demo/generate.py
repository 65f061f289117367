"""Generate the demo tables with numpy (vectorised, deterministic for a seed). Pure given the
geography; ``load_geography`` reads that from the reference layers in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely
from faker import Faker
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.demo.truth import (
    HOTSPOTS,
    emerging_weekly_counts,
    planted_counts,
    week_slices,
    window,
)
from geo.errors import ConfigurationError

SIZES: Final = {
    "small": {"workplaces": 60, "foreigners": 300, "incidents": 400, "sightings": 20_000},
    "large": {
        "workplaces": 600,
        "foreigners": 10_000,
        "incidents": 100_000,
        "sightings": 1_000_000,
    },
}
M_PER_DEG: Final = 111_320.0
TOWNS: Final = {"Sambas": (109.3100, 1.3612), "Pemangkat": (108.9750, 1.1700)}
PLBN_ARUK: Final = (109.6773, 1.6110)

# sector → (share, kecamatan where it sits, "town" = near a town centre)
SECTOR_PLAN: Final = (
    ("plantation", 0.40, ("Sajingan Besar", "Galing", "Subah", "Sejangkung")),
    ("fishing", 0.18, ("Pemangkat", "Paloh", "Jawai")),
    ("trade", 0.15, ("town:Sambas", "town:Pemangkat")),
    ("hospitality", 0.12, ("town:Sambas", "town:Pemangkat")),
    ("construction", 0.06, ("Sambas", "Tebas", "Sajingan Besar")),
    ("mining", 0.04, ("Subah", "Sajingan Besar")),
    ("education_religious", 0.03, ("Sambas", "Tebas")),
    ("ngo", 0.02, ("Sambas", "Paloh")),
)
SECTOR_WORDS: Final = {
    "plantation": "PT Sawit",
    "fishing": "UD Perikanan",
    "trade": "Toko",
    "hospitality": "Hotel",
    "construction": "CV Konstruksi",
    "mining": "PT Tambang",
    "education_religious": "Yayasan",
    "ngo": "Lembaga",
}
NATIONALITIES: Final = (  # code, share, Faker locale
    ("MYS", 0.50, "id_ID"),
    ("CHN", 0.18, "zh_CN"),
    ("VNM", 0.09, "vi_VN"),
    ("IND", 0.07, "en_IN"),
    ("PHL", 0.04, "fil_PH"),
    ("THA", 0.03, "th_TH"),
    ("KOR", 0.03, "ko_KR"),
    ("AUS", 0.02, "en_AU"),
    ("NLD", 0.01, "nl_NL"),
    ("USA", 0.01, "en_US"),
    ("JPN", 0.02, "ja_JP"),
)
PERMITS_MYS: Final = (
    ("PLB", 0.55),
    ("VISA_KUNJUNGAN", 0.15),
    ("KITAS", 0.17),
    ("KITAP", 0.05),
    ("VOA", 0.05),
    ("OTHER", 0.03),
)
PERMITS_OTHER: Final = (
    ("KITAS", 0.58),
    ("KITAP", 0.10),
    ("VISA_KUNJUNGAN", 0.15),
    ("VOA", 0.12),
    ("OTHER", 0.05),
)
BACKGROUND_KINDS: Final = {
    "workplace": (
        ("illegal_work", 0.5),
        ("permit_misuse", 0.25),
        ("overstay", 0.15),
        ("document_fraud", 0.10),
    ),
    "border": (
        ("illegal_entry", 0.5),
        ("smuggling", 0.35),
        ("human_trafficking", 0.1),
        ("other", 0.05),
    ),
    "town": (
        ("overstay", 0.45),
        ("document_fraud", 0.2),
        ("social_unrest", 0.15),
        ("permit_misuse", 0.1),
        ("other", 0.1),
    ),
}
KIND_LABELS: Final = {
    "overstay": "melebihi izin tinggal",
    "illegal_work": "bekerja tanpa izin",
    "illegal_entry": "masuk lewat jalan tikus",
    "permit_misuse": "penyalahgunaan izin",
    "document_fraud": "dokumen palsu",
    "smuggling": "penyelundupan",
    "human_trafficking": "dugaan TPPO",
    "social_unrest": "keresahan sosial",
    "other": "lainnya",
}


@dataclass
class Geography:
    kecamatan: dict[str, BaseGeometry]  # name → polygon (EPSG:4326)
    kabupaten: BaseGeometry
    border_parts: np.ndarray  # LineStrings of the border near the regency
    border_lengths: np.ndarray


@dataclass
class DemoData:
    workplaces: pd.DataFrame
    foreigners: pd.DataFrame
    incidents: pd.DataFrame
    sightings: pd.DataFrame

    def tables(self) -> list[tuple[str, pd.DataFrame]]:
        return [
            ("workplaces", self.workplaces),
            ("foreigners", self.foreigners),
            ("incidents", self.incidents),
            ("sightings", self.sightings),
        ]


def load_geography(session: Session) -> Geography:
    rows = session.execute(
        text(
            "SELECT name, level, ST_AsBinary(geom) FROM admin_area "
            "WHERE level IN ('kabupaten', 'kecamatan') ORDER BY code"
        )
    ).all()
    kec = {str(r[0]): shapely.from_wkb(bytes(r[2])) for r in rows if r[1] == "kecamatan"}
    kab = [shapely.from_wkb(bytes(r[2])) for r in rows if r[1] == "kabupaten"]
    if not kec or not kab:
        raise ConfigurationError(
            "demo data needs the reference geography; run: timpora boundaries load"
        )
    border = (
        session.execute(
            text(
                "SELECT ST_AsBinary(ST_Intersection(r.geom, ST_Expand(k.geom, 0.05))) "
                "FROM reference_feature r, admin_area k "
                "WHERE r.kind = 'border' AND k.level = 'kabupaten'"
            )
        )
        .scalars()
        .all()
    )
    parts = shapely.get_parts([shapely.from_wkb(bytes(b)) for b in border if b is not None])
    parts = parts[shapely.get_type_id(parts) == 1]
    if len(parts) == 0:
        raise ConfigurationError("demo data needs the border line; run: timpora boundaries load")
    lengths = shapely.length(parts)
    kabupaten = shapely.union_all(kab)
    shapely.prepare(kabupaten)
    for geom in kec.values():
        shapely.prepare(geom)
    return Geography(kecamatan=kec, kabupaten=kabupaten, border_parts=parts, border_lengths=lengths)


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = np.array([o[0] for o in options], dtype=object)
    p = np.array([o[1] for o in options], dtype=float)
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def _in_polygon(rng: np.random.Generator, polygon: BaseGeometry, n: int) -> np.ndarray:
    minx, miny, maxx, maxy = polygon.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        x = rng.uniform(minx, maxx, 4 * n + 16)
        y = rng.uniform(miny, maxy, 4 * n + 16)
        ok = shapely.contains_xy(polygon, x, y)
        out = np.vstack([out, np.column_stack([x[ok], y[ok]])])
    return out[:n]


def _around(
    rng: np.random.Generator,
    xy: np.ndarray,
    sd_m: float,
    inside: BaseGeometry,
    max_m: float | None = None,
) -> np.ndarray:
    """Gaussian scatter around points (metres), kept inside ``inside`` (else the base point)."""
    offset = rng.normal(0.0, sd_m, size=xy.shape)
    if max_m is not None:
        r = np.hypot(offset[:, 0], offset[:, 1])
        scale = np.where(r > max_m, max_m / np.maximum(r, 1e-9) * rng.uniform(0, 1, len(r)), 1.0)
        offset *= scale[:, None]
    moved = xy + offset / M_PER_DEG
    ok = shapely.contains_xy(inside, moved[:, 0], moved[:, 1])
    return np.where(ok[:, None], moved, xy)


def _near_border(
    rng: np.random.Generator,
    geo: Geography,
    n: int,
    min_m: float,
    max_m: float,
    indonesian_side: bool,
) -> np.ndarray:
    """Points min..max metres from the border, on the chosen side (rejection sampling)."""
    out = np.empty((0, 2))
    p = geo.border_lengths / geo.border_lengths.sum()
    while len(out) < n:
        k = 3 * (n - len(out)) + 16
        part = rng.choice(len(geo.border_parts), size=k, p=p)
        at = rng.uniform(0, 1, k) * geo.border_lengths[part]
        base = shapely.line_interpolate_point(geo.border_parts[part], at)
        bx, by = shapely.get_x(base), shapely.get_y(base)
        angle = rng.uniform(0, 2 * np.pi, k)
        dist = rng.uniform(min_m, max_m, k) / M_PER_DEG
        x, y = bx + dist * np.cos(angle), by + dist * np.sin(angle)
        inside = shapely.contains_xy(geo.kabupaten, x, y)
        keep = inside if indonesian_side else ~inside
        # Across the border: only beside the regency (the line also runs past Bengkayang).
        if not indonesian_side:
            keep &= shapely.dwithin(geo.kabupaten, shapely.points(x, y), 0.05)
        out = np.vstack([out, np.column_stack([x[keep], y[keep]])])
    return out[:n]


def _times(
    rng: np.random.Generator, start: dt.datetime, days: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """UTC datetime64[s] for day offsets from ``start`` and WIB hours (floats)."""
    base = np.datetime64(start.replace(tzinfo=None), "s")
    seconds = (
        days.astype(np.int64) * 86400
        + (hours * 3600).astype(np.int64)
        + rng.integers(0, 60, len(days))
    )
    return base + seconds.astype("timedelta64[s]")


def _iso(stamps: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(stamps, unit="s").astype(str), "+00:00")


def generate(*, geo: Geography, seed: int, size: str, end: dt.date) -> DemoData:
    """All four tables as raw import frames (same column names as the import files)."""
    if size not in SIZES:
        raise ConfigurationError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    counts = SIZES[size]
    rng = np.random.default_rng(seed)
    start, stop = window(end)
    workplaces = _workplaces(rng, geo, counts["workplaces"], seed)
    foreigners = _foreigners(rng, geo, workplaces, counts["foreigners"], seed, end)
    incidents = _incidents(rng, geo, workplaces, counts["incidents"], start, stop)
    sightings = _sightings(rng, geo, workplaces, foreigners, counts["sightings"], start)
    return DemoData(workplaces, foreigners, incidents, sightings)


def _workplaces(rng: np.random.Generator, geo: Geography, n: int, seed: int) -> pd.DataFrame:
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    shares = np.array([s[1] for s in SECTOR_PLAN])
    sector_idx = rng.choice(len(SECTOR_PLAN), size=n, p=shares / shares.sum())
    xy = np.zeros((n, 2))
    for i, (_, _, places) in enumerate(SECTOR_PLAN):
        rows = np.flatnonzero(sector_idx == i)
        if not len(rows):
            continue
        where = rng.choice(len(places), size=len(rows))
        for j, place in enumerate(places):
            sel = rows[where == j]
            if not len(sel):
                continue
            if place.startswith("town:"):
                town = np.tile(TOWNS[place[5:]], (len(sel), 1))
                xy[sel] = _around(rng, town, 900.0, geo.kabupaten, 3000.0)
            else:
                xy[sel] = _in_polygon(rng, geo.kecamatan[place], len(sel))
    sectors = [SECTOR_PLAN[i][0] for i in sector_idx]
    names = [f"{SECTOR_WORDS[s]} {fake.last_name()} Contoh {i + 1}" for i, s in enumerate(sectors)]
    quota = np.where(
        np.isin(sectors, ["plantation", "mining", "construction", "fishing"]),
        rng.integers(5, 80, n),
        rng.integers(0, 8, n),
    )
    return pd.DataFrame(
        {
            "external_ref": [f"DEMO-W-{i + 1:04d}" for i in range(n)],
            "name": names,
            "sector": sectors,
            "address": [f"Jl. {fake.street_name()} (alamat sintetis)" for _ in range(n)],
            "rptka_number": [
                f"DEMO-RPTKA-{i + 1:05d}" if q > 0 else None for i, q in enumerate(quota)
            ],
            "foreign_worker_quota": quota,
            "lon": xy[:, 0].round(6),
            "lat": xy[:, 1].round(6),
        }
    )


def _foreigners(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    n: int,
    seed: int,
    end: dt.date,
) -> pd.DataFrame:
    shares = np.array([c[1] for c in NATIONALITIES])
    nat_idx = rng.choice(len(NATIONALITIES), size=n, p=shares / shares.sum())
    nationality = np.array([NATIONALITIES[i][0] for i in nat_idx], dtype=object)
    is_mys = nationality == "MYS"
    permit = np.where(is_mys, _choice(rng, PERMITS_MYS, n), _choice(rng, PERMITS_OTHER, n))
    is_plb = permit == "PLB"
    # Sponsors: workers (KITAS/KITAP/OTHER) get a workplace; visitors mostly none.
    n_wp = len(workplaces)
    employers = workplaces.index[workplaces["foreign_worker_quota"] > 0].to_numpy()
    has_sponsor = np.isin(permit, ["KITAS", "KITAP", "OTHER"]) | (rng.uniform(0, 1, n) < 0.15)
    sponsor = np.where(
        has_sponsor, rng.choice(employers if len(employers) else np.arange(n_wp), size=n), -1
    )
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    home = np.zeros((n, 2))
    sponsored = sponsor >= 0
    home[sponsored] = _around(rng, wp_xy[sponsor[sponsored]], 1200.0, geo.kabupaten, 5000.0)
    # PLB holders and other Malaysians without a sponsor live near the border.
    border_home = ~sponsored & (is_plb | is_mys)
    home[border_home] = _near_border(rng, geo, int(border_home.sum()), 500.0, 12_000.0, True)
    rest = ~sponsored & ~border_home
    towns = np.array(list(TOWNS.values()))
    home[rest] = _around(
        rng, towns[rng.integers(0, len(towns), int(rest.sum()))], 1500.0, geo.kabupaten, 5000.0
    )
    # Expiry: mostly valid, some expired (overstay); PLB passes are short.
    days = np.where(is_plb, rng.integers(-60, 90, n), rng.integers(-150, 720, n))
    expires = pd.to_datetime(end) + pd.to_timedelta(days, unit="D")
    birth = pd.to_datetime("1960-01-01") + pd.to_timedelta(rng.integers(0, 365 * 42, n), unit="D")
    sex = np.where(rng.uniform(0, 1, n) < 0.72, "M", "F")
    fakers: dict[str, Faker] = {}
    names = []
    for i, idx in enumerate(nat_idx):
        locale = NATIONALITIES[idx][2]
        if locale not in fakers:
            fakers[locale] = Faker(locale)
            fakers[locale].seed_instance(int(seed) * 100 + int(idx))
        first = (
            fakers[locale].first_name_male()
            if sex[i] == "M"
            else fakers[locale].first_name_female()
        )
        names.append(f"{first} {fakers[locale].last_name()} (Sintetis)")
    status = np.where(rng.uniform(0, 1, n) < 0.93, "active", "departed")
    return pd.DataFrame(
        {
            "external_ref": [f"DEMO-F-{i + 1:05d}" for i in range(n)],
            "full_name": names,
            "nationality": nationality,
            "sex": sex,
            "birth_date": birth.strftime("%Y-%m-%d"),
            "passport_number": [f"X{nat}{i + 1:06d}" for i, nat in enumerate(nationality)],
            "permit_type": permit,
            "permit_number": [f"DEMO-{p}-{i + 1:06d}" for i, p in enumerate(permit)],
            "permit_expires_on": expires.strftime("%Y-%m-%d"),
            "sponsor_ref": [workplaces["external_ref"].iat[s] if s >= 0 else None for s in sponsor],
            "status": status,
            "lon": home[:, 0].round(6),
            "lat": home[:, 1].round(6),
        }
    )


def _incidents(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    n: int,
    start: dt.datetime,
    stop: dt.datetime,
) -> pd.DataFrame:
    planted = planted_counts(n)
    n_background = n - sum(planted)
    total_days = (stop - start).days
    xy_parts: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    days: list[np.ndarray] = []
    wp_refs: list[np.ndarray] = []
    for spot, count in zip(HOTSPOTS, planted, strict=True):
        centre = np.tile([spot.lon, spot.lat], (count, 1))
        xy_parts.append(_around(rng, centre, spot.scatter_m, geo.kabupaten, spot.radius_m))
        kinds.append(rng.choice(np.array(spot.kinds, dtype=object), size=count))
        if spot.pattern == "emerging":
            slices = week_slices(start, stop)
            weekly = emerging_weekly_counts(count, len(slices))
            # Days from the window start: uniform inside each weekly slice (partial ones too),
            # ending two minutes early since _times adds up to a minute of jitter.
            lo = np.array([(a - start).total_seconds() / 86400 for a, _ in slices])
            hi = np.array([(b - start).total_seconds() / 86400 - 120 / 86400 for _, b in slices])
            week = np.repeat(np.arange(len(slices)), weekly)
            days.append(lo[week] + rng.uniform(0, 1, count) * (hi[week] - lo[week]))
        else:
            days.append(rng.uniform(0, total_days, count))
        wp_refs.append(np.full(count, None, dtype=object))
    # Background: near workplaces, near the border, in towns; rising through the year.
    place = _choice(rng, (("workplace", 0.4), ("border", 0.3), ("town", 0.3)), n_background)
    bxy = np.zeros((n_background, 2))
    bkind = np.empty(n_background, dtype=object)
    bref = np.full(n_background, None, dtype=object)
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    for name in ("workplace", "border", "town"):
        sel = np.flatnonzero(place == name)
        if not len(sel):
            continue
        bkind[sel] = _choice(rng, BACKGROUND_KINDS[name], len(sel))
        if name == "workplace":
            w = rng.integers(0, len(workplaces), len(sel))
            bxy[sel] = _around(rng, wp_xy[w], 400.0, geo.kabupaten, 1500.0)
            bref[sel] = workplaces["external_ref"].to_numpy()[w]
        elif name == "border":
            bxy[sel] = _near_border(rng, geo, len(sel), 200.0, 8000.0, True)
        else:
            towns = np.array(list(TOWNS.values()))
            bxy[sel] = _around(
                rng, towns[rng.integers(0, len(towns), len(sel))], 2500.0, geo.kabupaten, 8000.0
            )
    trend = np.where(
        rng.uniform(0, 1, n_background) < 0.5,
        rng.uniform(0, 1, n_background),
        np.sqrt(rng.uniform(0, 1, n_background)),
    )
    xy_parts.append(bxy)
    kinds.append(bkind)
    days.append(trend * total_days)
    wp_refs.append(bref)
    xy = np.vstack(xy_parts)
    kind = np.concatenate(kinds)
    day = np.concatenate(days)
    # Spread over the day; hotspot rows first, then background (refs DEMO-I-…).
    whole_days = np.floor(day)
    hours = (day - whole_days) * 24.0
    when = _times(rng, start, whole_days, hours)
    age = (np.datetime64(stop.replace(tzinfo=None), "s") - when).astype(np.int64) / 86400
    status = np.where(
        age > 90,
        _choice(rng, (("closed", 0.8), ("investigating", 0.2)), len(xy)),
        _choice(rng, (("open", 0.5), ("investigating", 0.4), ("closed", 0.1)), len(xy)),
    )
    severity = np.clip(rng.poisson(1.6, len(xy)) + 1, 1, 5)
    severity = np.where(
        np.isin(kind, ["human_trafficking", "smuggling"]), np.maximum(severity, 3), severity
    )
    return pd.DataFrame(
        {
            "external_ref": [f"DEMO-I-{i + 1:06d}" for i in range(len(xy))],
            "kind": kind,
            "severity": severity,
            "status": status,
            "occurred_at": _iso(when),
            "description": [f"Kejadian sintetis: {KIND_LABELS[k]}" for k in kind],
            "workplace_ref": np.concatenate(wp_refs),
            "lon": xy[:, 0].round(6),
            "lat": xy[:, 1].round(6),
        }
    )


def _sightings(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    n: int,
    start: dt.datetime,
) -> pd.DataFrame:
    nf = len(foreigners)
    who = rng.integers(0, nf, n)
    anonymous = rng.uniform(0, 1, n) < 0.08
    border_person = foreigners["permit_type"].to_numpy()[who] == "PLB"
    sponsor_refs = foreigners["sponsor_ref"].to_numpy()
    wp_index = pd.Series(np.arange(len(workplaces)), index=workplaces["external_ref"])
    sponsor_idx = np.array([wp_index.get(r, -1) if r is not None else -1 for r in sponsor_refs])[
        who
    ]
    u = rng.uniform(0, 1, n)
    # residence / workplace / lodging / border; PLB holders are seen at the border far more.
    p_border = np.where(border_person, 0.35, 0.05)
    p_lodging = 0.15
    p_work = np.where(sponsor_idx >= 0, 0.30, 0.0)
    kind = np.where(
        u < p_border,
        "border",
        np.where(
            u < p_border + p_lodging,
            "lodging",
            np.where(u < p_border + p_lodging + p_work, "work", "home"),
        ),
    )
    kind = np.where(anonymous, np.where(u < 0.5, "border", "lodging"), kind)
    xy = np.zeros((n, 2))
    home_xy = foreigners[["lon", "lat"]].to_numpy(dtype=float)[who]
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    hours = np.zeros(n)
    source = np.empty(n, dtype=object)
    reported = np.empty(n, dtype=object)
    sel = kind == "home"
    xy[sel] = _around(rng, home_xy[sel], 250.0, geo.kabupaten, 1500.0)
    hours[sel] = np.where(
        rng.uniform(0, 1, sel.sum()) < 0.5,
        rng.uniform(6, 8, sel.sum()),
        rng.uniform(18, 22, sel.sum()),
    )
    source[sel] = _choice(rng, (("patrol", 0.7), ("public_report", 0.3)), int(sel.sum()))
    sel = kind == "work"
    xy[sel] = _around(rng, wp_xy[sponsor_idx[sel]], 200.0, geo.kabupaten, 1000.0)
    hours[sel] = rng.uniform(7, 17, sel.sum())
    source[sel] = _choice(rng, (("patrol", 0.8), ("checkpoint", 0.2)), int(sel.sum()))
    sel = kind == "lodging"
    hotels = np.flatnonzero(workplaces["sector"].to_numpy() == "hospitality")
    if not len(hotels):
        hotels = np.arange(len(workplaces))
    h = hotels[rng.integers(0, len(hotels), sel.sum())]
    xy[sel] = _around(rng, wp_xy[h], 30.0, geo.kabupaten, 100.0)
    hours[sel] = rng.uniform(19, 23.9, sel.sum())
    source[sel] = "lodging"
    reported[sel] = workplaces["name"].to_numpy()[h]
    sel = np.flatnonzero(kind == "border")
    across = rng.uniform(0, 1, len(sel)) < 0.03
    if len(sel):
        xy[sel[~across]] = _near_border(rng, geo, int((~across).sum()), 100.0, 3000.0, True)
        xy[sel[across]] = _near_border(rng, geo, int(across.sum()), 300.0, 2000.0, False)
        # Some are checkpoint reports at PLBN Aruk itself.
        at_post = rng.uniform(0, 1, len(sel)) < 0.25
        xy[sel[at_post & ~across]] = _around(
            rng, np.tile(PLBN_ARUK, (int((at_post & ~across).sum()), 1)), 80.0, geo.kabupaten, 300.0
        )
        hours[sel] = rng.uniform(5, 18, len(sel))
        source[sel] = np.where(at_post, "checkpoint", "patrol")
    patrol = (source == "patrol") | (source == "checkpoint")
    reported[patrol] = np.char.add(
        "Tim Patroli Contoh ", rng.integers(1, 7, int(patrol.sum())).astype(str)
    )
    day = rng.integers(0, 365, n)
    when = _times(rng, start, day, hours)
    order = np.argsort(when, kind="stable")
    refs = foreigners["external_ref"].to_numpy(dtype=object)[who]
    refs[anonymous] = None
    frame = pd.DataFrame(
        {
            "external_ref": [f"DEMO-S-{i + 1:07d}" for i in range(n)],
            "observed_at": _iso(when[order]),
            "foreigner_ref": refs[order],
            "source": source[order],
            "reported_by": reported[order],
            "note": pd.Series(kind[order]).map({"border": "dekat perbatasan (sintetis)"}),
            "lon": xy[order, 0].round(6),
            "lat": xy[order, 1].round(6),
        }
    )
    return frame


def frame_digest(frame: pd.DataFrame) -> str:
    """A short fingerprint of a table's values (for reports and determinism checks)."""
    import hashlib

    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def describe(data: DemoData) -> dict[str, Any]:
    return {
        layer: {"rows": len(frame), "digest": frame_digest(frame)} for layer, frame in data.tables()
    }
