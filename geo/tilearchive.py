"""An office's basemap archive (PMTiles v3 or MBTiles): what it holds and its tiles by z/x/y.

The map views draw it under the data (docs/maps.md). Reading is local and read-only: a PMTiles
file through a memory map (its header, directories and tiles are byte ranges of one file), an
MBTiles file through SQLite. Nothing here knows about HTTP.
"""

from __future__ import annotations

import functools
import gzip
import json
import mmap
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pmtiles.reader import Reader
from pmtiles.tile import Compression, MagicNumberNotFound, SpecVersionUnsupported, TileType

from geo.errors import ConfigurationError, ValidationError

TileFormat = Literal["mvt", "png", "jpeg", "webp"]
MAX_ZOOM: Final = 24
OSM_ATTRIBUTION: Final = "© OpenStreetMap contributors"

_PMTILES_TYPES: Final[dict[TileType, TileFormat]] = {
    TileType.MVT: "mvt",
    TileType.PNG: "png",
    TileType.JPEG: "jpeg",
    TileType.WEBP: "webp",
}
_MBTILES_FORMATS: Final[dict[str, TileFormat]] = {
    "pbf": "mvt",
    "mvt": "mvt",
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "webp": "webp",
}
MEDIA_TYPES: Final[dict[TileFormat, str]] = {
    "mvt": "application/vnd.mapbox-vector-tile",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
GZIP_MAGIC: Final = b"\x1f\x8b"


@dataclass(frozen=True)
class ArchiveInfo:
    """What a basemap archive holds; ``bounds`` is (west, south, east, north) in degrees."""

    container: Literal["pmtiles", "mbtiles"]
    tile_format: TileFormat
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float] | None
    attribution: str
    vector_layers: tuple[str, ...]
    size_bytes: int

    @property
    def vector(self) -> bool:
        return self.tile_format == "mvt"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.tile_format]


@dataclass(frozen=True)
class Tile:
    """One tile's bytes as stored; ``gzip`` when they are gzip-compressed (vector tiles)."""

    data: bytes
    gzip: bool


def check_tile_address(z: int, x: int, y: int) -> None:
    """z in 0–24 and x, y inside the zoom's grid; the error names the value."""
    if not 0 <= z <= MAX_ZOOM:
        raise ValidationError(f"z must be 0–{MAX_ZOOM}; got {z}", field="z", value=z)
    side = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < side:
            raise ValidationError(
                f"{name} must be 0–{side - 1} at zoom {z}; got {value}", field=name, value=value
            )


def _layer_ids(metadata: dict[str, Any]) -> tuple[str, ...]:
    """Vector layer ids of an archive's metadata (MBTiles, and PMTiles converted from one, keep
    them in a JSON string under ``json``)."""
    layers = metadata.get("vector_layers")
    if not layers and isinstance(metadata.get("json"), str):
        try:
            layers = json.loads(metadata["json"]).get("vector_layers")
        except (ValueError, AttributeError):
            layers = None
    layers = layers or []
    return tuple(str(layer["id"]) for layer in layers if isinstance(layer, dict) and "id" in layer)


