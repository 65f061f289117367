"""``/basemap/…``: the office's basemap archive (``TIMPORA_BASEMAP_FILE``), served by this
service so the maps need no tile server and no network (docs/maps.md).

- ``GET /basemap/archive``: the file itself with HTTP range requests (``206 Partial Content``,
  ``ETag``, ``If-Range``, ``416``), for PMTiles readers that fetch byte ranges (pmtiles.js,
  QGIS and GDAL over ``/vsicurl/``) and for copying the file to another machine;
- ``GET /basemap/tiles/{z}/{x}/{y}``: one tile, read from the archive on the server (PMTiles or
  MBTiles alike), which is what the map views draw: a Leaflet tile layer asks for tiles by
  z/x/y, and reading the archive here keeps its directory out of every browser;
- ``GET /basemap/metadata``: what the archive holds.

They need no token: a browser asks for tiles from ``<img>`` elements and from the map frame,
which carry none, and the archive holds public map data (OpenStreetMap), no records of this
service. The same rate limit applies as to every route.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse

from api.deps import SettingsDep
from api.schemas import ProblemDetail
from geo.errors import NotFoundError
from geo.settings import Settings
from geo.tilearchive import MAX_ZOOM, MEDIA_TYPES, TileArchive, open_archive

router = APIRouter(tags=["basemap"])

TILE_CACHE = "public, max-age=86400"
ARCHIVE_CACHE = "public, max-age=3600"
# The dashboard shows maps in a sandboxed frame (an opaque origin): its vector-tile fetches are
# cross-origin requests, answered for any origin because the data is public and no credential
# is involved.
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Content-Range, Content-Length, Accept-Ranges",
}
# Public routes: no 401/403; 404 when no archive is configured.
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemDetail, "description": "No basemap archive is configured"},
    422: {"model": ProblemDetail, "description": "A tile address is invalid (value named)"},
}
ARCHIVE_TYPES = {"pmtiles": "application/vnd.pmtiles", "mbtiles": "application/vnd.sqlite3"}


def _archive(settings: Settings) -> TileArchive:
    path = settings.service.basemap_file
    if path is None:
        raise NotFoundError("no basemap archive is configured (TIMPORA_BASEMAP_FILE)")
    return open_archive(path)


@router.get(
    "/basemap/metadata",
    summary="What the office's basemap archive holds (format, zooms, bounds, layers)",
    responses=ERRORS,
)
def basemap_metadata(settings: SettingsDep) -> dict[str, Any]:
    info = _archive(settings).info
    return {
        "container": info.container,
        "tile_format": info.tile_format,
        "vector": info.vector,
        "min_zoom": info.min_zoom,
        "max_zoom": info.max_zoom,
        "bounds": list(info.bounds) if info.bounds else None,
        "attribution": settings.service.basemap_attribution or info.attribution,
        "vector_layers": list(info.vector_layers),
        "size_bytes": info.size_bytes,
        "tiles": "/basemap/tiles/{z}/{x}/{y}",
        "archive": "/basemap/archive",
    }


@router.get(
    "/basemap/archive",
    summary="The basemap archive file, with HTTP range requests (206, ETag, If-Range)",
    responses={
        200: {"content": {t: {} for t in ARCHIVE_TYPES.values()}},
        206: {"description": "The requested byte range"},
        416: {"description": "The range lies outside the file"},
        **ERRORS,
    },
    response_class=FileResponse,
)
def basemap_archive(settings: SettingsDep) -> FileResponse:
    archive = _archive(settings)
    # Starlette's FileResponse answers Range and If-Range itself (one range as 206, several as
    # multipart/byteranges, 416 past the end) and sets ETag and Last-Modified from the file.
    return FileResponse(
        archive.path,
        media_type=ARCHIVE_TYPES[archive.info.container],
        filename=f"basemap.{archive.info.container}",
        content_disposition_type="inline",
        headers={"Cache-Control": ARCHIVE_CACHE, **CORS},
    )


@router.get(
    "/basemap/tiles/{z}/{x}/{y}",
    summary="One tile of the basemap archive (vector or raster, as stored)",
    responses={
        200: {"content": {t: {} for t in MEDIA_TYPES.values()}},
        204: {"description": "The archive has no tile here"},
        304: {"description": "Not modified (If-None-Match)"},
        **ERRORS,
    },
    response_class=Response,
)
def basemap_tile(
    request: Request,
    settings: SettingsDep,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    archive = _archive(settings)
    tile = archive.tile(z, x, y)
    headers = {"Cache-Control": TILE_CACHE, **CORS}
    if tile is None:
        return Response(status_code=204, headers=headers)
    etag = '"' + hashlib.blake2b(tile.data, digest_size=12).hexdigest() + '"'
    headers["ETag"] = etag
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if tile.gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(tile.data, media_type=archive.info.media_type, headers=headers)
