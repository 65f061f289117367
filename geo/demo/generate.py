"""Generate the demo tables with numpy (vectorised, deterministic for a seed). Pure given the
geography; ``load_geography`` reads that from the reference layers in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely
from faker import Faker
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.demo.planted import (
    COMMUTER_DAYS,
    RESIDENT_DAILY,
    SHOPPER_TRIPS,
    Plan,
    part_counts,
    place_hotspot_workplaces,
    plan_roles,
    plant_incident_clusters,
    plant_sightings,
    truth_sections,
)
from geo.demo.sampling import (
    M_PER_DEG,
    Geography,
    around,
    choice,
    in_polygon,
    iso,
    metres_to,
    near_border,
    times,
)
from geo.demo.truth import (
    HOTSPOTS,
    WINDOW_DAYS,
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
TOWNS: Final = {"Sambas": (109.3100, 1.3612), "Pemangkat": (108.9750, 1.1700)}
PLBN_ARUK: Final = (109.6773, 1.6110)
# The PLB area when no plb_area zone is loaded (the default of TIMPORA_AREA_PLB_KECAMATAN).
PLB_KECAMATAN: Final = ("Paloh", "Sajingan Besar")
LODGING_M: Final = 20_000.0  # people lodge at hotels within this of home or the sponsor's site

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
class DemoData:
    workplaces: pd.DataFrame
    foreigners: pd.DataFrame
    incidents: pd.DataFrame
    sightings: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)  # violations, expected, ordinary

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
    plb_wkb = session.execute(
        text("SELECT ST_AsBinary(ST_Union(geom)) FROM zone WHERE kind = 'plb_area' AND active")
    ).scalar()
    plb_area = (
        shapely.from_wkb(bytes(plb_wkb))
        if plb_wkb is not None
        else shapely.union_all([kec[k] for k in PLB_KECAMATAN if k in kec])
    )
    posts = session.execute(
        text(
            "SELECT ST_X(geom), ST_Y(geom) FROM reference_feature "
            "WHERE kind = 'crossing_post' ORDER BY name"
        )
    ).all()
    crossing_posts = np.array([[float(x), float(y)] for x, y in posts] or [list(PLBN_ARUK)])
    my_wkb = session.execute(
        text(
            "SELECT ST_AsBinary(ST_Union(ST_Intersection(r.geom, ST_Expand(k.geom, 0.1)))) "
            "FROM reference_feature r, admin_area k "
            "WHERE r.kind = 'land' AND r.country = 'MYS' AND k.level = 'kabupaten'"
        )
    ).scalar()
    malaysia = shapely.from_wkb(bytes(my_wkb)) if my_wkb is not None else None
    for geom in (kabupaten, plb_area, *kec.values()):
        shapely.prepare(geom)
    if malaysia is not None:
        shapely.prepare(malaysia)
    return Geography(
        kecamatan=kec,
        kabupaten=kabupaten,
        border_parts=parts,
        border_lengths=lengths,
        plb_area=plb_area,
        crossing_posts=crossing_posts,
        malaysia=malaysia,
    )


def generate(*, geo: Geography, seed: int, size: str, end: dt.date) -> DemoData:
    """All four tables as raw import frames (same column names as the import files), and the
    planted violations' answer key (``DemoData.truth``)."""
    if size not in SIZES:
        raise ConfigurationError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    counts = SIZES[size]
    rng = np.random.default_rng(seed)
    start, stop = window(end)
    workplaces = _workplaces(rng, geo, counts["workplaces"], seed)
    at_hotspots = place_hotspot_workplaces(workplaces)
    foreigners = _foreigners(rng, geo, workplaces, counts["foreigners"], seed, end)
    incidents = _incidents(rng, geo, workplaces, counts["incidents"], start, stop)
    # The planted parts draw from generators of their own: the hotspots' incidents above are
    # what they were before anything was planted.
    plan = plan_roles(
        np.random.default_rng([seed, 1]), geo, workplaces, foreigners, start, at_hotspots
    )
    plant_incident_clusters(
        np.random.default_rng([seed, 2]),
        geo,
        workplaces,
        incidents,
        part_counts(counts["foreigners"])["incident_cluster"],
        start,
        plan,
    )
    sightings, tags = _sightings(rng, geo, workplaces, foreigners, counts["sightings"], start, plan)
    truth = truth_sections(
        workplaces=workplaces,
        foreigners=foreigners,
        incidents=incidents,
        sightings=sightings,
        plan=plan,
        tags=tags,
        geo=geo,
        end=end,
    )
    return DemoData(workplaces, foreigners, incidents, sightings, truth)


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
                xy[sel] = around(rng, town, 900.0, geo.kabupaten, 3000.0)
            else:
                xy[sel] = in_polygon(rng, geo.kecamatan[place], len(sel))
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
    permit = np.where(is_mys, choice(rng, PERMITS_MYS, n), choice(rng, PERMITS_OTHER, n))
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
    home[sponsored] = around(rng, wp_xy[sponsor[sponsored]], 1200.0, geo.kabupaten, 5000.0)
    # PLB holders and other Malaysians without a sponsor live near the border.
    border_home = ~sponsored & (is_plb | is_mys)
    home[border_home] = near_border(rng, geo, int(border_home.sum()), 500.0, 12_000.0, True)
    rest = ~sponsored & ~border_home
    towns = np.array(list(TOWNS.values()))
    home[rest] = around(
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
        xy_parts.append(around(rng, centre, spot.scatter_m, geo.kabupaten, spot.radius_m))
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
    place = choice(rng, (("workplace", 0.4), ("border", 0.3), ("town", 0.3)), n_background)
    bxy = np.zeros((n_background, 2))
    bkind = np.empty(n_background, dtype=object)
    bref = np.full(n_background, None, dtype=object)
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    for name in ("workplace", "border", "town"):
        sel = np.flatnonzero(place == name)
        if not len(sel):
            continue
        bkind[sel] = choice(rng, BACKGROUND_KINDS[name], len(sel))
        if name == "workplace":
            w = rng.integers(0, len(workplaces), len(sel))
            bxy[sel] = around(rng, wp_xy[w], 400.0, geo.kabupaten, 1500.0)
            bref[sel] = workplaces["external_ref"].to_numpy()[w]
        elif name == "border":
            bxy[sel] = near_border(rng, geo, len(sel), 200.0, 8000.0, True)
        else:
            towns = np.array(list(TOWNS.values()))
            bxy[sel] = around(
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
    when = times(rng, start, whole_days, hours)
    age = (np.datetime64(stop.replace(tzinfo=None), "s") - when).astype(np.int64) / 86400
    status = np.where(
        age > 90,
        choice(rng, (("closed", 0.8), ("investigating", 0.2)), len(xy)),
        choice(rng, (("open", 0.5), ("investigating", 0.4), ("closed", 0.1)), len(xy)),
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
            "occurred_at": iso(when),
            "description": [f"Kejadian sintetis: {KIND_LABELS[k]}" for k in kind],
            "workplace_ref": np.concatenate(wp_refs),
            "lon": xy[:, 0].round(6),
            "lat": xy[:, 1].round(6),
        }
    )


def markets(geo: Geography) -> np.ndarray:
    """Where PLB holders shop: the crossing posts' border markets and the PLB kecamatan's
    centres, all inside the PLB area."""
    points = [tuple(p) for p in geo.crossing_posts]
    points += [
        (geo.kecamatan[k].point_on_surface().x, geo.kecamatan[k].point_on_surface().y)
        for k in PLB_KECAMATAN
        if k in geo.kecamatan
    ]
    xy = np.array(points, dtype=float)
    inside: np.ndarray = xy[shapely.contains_xy(geo.plb_area, xy[:, 0], xy[:, 1])]
    return inside


def _hotels_near(
    rng: np.random.Generator, home: np.ndarray, hotels_xy: np.ndarray, who: np.ndarray
) -> np.ndarray:
    """For each sighting of ``who``, a hotel within ``LODGING_M`` of the person's anchor (home,
    or the sponsor's site) or -1."""
    d = np.hypot(home[:, None, 0] - hotels_xy[None, :, 0], home[:, None, 1] - hotels_xy[None, :, 1])
    near = d * M_PER_DEG <= LODGING_M
    count = near.sum(axis=1)
    order = np.argsort(~near, axis=1, kind="stable")  # the near hotels first, in index order
    k = np.floor(rng.uniform(0, 1, len(who)) * np.maximum(count[who], 1)).astype(int)
    picked = order[who, k]
    return np.where(count[who] > 0, picked, -1)


def _sightings(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    n: int,
    start: dt.datetime,
    plan: Plan,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Everybody's routine plus the planted rows: the table and each row's truth tag."""
    planted_rng = np.random.default_rng(rng.integers(0, 2**63))
    plant_sightings(planted_rng, geo, workplaces, foreigners, plan, TOWNS)
    routine = _routine_rows(planted_rng, geo, workplaces, foreigners, plan)
    extra = plan.rows + routine
    n_bg = n - len(extra)
    nf = len(foreigners)
    who = rng.integers(0, nf, n_bg)
    anonymous = rng.uniform(0, 1, n_bg) < 0.08
    permit = foreigners["permit_type"].to_numpy()
    sponsor_refs = foreigners["sponsor_ref"].to_numpy()
    wp_index = pd.Series(np.arange(len(workplaces)), index=workplaces["external_ref"])
    sponsor_of = np.array([wp_index.get(r, -1) if r is not None else -1 for r in sponsor_refs])
    sponsor_idx = sponsor_of[who]
    is_plb = permit[who] == "PLB"
    u = rng.uniform(0, 1, n_bg)
    # PLB holders: home, the markets of the PLB area, the crossing post. Workers: home, the
    # sponsor's site, now and then a hotel near home. Others: home and hotels near home.
    kind = np.where(
        is_plb,
        np.where(u < 0.55, "home", np.where(u < 0.80, "market", "checkpoint")),
        np.where(
            sponsor_idx >= 0,
            np.where(u < 0.45, "home", np.where(u < 0.85, "work", "lodging")),
            np.where(u < 0.70, "home", "lodging"),
        ),
    )
    kind = np.where(anonymous, np.where(u < 0.4, "checkpoint", "town"), kind)
    home = foreigners[["lon", "lat"]].to_numpy(dtype=float)
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    hotels = np.flatnonzero(workplaces["sector"].to_numpy() == "hospitality")
    if not len(hotels):
        hotels = np.arange(len(workplaces))
    hotel = np.full(n_bg, -1)
    sel = kind == "lodging"
    # Workers lodge near their sponsor's site, others near home.
    anchor = home.copy()
    sponsored = sponsor_of >= 0
    anchor[sponsored] = wp_xy[sponsor_of[sponsored]]
    hotel[sel] = _hotels_near(rng, anchor, wp_xy[hotels], who[sel])
    kind = np.where(sel & (hotel < 0), "home", kind)
    xy = np.zeros((n_bg, 2))
    hours = np.zeros(n_bg)
    source = np.empty(n_bg, dtype=object)
    reported = np.empty(n_bg, dtype=object)
    # PLB holders' routine stays inside the PLB area, everybody else's inside the regency.
    inside = np.where(is_plb, 1, 0)
    for area, geom in ((0, geo.kabupaten), (1, geo.plb_area)):
        sel = (kind == "home") & (inside == area) & ~anonymous
        xy[sel] = around(rng, home[who[sel]], 250.0, geom, 1500.0)
    sel = kind == "home"
    hours[sel] = np.where(
        rng.uniform(0, 1, sel.sum()) < 0.5,
        rng.uniform(6, 8, sel.sum()),
        rng.uniform(18, 22, sel.sum()),
    )
    source[sel] = choice(rng, (("patrol", 0.7), ("public_report", 0.3)), int(sel.sum()))
    sel = kind == "work"
    xy[sel] = around(rng, wp_xy[sponsor_idx[sel]], 200.0, geo.kabupaten, 1000.0)
    hours[sel] = rng.uniform(7, 17, sel.sum())
    source[sel] = choice(rng, (("patrol", 0.8), ("checkpoint", 0.2)), int(sel.sum()))
    sel = kind == "lodging"
    h = hotels[hotel[sel]]
    xy[sel] = around(rng, wp_xy[h], 30.0, geo.kabupaten, 100.0)
    hours[sel] = rng.uniform(19, 23.9, sel.sum())
    source[sel] = "lodging"
    reported[sel] = workplaces["name"].to_numpy()[h]
    market = markets(geo)
    sel = np.flatnonzero(kind == "market")
    nearest = np.argmin(
        np.hypot(
            home[who[sel], None, 0] - market[None, :, 0],
            home[who[sel], None, 1] - market[None, :, 1],
        ),
        axis=1,
    )
    xy[sel] = around(rng, market[nearest], 200.0, geo.plb_area, 600.0)
    hours[sel] = rng.uniform(8, 16, len(sel))
    source[sel] = choice(rng, (("patrol", 0.6), ("public_report", 0.4)), len(sel))
    sel = np.flatnonzero(kind == "checkpoint")
    post = rng.integers(0, len(geo.crossing_posts), len(sel))
    xy[sel] = around(rng, geo.crossing_posts[post], 80.0, geo.plb_area, 300.0)
    hours[sel] = rng.uniform(6, 18, len(sel))
    source[sel] = "checkpoint"
    sel = kind == "town"
    towns = np.array(list(TOWNS.values()))
    xy[sel] = around(
        rng, towns[rng.integers(0, len(towns), int(sel.sum()))], 1500.0, geo.kabupaten, 5000.0
    )
    hours[sel] = rng.uniform(8, 20, sel.sum())
    source[sel] = "public_report"
    patrol = (source == "patrol") | (source == "checkpoint")
    reported[patrol] = np.char.add(
        "Tim Patroli Contoh ", rng.integers(1, 7, int(patrol.sum())).astype(str)
    )
    day = rng.integers(0, WINDOW_DAYS, n_bg)
    # Someone whose permit ran out and who is not a planted overstayer left on the last valid
    # day: none of their sightings is later than that.
    expiry_day = plan.expiry_day[who]
    late = ~anonymous & (day > expiry_day) & ~np.isin(who, plan.roles["overstay"])
    day[late] = np.floor(rng.uniform(0, 1, int(late.sum())) * (expiry_day[late] + 1)).astype(int)
    # Nobody is in two places on one day: a person's routine stays off the days of their
    # planted violation (a PLB holder on a trip to town is not also seen at home).
    busy = np.array([int(r["who"]) * WINDOW_DAYS + int(r["day"]) for r in plan.rows], dtype=int)
    for _ in range(20):
        clash = np.isin(who * WINDOW_DAYS + day, busy) & ~anonymous
        if not clash.any():
            break
        day[clash] = (day[clash] + rng.integers(1, WINDOW_DAYS, int(clash.sum()))) % WINDOW_DAYS
        day[clash] = np.minimum(day[clash], np.maximum(expiry_day[clash], 0))
    # The planted and routine rows, appended.
    ex = pd.DataFrame(extra)
    who_all = np.concatenate([who, ex["who"].to_numpy(dtype=int)])
    anon_all = np.concatenate([anonymous, np.zeros(len(ex), dtype=bool)])
    day_all = np.concatenate([day, ex["day"].to_numpy(dtype=int)])
    hours_all = np.concatenate([hours, ex["hour"].to_numpy(dtype=float)])
    xy_all = np.vstack([xy, ex[["lon", "lat"]].to_numpy(dtype=float)])
    source_all = np.concatenate([source, ex["source"].to_numpy(dtype=object)])
    ex_reported = ex["reported_by"].to_numpy(dtype=object)
    ex_patrol = (ex["source"] == "patrol").to_numpy() | (ex["source"] == "checkpoint").to_numpy()
    ex_reported[ex_patrol] = np.char.add(
        "Tim Patroli Contoh ", rng.integers(1, 7, int(ex_patrol.sum())).astype(str)
    )
    reported_all = np.concatenate([reported, ex_reported])
    kind_all = np.concatenate([kind, np.full(len(ex), "planted", dtype=object)])
    tag_all = np.concatenate([np.full(n_bg, "", dtype=object), ex["tag"].to_numpy(dtype=object)])
    # Notes as a patrol would write them: at the post, or (planted rows) near the border.
    note = np.full(len(kind_all), None, dtype=object)
    planted = np.flatnonzero(kind_all == "planted")
    near = metres_to(xy_all[planted], geo.border) < 1_000
    note[planted[near]] = "dekat perbatasan (sintetis)"
    note[kind_all == "checkpoint"] = "pos lintas batas (sintetis)"
    when = times(rng, start, day_all, hours_all)
    order = np.argsort(when, kind="stable")
    refs = foreigners["external_ref"].to_numpy(dtype=object)[who_all]
    refs[anon_all] = None
    frame = pd.DataFrame(
        {
            "external_ref": [f"DEMO-S-{i + 1:07d}" for i in range(len(order))],
            "observed_at": iso(when[order]),
            "foreigner_ref": refs[order],
            "source": source_all[order],
            "reported_by": reported_all[order],
            "note": note[order],
            "lon": xy_all[order, 0].round(6),
            "lat": xy_all[order, 1].round(6),
        }
    )
    return frame, tag_all[order]


def _routine_rows(
    rng: np.random.Generator,
    geo: Geography,
    workplaces: pd.DataFrame,
    foreigners: pd.DataFrame,
    plan: Plan,
) -> list[dict[str, Any]]:
    """Extra routine of the planted controls: border residents seen at home almost daily, PLB
    holders shopping at the PLB area's markets, workers commuting home <-> sponsor."""
    home = foreigners[["lon", "lat"]].to_numpy(dtype=float)
    wp_xy = workplaces[["lon", "lat"]].to_numpy(dtype=float)
    wp_index = {r: i for i, r in enumerate(workplaces["external_ref"])}
    rows: list[dict[str, Any]] = []

    def add(f: int, days: np.ndarray, hours: np.ndarray, xy: np.ndarray, source: str) -> None:
        for d, h, p in zip(days, hours, xy, strict=True):
            rows.append(
                {
                    "who": int(f),
                    "day": int(d),
                    "hour": float(h),
                    "lon": float(p[0]),
                    "lat": float(p[1]),
                    "source": source,
                    "tag": "",
                    "reported_by": None,
                }
            )

    for f in plan.roles["border_resident"]:
        days = np.sort(rng.choice(WINDOW_DAYS, RESIDENT_DAILY, replace=False))
        hours = np.where(rng.uniform(0, 1, RESIDENT_DAILY) < 0.5, 6.5, 19.0)
        hours = hours + rng.uniform(0, 1.5, RESIDENT_DAILY)
        xy = around(rng, np.tile(home[f], (RESIDENT_DAILY, 1)), 80.0, geo.plb_area, 300.0)
        add(f, days, hours, xy, "patrol")
    market = markets(geo)
    for f in plan.roles["plb_shopper"]:
        m = market[np.argmin(np.hypot(*(market - home[f]).T))]
        days = rng.integers(0, WINDOW_DAYS, SHOPPER_TRIPS)
        xy = around(rng, np.tile(m, (SHOPPER_TRIPS, 1)), 200.0, geo.plb_area, 600.0)
        add(f, days, rng.uniform(8, 16, SHOPPER_TRIPS), xy, "public_report")
    for f in plan.roles["commuter"]:
        w = wp_index[foreigners["sponsor_ref"].iat[f]]
        days = rng.choice(WINDOW_DAYS, COMMUTER_DAYS, replace=False)
        at_home = around(rng, np.tile(home[f], (COMMUTER_DAYS, 1)), 100.0, geo.kabupaten, 400.0)
        at_work = around(rng, np.tile(wp_xy[w], (COMMUTER_DAYS, 1)), 150.0, geo.kabupaten, 600.0)
        add(f, days, rng.uniform(5.5, 6.5, COMMUTER_DAYS), at_home, "patrol")
        add(f, days, rng.uniform(8, 16, COMMUTER_DAYS), at_work, "checkpoint")
    return rows


def frame_digest(frame: pd.DataFrame) -> str:
    """A short fingerprint of a table's values (for reports and determinism checks)."""
    import hashlib

    hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def describe(data: DemoData) -> dict[str, Any]:
    return {
        layer: {"rows": len(frame), "digest": frame_digest(frame)} for layer, frame in data.tables()
    }
