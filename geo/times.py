"""Time conventions (docs/architecture.md): stored UTC, shown in WIB; no offset means WIB."""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from geo.errors import ValidationError

WIB_NAME: Final = "Asia/Pontianak"  # Western Indonesia Time, UTC+7
WIB: Final = ZoneInfo(WIB_NAME)
# WIB is UTC+7 all year (no daylight saving). Text that carries this offset is made at it, in SQL
# with ``AT TIME ZONE INTERVAL`` (arithmetic: the zone name looks up the zone's rules for every
# value, ~0.2 ms of a 1,000-feature page with two times a row; and before 1988, when Pontianak
# kept UTC+8, it gave a local time the "+07:00" label did not fit).
WIB_OFFSET: Final = "+07:00"
WIB_OFFSET_SQL: Final = f"AT TIME ZONE INTERVAL '{WIB_OFFSET}'"


def today_wib(now: dt.datetime | None = None) -> dt.date:
    """The day in WIB at ``now`` (default: this moment): what "today" means to every default
    date (alerts' day, risk's as-of, due days, inspections); the server's own date is UTC."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(WIB).date()


def parse_time(value: str | dt.datetime | dt.date | None, *, field: str) -> dt.datetime | None:
    """ISO 8601 date or datetime; without an offset it is WIB. ``field`` names it in errors."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                f"{field} must be an ISO 8601 date or datetime "
                f"(e.g. 2025-01-31 or 2025-01-31T08:00:00+07:00); got {value!r}",
                field=field,
                value=value[:100],
            ) from None
    else:
        raise ValidationError(
            f"{field} must be an ISO 8601 string; got {type(value).__name__}",
            field=field,
            value=str(value)[:100],
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=WIB)
    if not 1900 <= parsed.year <= 2200:
        raise ValidationError(
            f"{field} must be between the years 1900 and 2200; got {parsed.isoformat()}",
            field=field,
            value=parsed.isoformat(),
        )
    return parsed


def period_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the ISO week (Monday) or the month holding ``day``."""
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def period_count(first: dt.date, last: dt.date, unit: str) -> int:
    """How many weeks or months :func:`period_starts` gives from ``first`` through ``last``."""
    if last < first:
        return 0
    if unit == "week":
        return (last - first).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def period_starts(first: dt.date, last: dt.date, unit: str) -> list[dt.date]:
    """Start days of consecutive weeks or months from ``first`` through ``last``."""
    out: list[dt.date] = []
    day = first
    while day <= last:
        out.append(day)
        if unit == "week":
            day += dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def to_wib(value: dt.datetime) -> dt.datetime:
    """A stored time in WIB; a naive one is taken as UTC, as the database stores times."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(WIB)


def format_wib(value: dt.datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as a person reads it: WIB, to the minute unless ``fmt`` says otherwise."""
    return to_wib(value).strftime(fmt)
