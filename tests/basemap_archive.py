"""Small basemap archives the tests build themselves: a road, a river and two villages across
Sambas as vector tiles (made by PostGIS ``ST_AsMVT``), written as PMTiles v3 (the ``pmtiles``
package's writer) and as MBTiles (SQLite, as GDAL and tippecanoe write it); and a raster one."""

from __future__ import annotations

import gzip
import io
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from sqlalchemy import text

# Lon/lat lines and points in the regency (a road from Sambas town to PLBN Aruk, a river).
ROAD = [(109.31, 1.36), (109.45, 1.45), (109.60, 1.55), (109.677, 1.611)]
RIVER = [(109.05, 1.20), (109.20, 1.30), (109.31, 1.35), (109.40, 1.42)]
VILLAGES = [("Sebunga", 109.66, 1.60), ("Liku", 109.30, 1.80)]
BOUNDS = (108.9, 0.9, 109.9, 2.1)
MIN_ZOOM, MAX_ZOOM = 7, 11

TILE_SQL = """
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
roads AS (
  SELECT ST_AsMVTGeom(ST_Transform(ST_GeomFromText(:road, 4326), 3857), b.env) AS geom,
         'primary' AS "class" FROM b),
rivers AS (
  SELECT ST_AsMVTGeom(ST_Transform(ST_GeomFromText(:river, 4326), 3857), b.env) AS geom,
         'river' AS "class" FROM b),
villages AS (
  SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326), 3857), b.env)
           AS geom, v.name, 'village' AS "class"
    FROM b, jsonb_to_recordset(CAST(:villages AS jsonb)) AS v(name text, lon float8, lat float8))
SELECT (SELECT coalesce(ST_AsMVT(roads, 'transportation'), '') FROM roads WHERE geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(rivers, 'waterway'), '') FROM rivers WHERE geom IS NOT NULL)
    || (SELECT coalesce(ST_AsMVT(villages, 'place'), '') FROM villages WHERE geom IS NOT NULL)
"""


def _wkt(line: list[tuple[float, float]]) -> str:
    return "LINESTRING(" + ", ".join(f"{x} {y}" for x, y in line) + ")"


def tile_range(z: int) -> tuple[range, range]:
    """x and y (XYZ) of the tiles covering BOUNDS at zoom z."""
    west, south, east, north = BOUNDS

    def tx(lon: float) -> int:
        return int((lon + 180.0) / 360.0 * (1 << z))

    def ty(lat: float) -> int:
        r = math.radians(lat)
        return int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * (1 << z))

    return range(tx(west), tx(east) + 1), range(ty(north), ty(south) + 1)


def vector_tiles(conn: Any) -> dict[tuple[int, int, int], bytes]:
    """Non-empty MVT tiles (uncompressed) by (z, x, y)."""
    tiles: dict[tuple[int, int, int], bytes] = {}
    params = {"road": _wkt(ROAD), "river": _wkt(RIVER)}
    villages = json.dumps([{"name": n, "lon": x, "lat": y} for n, x, y in VILLAGES])
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        xs, ys = tile_range(z)
        for x in xs:
            for y in ys:
                data = conn.execute(
                    text(TILE_SQL), {"z": z, "x": x, "y": y, "villages": villages, **params}
                ).scalar()
                if data:
                    tiles[(z, x, y)] = bytes(data)
    return tiles


METADATA = {
    "name": "Sambas test basemap",
    "attribution": "© OpenStreetMap contributors (test)",
    "vector_layers": [{"id": "transportation"}, {"id": "waterway"}, {"id": "place"}],
}


def write_pmtiles(
    path: Path, tiles: dict[tuple[int, int, int], bytes], *, tile_type: TileType = TileType.MVT
) -> None:
    """A PMTiles v3 archive; vector tiles gzip-compressed, as planetiler writes them."""
    vector = tile_type == TileType.MVT
    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id, data in sorted((zxy_to_tileid(z, x, y), d) for (z, x, y), d in tiles.items()):
            writer.write_tile(tile_id, gzip.compress(data, mtime=0) if vector else data)
        west, south, east, north = BOUNDS
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": Compression.GZIP if vector else Compression.NONE,
                "min_zoom": MIN_ZOOM,
                "max_zoom": MAX_ZOOM,
                "min_lon_e7": int(west * 1e7),
                "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7),
                "max_lat_e7": int(north * 1e7),
                "center_zoom": 9,
                "center_lon_e7": int((west + east) / 2 * 1e7),
                "center_lat_e7": int((south + north) / 2 * 1e7),
            },
            METADATA,
        )


def write_mbtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], *, fmt: str) -> None:
    """An MBTiles archive (rows counted from the south); pbf tiles gzip-compressed."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name text, value text)")
        conn.execute(
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer,"
            " tile_data blob)"
        )
        meta = {
            "name": METADATA["name"],
            "format": fmt,
            "minzoom": str(MIN_ZOOM),
            "maxzoom": str(MAX_ZOOM),
            "bounds": ",".join(str(v) for v in BOUNDS),
            "attribution": METADATA["attribution"],
            "json": json.dumps({"vector_layers": METADATA["vector_layers"]}),
        }
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", list(meta.items()))
        conn.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [
                (z, x, (1 << z) - 1 - y, gzip.compress(d, mtime=0) if fmt == "pbf" else d)
                for (z, x, y), d in tiles.items()
            ],
        )
    conn.close()


def raster_tiles() -> dict[tuple[int, int, int], bytes]:
    """PNG tiles over BOUNDS: a translucent green wash with a dark diagonal (a "road")."""
    tiles: dict[tuple[int, int, int], bytes] = {}
    for z in range(MIN_ZOOM, 10):
        xs, ys = tile_range(z)
        for x in xs:
            for y in ys:
                image = Image.new("RGBA", (256, 256), (60, 160, 60, 90))
                for i in range(256):
                    image.putpixel((i, i), (20, 20, 20, 255))
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                tiles[(z, x, y)] = buffer.getvalue()
    return tiles
