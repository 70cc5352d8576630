"""Time, injected. Logic takes a Clock; only the async shell reads the real one."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Wall-clock time in nanoseconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds, for measuring intervals."""
        ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start_ns: int = 1_784_475_900_000_000_000) -> None:
        self._now = start_ns
        self._mono = 0.0

    def now_ns(self) -> int:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1e9)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        new = int(when.timestamp() * 1e9)
        self._mono += max(0.0, (new - self._now) / 1e9)
        self._now = new


def to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS: dict[int, str] = {}
"""``YYYY-MM-DDTHH:MM:SS.`` by whole second since the epoch: a message's ``ts`` and
``received_at`` usually fall in two different seconds, so one entry would thrash."""
_SECONDS_MAX = 256
_MILLIS = tuple(f"{i:03d}Z" for i in range(1000))
_TEXTS: dict[int, str] = {}
"""The whole text by millisecond since the epoch: the messages of a burst share a few."""
_TEXTS_MAX = 4096


def rfc3339(ns: int) -> str:
    """RFC 3339 UTC with millisecond precision and a ``Z`` suffix, truncated (never
    rounded) to the millisecond, from integer ns: exact for any time ``datetime`` holds."""
    ms = ns // 1_000_000
    text = _TEXTS.get(ms)
    if text is None:
        if len(_TEXTS) >= _TEXTS_MAX:
            _TEXTS.clear()
        second, milli = divmod(ms, 1000)
        prefix = _SECONDS.get(second)
        if prefix is None:
            if len(_SECONDS) >= _SECONDS_MAX:
                _SECONDS.clear()
            prefix = _SECONDS[second] = (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.")
        text = _TEXTS[ms] = prefix + _MILLIS[milli]
    return text
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}:?\d{2})?")


def rfc3339_ns(text: str) -> int:
    """An RFC 3339 time (``2026-07-23T21:00:10.539836022Z``) as ns since the epoch, exact to
    the nanosecond (``datetime`` would stop at the microsecond). No offset means UTC; digits
    past the ninth are dropped. Raises ``ValueError`` for anything else."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    whole, fraction, offset = match.groups()
    when = datetime.fromisoformat(whole + (offset or "").upper())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    return ns + int(fraction[:9].ljust(9, "0")) if fraction else ns


def parse_moment(text: str, date: str) -> int:
    """A time bound as ns since the epoch: ``HH:MM[:SS[.fffffffff]]`` (UTC) on ``date``
    (``YYYY-MM-DD``), or an ISO / RFC 3339 time (UTC when it has no offset).

    Raises ``ValueError`` for anything else; callers name their option in the error.
    """
    value = text.strip()
    time_of_day = value[:2].isdigit() and value[2:3] == ":"
    full = f"{date}T{value}" if time_of_day else value
    try:
        return rfc3339_ns(full)  # to the nanosecond when it has seconds
    except ValueError:
        pass
    when = datetime.fromisoformat(full.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000
