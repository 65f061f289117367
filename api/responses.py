"""Response classes: orjson-encoded JSON and GeoJSON (bytes built once, no re-encoding)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC


class JSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes | bytearray | memoryview):
            return bytes(content)  # already-encoded JSON (e.g. built by PostgreSQL)
        return orjson.dumps(content, option=_OPTIONS)


class GeoJSON(JSON):
    media_type = "application/geo+json"
