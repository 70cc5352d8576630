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

_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def trading_day(schedule: Schedule, ns: int) -> date:
    """The trading day of the instant ``ns`` (nanoseconds since the epoch)."""
    # Whole seconds, floored: day starts fall on whole minutes, and ``ns / 1e9`` would round
    # the last instants before one up to it.
    local = datetime.fromtimestamp(ns // _NS, tz=_zone(schedule.timezone))
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


class DayPartitioner:
    """``day_partition`` for a stream of instants, at a comparison per call.

    It keeps the span of instants known to map to the last answer and recomputes only for
    an instant outside it. The span is the trading day intersected with the stretch of
    constant UTC offset around the instant: inside it local time is UTC plus a fixed
    offset, so the day changes only at ``day_start``, and the answer equals
    ``day_partition`` for every instant (across DST changes too).
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._zone = _zone(schedule.timezone)
        self._lo = self._hi = 0
        self._day = ""

    def __call__(self, ns: int) -> str:
        if self._lo <= ns < self._hi:
            return self._day
        return self._miss(ns)

    def _miss(self, ns: int) -> str:
        sec = ns // _NS
        day = trading_day(self.schedule, ns)
        offset = self._offset(sec)
        start = datetime.combine(day, _hhmm(self.schedule.day_start))
        lo = int((start - _EPOCH).total_seconds()) - offset  # the day's start at this offset
        hi = lo + 24 * 3600
        if self._offset(lo) != offset:
            lo = self._change(lo, sec, offset)
        if self._offset(hi - 1) != offset:
            hi = self._change(sec, hi - 1, offset)
        self._lo, self._hi, self._day = lo * _NS, hi * _NS, day.isoformat()
        return self._day

    def _offset(self, sec: int) -> int:
        offset = datetime.fromtimestamp(sec, tz=self._zone).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def _change(self, a: int, b: int, offset: int) -> int:
        """The second at which the UTC offset changes between ``a`` and ``b`` (one of which
        has ``offset``, the other not): the first second of the later offset."""
        a_has = self._offset(a) == offset
        while b - a > 1:
            mid = (a + b) // 2
            if (self._offset(mid) == offset) == a_has:
                a = mid
            else:
                b = mid
        return b