class TileArchive:
    """A PMTiles or MBTiles file opened read-only. Raises ``ConfigurationError`` naming the file
    when it is missing, not an archive, or holds tiles this service cannot serve."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ConfigurationError(f"basemap file {str(path)!r} does not exist")
        with path.open("rb") as f:
            magic = f.read(16)
        if magic.startswith(b"PMTiles"):
            self.info = self._open_pmtiles()
        elif magic.startswith(b"SQLite format 3"):
            self.info = self._open_mbtiles()
        else:
            raise ConfigurationError(
                f"basemap file {str(path)!r} is neither PMTiles nor MBTiles (SQLite)"
            )

    # --- PMTiles ------------------------------------------------------------------------------

    def _open_pmtiles(self) -> ArchiveInfo:
        self._file = self.path.open("rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        mapping = self._map

        def get_bytes(offset: int, length: int) -> bytes:
            return mapping[offset : offset + length]

        self._reader = Reader(get_bytes)  # type: ignore[no-untyped-call]
        try:
            header = self._reader.header()  # type: ignore[no-untyped-call]
            metadata = self._reader.metadata()  # type: ignore[no-untyped-call]
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError) as exc:
            raise ConfigurationError(
                f"basemap file {str(self.path)!r} is not a PMTiles v3 archive ({exc!r})"
            ) from None
        tile_format = _PMTILES_TYPES.get(header["tile_type"])
        if tile_format is None:
            raise ConfigurationError(
                f"basemap file {str(self.path)!r} holds {header['tile_type'].name} tiles; "
                "serve MVT, PNG, JPEG or WebP"
            )
        if header["tile_compression"] not in (Compression.NONE, Compression.GZIP):
            raise ConfigurationError(
                f"basemap file {str(self.path)!r} compresses its tiles with "
                f"{header['tile_compression'].name}; re-pack it with gzip or none "
                "(docs/maps.md)"
            )
        bounds = (
            header["min_lon_e7"] / 1e7,
            header["min_lat_e7"] / 1e7,
            header["max_lon_e7"] / 1e7,
            header["max_lat_e7"] / 1e7,
        )
        return ArchiveInfo(
            container="pmtiles",
            tile_format=tile_format,
            min_zoom=int(header["min_zoom"]),
            max_zoom=int(header["max_zoom"]),
            bounds=bounds if bounds[0] < bounds[2] and bounds[1] < bounds[3] else None,
            attribution=str(metadata.get("attribution") or ""),
            vector_layers=_layer_ids(metadata),
            size_bytes=self.path.stat().st_size,
        )

    # --- MBTiles ------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)

    def _open_mbtiles(self) -> ArchiveInfo:
        try:
            with self._connect() as conn:
                meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
                zooms = conn.execute(
                    "SELECT min(zoom_level), max(zoom_level) FROM tiles"
                ).fetchone()
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"basemap file {str(self.path)!r} is not an MBTiles archive ({exc})"
            ) from None
        tile_format = _MBTILES_FORMATS.get(str(meta.get("format", "png")).lower())
        if tile_format is None:
            raise ConfigurationError(
                f"basemap file {str(self.path)!r} has tile format {meta.get('format')!r}; "
                "serve pbf, png, jpg or webp"
            )
        bounds = None
        if meta.get("bounds"):
            try:
                w, s, e, n = (float(v) for v in str(meta["bounds"]).split(","))
                bounds = (w, s, e, n)
            except ValueError:
                bounds = None
        extra = json.loads(meta["json"]) if meta.get("json") else {}
        return ArchiveInfo(
            container="mbtiles",
            tile_format=tile_format,
            min_zoom=int(meta.get("minzoom", zooms[0] or 0)),
            max_zoom=int(meta.get("maxzoom", zooms[1] or 0)),
            bounds=bounds,
            attribution=str(meta.get("attribution") or ""),
            vector_layers=_layer_ids(extra),
            size_bytes=self.path.stat().st_size,
        )

    # --- tiles --------------------------------------------------------------------------------

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at z/x/y (XYZ, y down), or None where the archive has none."""
        check_tile_address(z, x, y)
        if z < self.info.min_zoom or z > self.info.max_zoom:
            return None
        data: bytes | None
        if self.info.container == "pmtiles":
            data = self._reader.get(z, x, y)  # type: ignore[no-untyped-call]
        else:
            with self._connect() as conn:
                row = conn.execute(
                    "SELECT tile_data FROM tiles"
                    " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                    # MBTiles rows count from the south (TMS)
                    (z, x, (1 << z) - 1 - y),
                ).fetchone()
            data = None if row is None else bytes(row[0])
        if not data:
            return None
        return Tile(data=data, gzip=data[:2] == GZIP_MAGIC)

    def tile_plain(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes with any gzip layer removed (for callers that parse them)."""
        found = self.tile(z, x, y)
        if found is None:
            return None
        return gzip.decompress(found.data) if found.gzip else found.data


@functools.lru_cache(maxsize=4)
def _open(path: str, size: int, mtime_ns: int) -> TileArchive:
    return TileArchive(Path(path))


def open_archive(path: Path) -> TileArchive:
    """The archive at ``path``, opened once per file version (size and modification time), so a
    replaced file is read afresh."""
    try:
        stat = path.stat()
    except OSError:
        raise ConfigurationError(f"basemap file {str(path)!r} does not exist") from None
    return _open(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def archive_or_none(path: Path | None) -> TileArchive | None:
    """The configured archive, or None when none is configured."""
    return None if path is None else open_archive(path)
