"""What a backfill fetches (pure): the range, the windows at the cutoff, chunks by trading day.

Times are ns since the epoch; every interval is half-open ``[start, end)``. A window is
the part of a market's range one tier serves: ``historical`` below the cutoff, ``live``
from it on. A chunk is the unit of work and of resumption: the rows of a chunk are
written, then the chunk is recorded as done.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

import msgspec

from ssmd.calendar import day_bounds, day_partition, trading_day
from ssmd.clock import parse_moment
from ssmd.config.model import Schedule
from ssmd.errors import SsmdError

Tier = Literal["live", "historical"]
Interval = tuple[int, int]

WHATS: tuple[str, ...] = ("trades", "candles", "settlements", "markets")
DEFAULT_WHAT = "trades,candles,settlements,markets"
PERIODS: dict[str, int] = {"1m": 1, "1h": 60, "1d": 1440}
"""Candle period → Kalshi's ``period_interval`` (minutes)."""
DEFAULT_PERIODS = "1m"
NS = 1_000_000_000
MINUTE_NS = 60 * NS
CANDLES_PER_REQUEST = 5000
"""A chunk of candles asks for at most this many periods."""


class Window(msgspec.Struct, frozen=True):
    start: int
    end: int
    tier: Tier


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_what(text: str) -> tuple[str, ...]:
    """``trades,candles`` → the datasets asked for, in ``WHATS`` order."""
    asked = _split(text)
    unknown = [w for w in asked if w not in WHATS]
    if unknown or not asked:
        raise SsmdError(f"--what {text!r}: use a comma-separated list of {', '.join(WHATS)}")
    return tuple(w for w in WHATS if w in asked)


def parse_periods(text: str) -> tuple[str, ...]:
    asked = _split(text)
    unknown = [p for p in asked if p not in PERIODS]
    if unknown or not asked:
        raise SsmdError(f"--period {text!r}: use a comma-separated list of {', '.join(PERIODS)}")
    return tuple(p for p in PERIODS if p in asked)


def _day_start(schedule: Schedule, day: date) -> int:
    start, _ = day_bounds(schedule, day)
    return int(start.timestamp()) * NS


def parse_bound(text: str, option: str, schedule: Schedule, *, end: bool) -> int:
    """``--from``/``--to``: a trading day ``YYYY-MM-DD`` (``--to`` includes that whole day)
    or an ISO / RFC 3339 time (UTC when it has no offset)."""
    value = text.strip()
    try:
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return _day_start(schedule, day + timedelta(days=1) if end else day)
        if "T" not in value and " " not in value:
            raise ValueError(value)
        return parse_moment(value, "1970-01-01")
    except ValueError:
        raise SsmdError(f"{option} {text!r}: use a date YYYY-MM-DD or an ISO time like 2026-07-19T14:30:00Z") from None


def check_range(start: int, end: int, from_text: str, to_text: str) -> None:
    if start >= end:
        raise SsmdError(f"--from {from_text!r} is not before --to {to_text!r}")


def split_at_cutoff(start: int, end: int, cutoff: int | None) -> list[Window]:
    """The historical part ``[start, cutoff)`` and the live part ``[cutoff, end)``, empty ones left out.
    No cutoff means everything is live."""
    if cutoff is None:
        return [Window(start, end, "live")] if start < end else []
    out = []
    if start < min(end, cutoff):
        out.append(Window(start, min(end, cutoff), "historical"))
    if max(start, cutoff) < end:
        out.append(Window(max(start, cutoff), end, "live"))
    return out


def clip(start: int, end: int, open_ns: int | None, close_ns: int | None) -> Interval | None:
    """The range cut to a market's trading span ``[open, close]`` (unknown ends do not cut)."""
    lo = max(start, open_ns) if open_ns is not None else start
    hi = min(end, close_ns + NS) if close_ns is not None else end
    return (lo, hi) if lo < hi else None


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted, overlapping or touching intervals joined."""
    out: list[Interval] = []
    for lo, hi in sorted(i for i in intervals if i[0] < i[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def subtract(start: int, end: int, done: list[Interval]) -> list[Interval]:
    """The parts of ``[start, end)`` that no interval of ``done`` covers."""
    out: list[Interval] = []
    at = start
    for lo, hi in merge(done):
        if hi <= at or lo >= end:
            continue
        if lo > at:
            out.append((at, lo))
        at = max(at, hi)
        if at >= end:
            break
    if at < end:
        out.append((at, end))
    return out


def day_chunks(schedule: Schedule, start: int, end: int) -> list[Interval]:
    """``[start, end)`` cut at trading-day starts: each chunk lies in one day partition."""
    out: list[Interval] = []
    at = start
    while at < end:
        nxt = min(end, _day_start(schedule, trading_day(schedule, at) + timedelta(days=1)))
        out.append((at, nxt))
        at = nxt
    return out


def candle_span(start: int, end: int, open_ns: int | None, close_ns: int | None, period: str) -> Interval | None:
    """The whole periods to fetch: those ending in ``(lo, hi]``, from the one holding
    ``max(start, open)`` to the last one ending by ``end`` and by the end of the period of
    the close. Bounds are multiples of the period."""
    step = PERIODS[period] * MINUTE_NS
    lo = max(start, open_ns) if open_ns is not None else start
    lo = lo // step * step
    hi = end // step * step
    if close_ns is not None:
        hi = min(hi, (close_ns // step + 1) * step)
    return (lo, hi) if lo < hi else None


def candle_chunks(schedule: Schedule, start: int, end: int, period: str) -> list[Interval]:
    """Chunks of one candle request each: a trading day of 1-minute candles, at most
    ``CANDLES_PER_REQUEST`` periods of longer ones."""
    if period == "1m":
        return day_chunks(schedule, start, end)
    size = CANDLES_PER_REQUEST * PERIODS[period] * MINUTE_NS
    return [(at, min(end, at + size)) for at in range(start, end, size)]


def partition(schedule: Schedule, ns: int) -> str:
    """The day partition (``YYYY-MM-DD``) of an instant."""
    return day_partition(schedule, ns)


def seconds_floor(ns: int) -> int:
    return ns // NS


def seconds_ceil(ns: int) -> int:
    return -(-ns // NS)
