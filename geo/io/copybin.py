"""PostgreSQL binary ``COPY`` payloads built column-wise with numpy (no per-row Python).

Writing a million rows as CSV text through pandas costs seconds of Python and again seconds of
server-side parsing. The binary format is a header, then per row a field count and per field a
big-endian length (-1 for NULL) and the value in the type's binary ("send") form. Every field of a
column has the same size except text, so a whole column is scattered into the buffer at once:
fixed-width values through a ``(rows, width)`` byte view, text through one UTF-8 blob and a
gather index. See https://www.postgresql.org/docs/15/sql-copy.html (Binary Format).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER: Final = b"\xff\xff"
PG_EPOCH_US: Final = np.datetime64("2000-01-01T00:00:00", "us")
PG_EPOCH_DAY: Final = np.datetime64("2000-01-01", "D")

BinaryType = Literal[
    "int8", "int4", "int2", "float8", "bool", "timestamptz", "date", "text", "ewkb_point"
]
_WIDTH: Final = {
    "int8": 8,
    "int4": 4,
    "int2": 2,
    "float8": 8,
    "bool": 1,
    "timestamptz": 8,
    "date": 4,
}
_EWKB_POINT_WIDTH: Final = 25


@dataclass(frozen=True)
class Field:
    """One column of the payload: its binary type, the per-row bytes, and the NULL mask."""

    width: np.ndarray  # payload bytes per row (0 where NULL)
    null: np.ndarray  # bool per row
    fixed: np.ndarray | None = None  # (rows, k) uint8 for fixed-width types
    blob: bytes = b""  # concatenated UTF-8 of the non-null values, for text


def _fixed(values: np.ndarray, null: np.ndarray, big_endian_dtype: str) -> Field:
    raw = np.ascontiguousarray(values.astype(big_endian_dtype, copy=False))
    k = raw.dtype.itemsize
    width = np.where(null, 0, k).astype(np.int64)
    return Field(width=width, null=null, fixed=raw.view(np.uint8).reshape(-1, k))


def field_of(kind: BinaryType, values: object, srid: int = 4326) -> Field:
    """Encode a column; NULL is None/NaN/NaT (or NaN coordinates for ``ewkb_point``)."""
    if kind == "ewkb_point":
        assert isinstance(values, tuple) and len(values) == 2
        x = np.asarray(values[0], dtype=np.float64)
        y = np.asarray(values[1], dtype=np.float64)
        null = np.isnan(x) | np.isnan(y)
        rec = np.zeros(
            len(x),
            dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")],
        )
        rec["order"] = 1  # little endian (NDR)
        rec["type"] = 0x20000001  # Point with the SRID flag (EWKB)
        rec["srid"] = srid
        rec["x"] = np.where(null, 0.0, x)
        rec["y"] = np.where(null, 0.0, y)
        width = np.where(null, 0, _EWKB_POINT_WIDTH).astype(np.int64)
        return Field(width=width, null=null, fixed=rec.view(np.uint8).reshape(-1, 25))
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if kind == "text":
        null = series.isna().to_numpy()
        present = series[~null].astype(str).tolist()
        joined = "".join(present)
        blob = joined.encode("utf-8")
        if len(blob) == len(joined):  # ASCII: characters are bytes
            lengths = np.fromiter(map(len, present), dtype=np.int64, count=len(present))
        else:
            encoded = [s.encode("utf-8") for s in present]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        width = np.zeros(len(series), dtype=np.int64)
        width[~null] = lengths
        return Field(width=width, null=null, blob=blob)
    if kind == "timestamptz":
        stamps = pd.to_datetime(series, utc=True)
        null = stamps.isna().to_numpy()
        naive = stamps.dt.tz_localize(None).to_numpy("datetime64[us]")
        micros = (naive - PG_EPOCH_US).astype(np.int64)
        return _fixed(np.where(null, 0, micros), null, ">i8")
    if kind == "date":
        days_in = pd.to_datetime(series)
        null = days_in.isna().to_numpy()
        days = (days_in.to_numpy("datetime64[D]") - PG_EPOCH_DAY).astype(np.int64)
        return _fixed(np.where(null, 0, days), null, ">i4")
    if kind == "bool":
        null = series.isna().to_numpy()
        return _fixed(series.fillna(False).to_numpy(dtype=bool), null, "u1")
    null = series.isna().to_numpy()
    if kind == "float8":
        return _fixed(series.to_numpy(dtype=np.float64, na_value=0.0), null, ">f8")
    filled = series.to_numpy(dtype=np.int64, na_value=0)
    return _fixed(filled, null, {"int8": ">i8", "int4": ">i4", "int2": ">i2"}[kind])


def field_of_codes(codes: np.ndarray, categories: np.ndarray) -> Field:
    """A text column given as indexes into ``categories`` (str or None for NULL): each
    category is encoded once and the rows' bytes gathered from them, no string per row."""
    encoded = [b"" if c is None else str(c).encode("utf-8") for c in categories]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    table = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    is_null = np.fromiter((c is None for c in categories), dtype=bool, count=len(encoded))
    null = is_null[codes]
    width = np.where(null, 0, lengths[codes])
    present = codes[~null]
    sizes = lengths[present]
    total = int(sizes.sum())
    at = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=at[1:])
    source = np.repeat(starts[present] - at, sizes) + np.arange(total, dtype=np.int64)
    return Field(width=width, null=null, blob=table[source].tobytes())


def encode(fields: list[Field], *, header: bool = True, trailer: bool = True) -> bytes:
    """The ``COPY … FROM STDIN WITH (FORMAT binary)`` payload of these columns; a stream sent in
    parts has the header on its first part only and the trailer on its last."""
    n = len(fields[0].width) if fields else 0
    ncols = len(fields)
    row_len = np.full(n, 2, dtype=np.int64)
    for f in fields:
        row_len += 4 + f.width
    row_start = np.zeros(n, dtype=np.int64)
    np.cumsum(row_len[:-1], out=row_start[1:])
    body = len(HEADER) if header else 0
    total = body + int(row_len.sum()) + (len(TRAILER) if trailer else 0)
    buf = np.empty(total, dtype=np.uint8)
    buf[:body] = np.frombuffer(HEADER, dtype=np.uint8)[:body]
    if trailer:
        buf[total - 2 :] = 0xFF
    starts = row_start + body
    _scatter_fixed(buf, starts, np.full((n, 1), ncols, dtype=">i2").view(np.uint8))
    offset = starts + 2
    for f in fields:
        length = np.where(f.null, -1, f.width).astype(">i4").view(np.uint8).reshape(-1, 4)
        _scatter_fixed(buf, offset, length)
        data_at = offset + 4
        if f.fixed is not None:
            keep = ~f.null
            _scatter_fixed(buf, data_at[keep], f.fixed[keep])
        elif f.blob:
            sizes = f.width[~f.null]
            dest = np.repeat(data_at[~f.null], sizes)
            src_start = np.zeros(len(sizes), dtype=np.int64)
            np.cumsum(sizes[:-1], out=src_start[1:])
            dest += np.arange(len(f.blob), dtype=np.int64) - np.repeat(src_start, sizes)
            buf[dest] = np.frombuffer(f.blob, dtype=np.uint8)
        offset = data_at + f.width
    return buf.tobytes()


def _scatter_fixed(buf: np.ndarray, at: np.ndarray, values: np.ndarray) -> None:
    if len(at) == 0:
        return
    k = values.shape[1]
    buf[at[:, None] + np.arange(k, dtype=np.int64)] = values


def utc_datetime(value: np.datetime64) -> dt.datetime:
    """A numpy UTC instant as an aware datetime."""
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()
