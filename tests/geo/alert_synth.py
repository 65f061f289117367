"""Synthetic records for the alert tests, placed by offsets in metres (EPSG:32649).

All names are invented. Points are written with plain SQL so the location trigger fills the
derived columns as on any write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=WIB)
ARUK = (109.677308, 1.610957)


def offset(
    session: Session, lon: float, lat: float, dx_m: float, dy_m: float
) -> tuple[float, float]:
    """The point ``dx_m`` east and ``dy_m`` north of (lon, lat), translated in EPSG:32649."""
    row = session.execute(
        text(
            """
            SELECT ST_X(g), ST_Y(g) FROM (
                SELECT ST_Transform(ST_Translate(
                    ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649),
                    :dx, :dy), 4326) AS g) q
            """
        ),
        {"lon": lon, "lat": lat, "dx": dx_m, "dy": dy_m},
    ).one()
    return float(row[0]), float(row[1])


def interior_anchor(session: Session) -> tuple[Any, Any]:
    """An Indonesian point 6-10 km from the border and its nearest border point (both UTM WKT)."""
    row = session.execute(
        text(
            """
            WITH b AS (SELECT ST_Union(geom_utm) AS g FROM reference_feature WHERE kind = 'border'),
                 p AS (SELECT ST_PointOnSurface(geom_utm) AS g, code FROM admin_area
                       WHERE level = 'desa' AND parent_code = '61.01.09')
            SELECT ST_AsText(p.g), ST_AsText(ST_ClosestPoint(b.g, p.g))
            FROM p, b
            WHERE ST_Distance(p.g, b.g) BETWEEN 6000 AND 10000
            ORDER BY p.code LIMIT 1
            """
        )
    ).one()
    return row[0], row[1]


def point_at_border_distance(session: Session, distance_m: float) -> tuple[float, float]:
    """A point on the Indonesian side exactly ``distance_m`` from the border.

    It lies on the segment from an interior point to its nearest border point, so that border
    point stays the nearest one and the distance is the segment length.
    """
    inner, closest = interior_anchor(session)
    row = session.execute(
        text(
            """
            WITH s AS (SELECT ST_GeomFromText(:c, 32649) AS c, ST_GeomFromText(:p, 32649) AS p)
            SELECT ST_X(g), ST_Y(g) FROM (
                SELECT ST_Transform(ST_LineInterpolatePoint(ST_MakeLine(c, p),
                                    :d / ST_Distance(c, p)), 4326) AS g FROM s) q
            """
        ),
        {"c": closest, "p": inner, "d": distance_m},
    ).one()
    return float(row[0]), float(row[1])


def add_workplace(session: Session, lon: float, lat: float, name: str = "PT Sawit Contoh") -> int:
    return int(
        session.execute(
            text(
                """
                INSERT INTO workplace (name, sector, geom)
                VALUES (:name, 'plantation', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
                RETURNING id
                """
            ),
            {"name": name, "lon": lon, "lat": lat},
        ).scalar_one()
    )


def add_incident(
    session: Session,
    lon: float,
    lat: float,
    occurred_at: dt.datetime = T0,
    kind: str = "illegal_work",
    severity: int = 3,
) -> int:
    return int(
        session.execute(
            text(
                """
                INSERT INTO incident (kind, severity, occurred_at, geom)
                VALUES (:kind, :severity, :at, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
                RETURNING id
                """
            ),
            {"kind": kind, "severity": severity, "at": occurred_at, "lon": lon, "lat": lat},
        ).scalar_one()
    )


def add_foreigner(
    session: Session,
    *,
    name: str = "Test Person",
    permit_type: str = "KITAS",
    permit_expires_on: dt.date | None = dt.date(2030, 1, 1),
    sponsor_workplace_id: int | None = None,
    at: tuple[float, float] | None = None,
) -> int:
    return int(
        session.execute(
            text(
                """
                INSERT INTO foreigner (full_name, nationality, permit_type, permit_expires_on,
                                       sponsor_workplace_id, geom)
                VALUES (:name, 'MYS', :permit_type, :expires, :sponsor,
                        CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                             ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END)
                RETURNING id
                """
            ),
            {
                "name": name,
                "permit_type": permit_type,
                "expires": permit_expires_on,
                "sponsor": sponsor_workplace_id,
                "lon": at[0] if at else None,
                "lat": at[1] if at else None,
            },
        ).scalar_one()
    )


def add_sighting(
    session: Session,
    lon: float,
    lat: float,
    observed_at: dt.datetime = T0,
    foreigner_id: int | None = None,
    source: str = "patrol",
    *,
    agency_id: int | None = None,
    sharing: str = "timpora",
    shared_with: tuple[int, ...] = (),
) -> int:
    return int(
        session.execute(
            text(
                """
                INSERT INTO sighting (foreigner_id, observed_at, source, geom, agency_id, sharing,
                                      shared_with)
                VALUES (:f, :at, :source, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                        :agency, :sharing, CAST(:shared_with AS int[]))
                RETURNING id
                """
            ),
            {
                "f": foreigner_id,
                "at": observed_at,
                "source": source,
                "lon": lon,
                "lat": lat,
                "agency": agency_id,
                "sharing": sharing,
                "shared_with": list(shared_with),
            },
        ).scalar_one()
    )


def add_zone(
    session: Session,
    lon: float,
    lat: float,
    half_size_m: float,
    kind: str = "watch",
    name: str = "Zona Uji",
) -> int:
    """A square zone of side 2 × ``half_size_m`` centred on (lon, lat), drawn in EPSG:32649."""
    return int(
        session.execute(
            text(
                """
                INSERT INTO zone (name, kind, geom)
                SELECT :name, :kind, ST_Multi(ST_Transform(ST_Expand(
                    ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649), :h), 4326))
                RETURNING id
                """
            ),
            {"name": name, "kind": kind, "lon": lon, "lat": lat, "h": half_size_m},
        ).scalar_one()
    )


def alerts(session: Session, rule: str | None = None) -> list[Any]:
    return list(
        session.execute(
            text(
                """
                SELECT id, rule_kind, dedup_key, incident_id, sighting_id, foreigner_id,
                       workplace_id, zone_id, distance_m, event_at, subjects, details,
                       kecamatan_name, desa_name, status, episode_key, first_seen_at,
                       last_seen_at, occurrences, worst_distance_m, last_sighting_id,
                       closed_reason
                FROM alert WHERE CAST(:rule AS text) IS NULL OR rule_kind = :rule
                ORDER BY id
                """
            ),
            {"rule": rule},
        )
    )
