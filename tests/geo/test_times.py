"""What "today" means: the day in WIB (UTC+7), not the server's UTC date."""

from __future__ import annotations

import datetime as dt

from geo.times import today_wib


def test_today_is_the_wib_day() -> None:
    # 18:00 UTC is already 01:00 the next day in West Kalimantan.
    assert today_wib(dt.datetime(2026, 12, 6, 18, 0, tzinfo=dt.UTC)) == dt.date(2026, 12, 7)
    assert today_wib(dt.datetime(2026, 12, 6, 16, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 6)
