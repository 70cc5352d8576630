"""Which trading day a moment belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ssmd.config.model import Schedule
from ssmd.day.calendar import day_bounds, day_partition, trading_day


def ns(*args: int, tz: object = UTC) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp() * 1e9)  # type: ignore[arg-type, misc]


def test_before_day_start_is_previous_day() -> None:
    s = Schedule(timezone="UTC", day_start="00:10", day_end="00:00")
    assert trading_day(s, ns(2026, 7, 15, 0, 5)) == date(2026, 7, 14)
    assert trading_day(s, ns(2026, 7, 15, 0, 10)) == date(2026, 7, 15)
    assert day_partition(s, ns(2026, 7, 15, 23, 59)) == "2026-07-15"


def test_timezone_shifts_the_day() -> None:
    s = Schedule(timezone="America/New_York", day_start="09:30", day_end="16:00")
    # 2026-07-15 13:00 UTC is 09:00 in New York: still the 14th's day
    assert trading_day(s, ns(2026, 7, 15, 13, 0)) == date(2026, 7, 14)
    assert trading_day(s, ns(2026, 7, 15, 14, 0)) == date(2026, 7, 15)
    start, end = day_bounds(s, date(2026, 7, 15))
    assert (start.hour, end.hour, start.date(), end.date()) == (13, 20, date(2026, 7, 15), date(2026, 7, 15))


def test_end_before_start_is_next_day() -> None:
    start, end = day_bounds(Schedule(day_start="00:10", day_end="00:00"), date(2026, 7, 14))
    assert start == datetime(2026, 7, 14, 0, 10, tzinfo=UTC)
    assert end == datetime(2026, 7, 15, 0, 0, tzinfo=UTC)
