"""Which trading day a moment belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ssmd.calendar import DayPartitioner, day_bounds, day_partition, trading_day
from ssmd.config.model import Schedule


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


def test_the_last_nanosecond_before_day_start_is_the_previous_day() -> None:
    s = Schedule(timezone="UTC", day_start="00:10", day_end="00:00")
    start = ns(2026, 7, 15, 0, 10)
    assert day_partition(s, start - 1) == "2026-07-14"
    assert day_partition(s, start) == "2026-07-15"
    assert DayPartitioner(s)(start - 1) == "2026-07-14"


def _sweep(schedule: Schedule, first: int, last: int, step: int) -> None:
    """The partitioner agrees with ``day_partition`` at every step and 1 ns before it,
    walking forwards, then backwards, with a fresh partitioner each way."""
    instants = range(first, last, step)
    for order in (instants, reversed(instants)):
        part = DayPartitioner(schedule)
        for t in order:
            assert part(t) == day_partition(schedule, t), (schedule, t)
            assert part(t - 1) == day_partition(schedule, t - 1), (schedule, t - 1)


def test_partitioner_matches_day_partition_across_day_starts() -> None:
    s = Schedule(timezone="UTC", day_start="00:10", day_end="00:00")
    start = ns(2026, 7, 15, 0, 10)
    part = DayPartitioner(s)
    for t in (start - 1, start, start - 1, start + 86_400 * 10**9 - 1, start + 86_400 * 10**9):
        assert part(t) == day_partition(s, t)
    _sweep(s, ns(2026, 7, 13), ns(2026, 7, 17), 7 * 60 * 10**9 + 123)


@pytest.mark.parametrize("day_start", ["00:00", "01:30", "02:30", "03:00", "23:45"])
@pytest.mark.parametrize(("zone", "change_days"), [
    ("America/New_York", [(2026, 3, 8), (2026, 11, 1)]),
    ("Europe/London", [(2026, 3, 29), (2026, 10, 25)]),
    ("Australia/Lord_Howe", [(2026, 4, 5), (2026, 10, 4)]),  # a 30-minute change
])
def test_partitioner_matches_day_partition_across_dst(zone: str, change_days: list[tuple[int, int, int]],
                                                      day_start: str) -> None:
    s = Schedule(timezone=zone, day_start=day_start, day_end=day_start)
    for y, m, d in change_days:
        middle = ns(y, m, d, 12, tz=ZoneInfo(zone))
        _sweep(s, middle - 2 * 86_400 * 10**9, middle + 2 * 86_400 * 10**9, 60 * 10**9)
        _sweep(s, middle - 86_400 * 10**9, middle + 86_400 * 10**9, 997 * 10**9 + 1)
