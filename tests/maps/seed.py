"""Synthetic map data inside two real kecamatan of Sambas (the reference geography is loaded by
the session fixture): a cluster of incidents and sightings in one, a few in the other.

All names are fake and marked so tests can prove they never reach a map of a viewer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

UTC = dt.UTC
FAKE_NAME = "Zzuji Rahasiawan"
FAKE_PASSPORT = "X9999001"
BUSY_KECAMATAN = "Sajingan Besar"
QUIET_KECAMATAN = "Paloh"


@dataclass
class Seed:
    busy_code: str
    quiet_code: str
    busy_point: tuple[float, float]
    quiet_point: tuple[float, float]
    incidents: dict[str, int] = field(default_factory=dict)  # kecamatan code -> count
    sightings: dict[str, int] = field(default_factory=dict)
    foreigners: dict[str, int] = field(default_factory=dict)
    workplace_name: str = "PT Sawit Uji Lestari"


def _anchor(conn: Any, name: str) -> tuple[str, float, float]:
    row = conn.execute(
        text(
            "SELECT code, ST_X(p) AS lon, ST_Y(p) AS lat FROM ("
            " SELECT code, ST_PointOnSurface(ST_Buffer(geom_utm, -3000)) AS pu FROM admin_area"
            " WHERE level = 'kecamatan' AND name = :name) s,"
            " LATERAL ST_Transform(pu, 4326) AS p"
        ),
        {"name": name},
    ).one()
    return row.code, float(row.lon), float(row.lat)


def _point(lon: float, lat: float) -> str:
    return f"SRID=4326;POINT({lon} {lat})"


def seed_map_data(conn: Any) -> Seed:
    """Insert the data through ``conn`` (a Session or Connection); the caller commits or not."""
    busy_code, blon, blat = _anchor(conn, BUSY_KECAMATAN)
    quiet_code, qlon, qlat = _anchor(conn, QUIET_KECAMATAN)
    seed = Seed(busy_code, quiet_code, (blon, blat), (qlon, qlat))
    insert_incident = text(
        "INSERT INTO incident (kind, severity, status, occurred_at, geom, description) "
        "VALUES (:kind, :severity, 'open', :at, ST_GeomFromEWKT(:geom), :description)"
    )
    base = dt.datetime(2025, 1, 6, 2, 0, tzinfo=UTC)  # 09:00 WIB on a Monday
    # 30 incidents in the busy kecamatan over ~10 weeks (Jan–Mar 2025), 20 illegal work.
    for i in range(30):
        kind = "illegal_work" if i < 20 else "overstay"
        dx, dy = ((i % 6) - 3) * 0.002, ((i // 6) - 2) * 0.002
        conn.execute(
            insert_incident,
            {
                "kind": kind,
                "severity": 1 + i % 5,
                "at": base + dt.timedelta(days=2 * i),
                "geom": _point(blon + dx, blat + dy),
                "description": f"laporan tentang {FAKE_NAME}",
            },
        )
    # 5 smuggling incidents in the quiet kecamatan, in April 2025.
    for i in range(5):
        conn.execute(
            insert_incident,
            {
                "kind": "smuggling",
                "severity": 4,
                "at": dt.datetime(2025, 4, 10 + i, 5, tzinfo=UTC),
                "geom": _point(qlon + i * 0.001, qlat),
                "description": None,
            },
        )
    foreigner_sql = text(
        "INSERT INTO foreigner (full_name, nationality, permit_type, permit_number, "
        "passport_number, status, geom) VALUES (:name, 'MYS', 'PLB', :permit, :passport, "
        "'active', ST_GeomFromEWKT(:geom)) RETURNING id"
    )
    ids = []
    for i, (lon, lat) in enumerate([(blon, blat)] * 4 + [(qlon, qlat)] * 2):
        ids.append(
            conn.execute(
                foreigner_sql,
                {
                    "name": f"{FAKE_NAME} {i}",
                    "permit": f"PLB-UJI-{i:04d}",
                    "passport": FAKE_PASSPORT,
                    "geom": _point(lon + i * 0.0005, lat),
                },
            ).scalar_one()
        )
    sighting_sql = text(
        "INSERT INTO sighting (observed_at, foreigner_id, source, geom, note) "
        "VALUES (:at, :fid, :source, ST_GeomFromEWKT(:geom), :note)"
    )
    for i in range(10):
        conn.execute(
            sighting_sql,
            {
                "at": base + dt.timedelta(days=3 * i),
                "fid": ids[i % 4],
                "source": "patrol",
                "geom": _point(blon + (i % 5) * 0.0004, blat + (i // 5) * 0.0004),
                "note": FAKE_NAME,
            },
        )
    for i in range(2):  # below the suppression threshold for viewers
        conn.execute(
            sighting_sql,
            {
                "at": base + dt.timedelta(days=40 + i),
                "fid": ids[4 + i],
                "source": "lodging",
                "geom": _point(qlon + 0.05 + i * 0.0004, qlat + 0.05),
                "note": None,
            },
        )
    conn.execute(
        text(
            "INSERT INTO workplace (name, sector, foreign_worker_quota, geom) "
            "VALUES (:name, 'plantation', 40, ST_GeomFromEWKT(:geom))"
        ),
        {"name": seed.workplace_name, "geom": _point(blon + 0.01, blat + 0.01)},
    )
    for table, target in (
        ("incident", seed.incidents),
        ("sighting", seed.sightings),
        ("foreigner", seed.foreigners),
    ):
        for row in conn.execute(
            text(f"SELECT kecamatan_code, count(*) AS n FROM {table} GROUP BY 1")
        ):
            target[row.kecamatan_code] = int(row.n)
    return seed
