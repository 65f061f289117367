"""Point layers of the overview map: registered workplaces and the latest open alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.alerts.sql import EPISODE_IN_PERIOD
from geo.registry.where import kecamatan_codes

WORKPLACES_SQL: Final = """
SELECT w.id, w.name, w.sector, w.kecamatan_name, w.foreign_worker_quota,
       ST_X(w.geom) AS lon, ST_Y(w.geom) AS lat
  FROM workplace w
 WHERE (:no_kecamatan OR w.kecamatan_code = ANY(:kecamatan))
 ORDER BY w.id
"""


@dataclass(frozen=True)
class WorkplacePoint:
    id: int
    name: str
    sector: str
    kecamatan_name: str | None
    foreign_worker_quota: int | None
    lon: float
    lat: float


def workplaces(*, session: Session, kecamatan: Sequence[str] = ()) -> list[WorkplacePoint]:
    """Registered workplaces (names are not personal data)."""
    codes = kecamatan_codes(session=session, values=kecamatan)
    rows = session.execute(
        text(WORKPLACES_SQL), {"no_kecamatan": not codes, "kecamatan": codes}
    ).all()
    return [
        WorkplacePoint(
            id=int(r.id),
            name=r.name,
            sector=r.sector,
            kecamatan_name=r.kecamatan_name,
            foreign_worker_quota=r.foreign_worker_quota,
            lon=float(r.lon),
            lat=float(r.lat),
        )
        for r in rows
    ]


ALERTS_SQL: Final = f"""
SELECT a.id, a.rule_kind, a.severity, a.status, a.kecamatan_name, a.desa_name, a.distance_m,
       a.event_at, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat
  FROM alert a
 WHERE a.geom IS NOT NULL AND {EPISODE_IN_PERIOD}
   AND (:personal OR (a.foreigner_id IS NULL AND a.sighting_id IS NULL))
   AND (:no_kecamatan OR a.kecamatan_code = ANY(:kecamatan))
 ORDER BY a.last_seen_at DESC, a.id DESC
 LIMIT :limit
"""


@dataclass(frozen=True)
class AlertPoint:
    id: int
    rule_kind: str
    severity: int
    status: str
    kecamatan_name: str | None
    desa_name: str | None
    distance_m: float | None
    event_at: dt.datetime
    lon: float
    lat: float


def latest_alerts(
    *,
    session: Session,
    personal: bool,
    kecamatan: Sequence[str] = (),
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 50,
) -> list[AlertPoint]:
    """Alert episodes open at some time in [start, end) (without a period: open now), the
    latest seen first. Without ``personal``, alerts about a person are left out: one marker is
    the position of one identifiable foreigner, not an aggregate."""
    codes = kecamatan_codes(session=session, values=kecamatan)
    rows = session.execute(
        text(ALERTS_SQL),
        {
            "personal": personal,
            "no_kecamatan": not codes,
            "kecamatan": codes,
            "start": start,
            "end": end,
            "limit": int(limit),
        },
    ).all()
    return [
        AlertPoint(
            id=int(r.id),
            rule_kind=r.rule_kind,
            severity=int(r.severity),
            status=r.status,
            kecamatan_name=r.kecamatan_name,
            desa_name=r.desa_name,
            distance_m=float(r.distance_m) if r.distance_m is not None else None,
            event_at=r.event_at,
            lon=float(r.lon),
            lat=float(r.lat),
        )
        for r in rows
    ]
