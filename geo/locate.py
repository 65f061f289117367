"""Where a point is: kecamatan, desa, distance to the border, side, and the area-of-interest check.

The derived columns of workplace, foreigner, sighting and incident are filled by a trigger in the
same transaction as the write (migration 0002, ``timpora_locate``). Bulk paths may defer the
trigger for their transaction (:func:`defer_location`) and fill the columns set-based with
:func:`relocate` before they commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import OutOfAreaError
from geo.geometry import validate_lonlat
from geo.settings import AreaSettings

LOCATED_TABLES: Final = ("workplace", "foreigner", "sighting", "incident")

# Extent used only while no kabupaten polygon is loaded (the reference data's bbox).
FALLBACK_AOI_BBOX: Final = (108.7, 0.7, 110.2, 2.2)

LOCATE_POINT_SQL = text(
    """
    SELECT kecamatan_code, kecamatan_name, desa_code, desa_name,
           distance_to_border_m, border_side
    FROM timpora_locate(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    """
)

AOI_CHECK_SQL = text(
    """
    WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649) AS g)
    SELECT
        EXISTS (SELECT 1 FROM locate_piece WHERE kind = 'kabupaten') AS have_aoi,
        EXISTS (
            SELECT 1 FROM locate_piece lp, p
            WHERE lp.kind = 'kabupaten' AND ST_DWithin(lp.geom_utm, p.g, :margin_m)
        ) AS inside
    """
)

NEAREST_KECAMATAN_SQL = text(
    """
    WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 32649) AS g)
    SELECT c.parent_name, ST_Distance(c.geom_utm, p.g) AS distance_m
    FROM p, LATERAL (
        SELECT lp.parent_name, lp.geom_utm FROM locate_piece lp
        WHERE lp.kind = 'desa'
        ORDER BY lp.geom_utm <-> p.g
        LIMIT 8
    ) c
    ORDER BY 2
    LIMIT 1
    """
)

# Set-based refill of the derived columns; {table} and {where} come from code, not users.
RELOCATE_SQL = """
    UPDATE {table} AS t
    SET kecamatan_code = l.kecamatan_code,
        kecamatan_name = l.kecamatan_name,
        desa_code = l.desa_code,
        desa_name = l.desa_name,
        distance_to_border_m = l.distance_to_border_m,
        border_side = l.border_side
    FROM {table} AS s
    CROSS JOIN LATERAL timpora_locate(s.geom) AS l
    WHERE {join} {where}
"""

_KEYS: Final = {
    "workplace": ("id",),
    "foreigner": ("id",),
    "incident": ("id",),
    "sighting": ("id", "observed_at"),
}


@dataclass(frozen=True)
class Location:
    kecamatan_code: str | None
    kecamatan_name: str | None
    desa_code: str | None
    desa_name: str | None
    distance_to_border_m: float | None
    border_side: str | None


def locate(*, session: Session, lon: float, lat: float) -> Location:
    """The derived location of one point (the same function the write trigger uses)."""
    x, y = validate_lonlat(lon, lat)
    row = session.execute(LOCATE_POINT_SQL, {"lon": x, "lat": y}).one()
    return Location(*row)


def check_in_area(
    *,
    session: Session,
    lon: float,
    lat: float,
    area: AreaSettings,
    allow_out_of_area: bool = False,
    field: str = "geometry",
) -> bool:
    """Raise OutOfAreaError unless the point is within the regency plus the margin.

    Returns True when the point is outside but ``allow_out_of_area`` accepts it (the caller
    stores it flagged), False when it is inside.
    """
    x, y = validate_lonlat(lon, lat, field=field)
    have_aoi, inside = session.execute(
        AOI_CHECK_SQL, {"lon": x, "lat": y, "margin_m": area.aoi_margin_m}
    ).one()
    if not have_aoi:
        minx, miny, maxx, maxy = FALLBACK_AOI_BBOX
        inside = minx <= x <= maxx and miny <= y <= maxy
    if inside:
        return False
    if allow_out_of_area:
        return True
    nearest = session.execute(NEAREST_KECAMATAN_SQL, {"lon": x, "lat": y}).first()
    where = (
        f"; nearest kecamatan {nearest[0]}, {nearest[1] / 1000:.1f} km away"
        if nearest and nearest[0]
        else ""
    )
    raise OutOfAreaError(
        f"{field}: point (lon {x:.6f}, lat {y:.6f}) is outside Kabupaten Sambas plus the "
        f"{area.aoi_margin_m / 1000:g} km margin{where}",
        field=field,
        value=[x, y],
    )


def defer_location(session: Session) -> None:
    """Skip the per-row trigger for the rest of this transaction (bulk paths call relocate)."""
    session.execute(text("SET LOCAL timpora.defer_locate = 'on'"))


def resume_location(session: Session) -> None:
    session.execute(text("SET LOCAL timpora.defer_locate = 'off'"))


def relocate(
    *, session: Session, table: str, where: str = "", params: dict[str, object] | None = None
) -> int:
    """Refill the derived columns of ``table`` set-based; ``where`` filters on alias ``s``.

    ``where`` is SQL written by the caller's code (e.g. ``"s.id = ANY(:ids)"``), never user input;
    its values go in ``params``.
    """
    if table not in _KEYS:
        raise ValueError(f"not a located table: {table!r}")
    join = " AND ".join(f"t.{k} = s.{k}" for k in _KEYS[table])
    sql = RELOCATE_SQL.format(table=table, join=join, where=f"AND ({where})" if where else "")
    result = session.execute(text(sql), params or {})
    return int(result.rowcount)  # type: ignore[attr-defined]


def relocate_all(*, session: Session) -> dict[str, int]:
    """Refill every located table (after the reference geography changed)."""
    return {table: relocate(session=session, table=table) for table in LOCATED_TABLES}
