"""The OsmAnd protocol as the Traccar Client app speaks it: one position per HTTP request.

Two forms reach the same :class:`Position` (docs/field.md):

- query or form parameters (older app versions, and any OsmAnd-speaking tracker):
  ``id``/``deviceid``, ``lat``, ``lon`` (or ``location=lat,lon``), ``timestamp`` (epoch seconds,
  epoch milliseconds, ISO 8601 or ``yyyy-MM-dd HH:mm:ss`` in UTC), ``speed`` in knots,
  ``bearing``/``heading``, ``altitude``, ``accuracy``, ``batt`` (percent), ``charge``;
- a JSON body (current versions): ``{"device_id": ..., "location": {"timestamp": ISO 8601,
  "coords": {"latitude", "longitude", "accuracy", "speed" (m/s), "heading", "altitude"},
  "is_moving", "battery": {"level": 0..1, "is_charging"}, ...}}``.

Decoding is pure: no database, no clock but the one passed in. Unknown extra keys are ignored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from geo.errors import ValidationError

KNOT_MPS: Final = 1852 / 3600
IDENTIFIER_MAX: Final = 64
# A phone's clock may run ahead a little; a position much later than the server's clock is bad.
MAX_FUTURE_S: Final = 600


@dataclass(frozen=True)
class Position:
    """One decoded position report. ``lon``/``lat`` are None for a report without a fix."""

    identifier: str
    recorded_at: dt.datetime
    lon: float | None
    lat: float | None
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    battery_pct: float | None = None
    is_moving: bool | None = None


def _bad(field: str, message: str, value: Any) -> ValidationError:
    return ValidationError(f"{field}: {message}, got {value!r}", field=field, value=value)


def _identifier(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > IDENTIFIER_MAX or not text.isprintable():
        raise _bad("id", f"a device identifier of 1 to {IDENTIFIER_MAX} characters", value)
    return text


def _number(
    field: str, value: Any, *, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool):
        raise _bad(field, "a number", value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(field, "a number", value) from None
    if not math.isfinite(number):
        raise _bad(field, "a finite number", value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise _bad(field, f"a number between {low} and {high}", value)
    return number


def _optional(
    field: str, value: Any, *, low: float | None = None, high: float | None = None
) -> float | None:
    """A measurement the app may leave out or report as -1 (unknown)."""
    if value is None or value == "":
        return None
    number = _number(field, value)
    if number < 0 and (low is None or low >= 0):
        return None  # Traccar Client's "unknown"
    return _number(field, number, low=low, high=high)


def _timestamp(value: Any, *, now: dt.datetime) -> dt.datetime:
    if value is None or value == "":
        return now
    text = str(value).strip()
    moment: dt.datetime
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _bad("timestamp", "epoch seconds or an ISO 8601 time", value) from None
        if moment.tzinfo is None:  # the protocol's times without an offset are UTC
            moment = moment.replace(tzinfo=dt.UTC)
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise _bad("timestamp", "epoch seconds or an ISO 8601 time", value)
        if seconds >= 2**31 - 1:  # milliseconds, as the JSON form's peers send them
            seconds /= 1000
        try:
            moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise _bad("timestamp", "a time this side of year 9999", value) from None
    if moment - now > dt.timedelta(seconds=MAX_FUTURE_S):
        raise _bad("timestamp", "a time not in the future", value)
    return moment.astimezone(dt.UTC)


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes"}


def decode_query(params: Mapping[str, str], *, now: dt.datetime) -> Position:
    """A position from query or form parameters (the first value of each key)."""
    identifier = _identifier(params.get("id", params.get("deviceid")))
    lat_value, lon_value = params.get("lat"), params.get("lon")
    if params.get("location") and (lat_value is None or lon_value is None):
        parts = str(params["location"]).split(",")
        if len(parts) != 2:
            raise _bad("location", "'lat,lon'", params["location"])
        lat_value, lon_value = parts
    lat = lon = None
    if lat_value is not None or lon_value is not None:
        lat = _number("lat", lat_value, low=-90, high=90)
        lon = _number("lon", lon_value, low=-180, high=180)
    speed_kn = _optional("speed", params.get("speed"), low=0, high=1000)
    return Position(
        identifier=identifier,
        recorded_at=_timestamp(params.get("timestamp"), now=now),
        lon=lon,
        lat=lat,
        accuracy_m=_optional("accuracy", params.get("accuracy"), low=0, high=1e6),
        speed_mps=None if speed_kn is None else speed_kn * KNOT_MPS,
        heading_deg=_optional(
            "bearing", params.get("bearing", params.get("heading")), low=0, high=360
        ),
        altitude_m=_optional_signed("altitude", params.get("altitude")),
        battery_pct=_optional("batt", params.get("batt"), low=0, high=100),
        is_moving=_bool(params.get("motion", params.get("is_moving"))),
    )


def _optional_signed(field: str, value: Any) -> float | None:
    """Altitude may be below sea level: no "-1 means unknown" here."""
    if value is None or value == "":
        return None
    return _number(field, value, low=-1000, high=10000)


def decode_json(body: Any, *, now: dt.datetime) -> Position:
    """A position from the JSON body of current Traccar Client versions."""
    if not isinstance(body, dict):
        raise _bad("body", "a JSON object with device_id and location", type(body).__name__)
    identifier = _identifier(body.get("device_id"))
    location = body.get("location")
    if not isinstance(location, dict):
        raise _bad("location", "an object with timestamp and coords", location)
    coords = location.get("coords")
    lat = lon = None
    accuracy = speed = heading = altitude = None
    if coords is not None:
        if not isinstance(coords, dict):
            raise _bad("location.coords", "an object with latitude and longitude", coords)
        lat = _number("location.coords.latitude", coords.get("latitude"), low=-90, high=90)
        lon = _number("location.coords.longitude", coords.get("longitude"), low=-180, high=180)
        accuracy = _optional("location.coords.accuracy", coords.get("accuracy"), low=0, high=1e6)
        speed = _optional("location.coords.speed", coords.get("speed"), low=0, high=500)
        heading = _optional("location.coords.heading", coords.get("heading"), low=0, high=360)
        altitude = _optional_signed("location.coords.altitude", coords.get("altitude"))
    battery = location.get("battery")
    battery_pct = None
    if isinstance(battery, dict) and battery.get("level") is not None:
        level = _optional("location.battery.level", battery.get("level"), low=0, high=1)
        battery_pct = None if level is None else round(level * 100, 1)
    return Position(
        identifier=identifier,
        recorded_at=_timestamp(location.get("timestamp"), now=now),
        lon=lon,
        lat=lat,
        accuracy_m=accuracy,
        speed_mps=speed,
        heading_deg=heading,
        altitude_m=altitude,
        battery_pct=battery_pct,
        is_moving=_bool(location.get("is_moving")),
    )
