"""Which trading day a moment belongs to, from the environment's schedule (pure).

A trading day is labelled by the local date on which it starts. A moment before the
local ``day_start`` belongs to the previous day: with ``day_start: "00:10"``, 00:05 local on
the 15th is still the 14th's trading day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from ssmd.config.model import Schedule


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def trading_day(schedule: Schedule, ns: int) -> date:
    """The trading day of the instant ``ns`` (nanoseconds since the epoch)."""
    local = datetime.fromtimestamp(ns / 1e9, tz=_zone(schedule.timezone))
    start = _hhmm(schedule.day_start)
    return local.date() if local.time() >= start else local.date() - timedelta(days=1)


def day_bounds(schedule: Schedule, day: date) -> tuple[datetime, datetime]:
    """UTC start and end of trading day ``day``. ``day_end`` at or before ``day_start``
    means the end falls on the next calendar day."""
    zone = _zone(schedule.timezone)
    start_t, end_t = _hhmm(schedule.day_start), _hhmm(schedule.day_end)
    start = datetime.combine(day, start_t, tzinfo=zone)
    end_day = day if end_t > start_t else day + timedelta(days=1)
    end = datetime.combine(end_day, end_t, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def day_partition(schedule: Schedule, ns: int) -> str:
    """``YYYY-MM-DD`` of ``trading_day``, as used in archive paths."""
    return trading_day(schedule, ns).isoformat()
