"""What the day scheduler should do now (pure): start a day, end one, or wait.

Follows ``env.schedule``: the day ``D`` of a moment is ``trading_day``; it runs from its
local ``day_start`` to ``day_end`` (``day_bounds``). Inside that window a day that has
not started is started; at ``day_end`` a running day is ended when ``auto_roll`` is on
(otherwise it keeps running until someone ends or rolls it). A day that is COMPLETE or
FAILED is left alone: that needs a person.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import msgspec

from ssmd.calendar import day_bounds, trading_day
from ssmd.config.model import Schedule
from ssmd.day.state import BUSY, RUNNING, DayRecord, DayState


class Action(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["start", "end", "wait"]
    date: str | None = None
    until_ns: int | None = None
    """For ``wait``: the next schedule boundary (ns), or None when only a person can act."""
    reason: str = ""


def _ns(dt: object) -> int:
    from datetime import datetime

    assert isinstance(dt, datetime)
    return int(dt.timestamp()) * 1_000_000_000


def plan(schedule: Schedule, now_ns: int, current: DayRecord | None) -> Action:
    today = trading_day(schedule, now_ns)
    date = today.isoformat()
    start, end = (_ns(t) for t in day_bounds(schedule, today))
    next_start = _ns(day_bounds(schedule, today + timedelta(days=1))[0])
    in_window = start <= now_ns < end
    boundary = end if in_window else next_start

    if current is not None and current.state in BUSY:
        return Action(kind="wait", until_ns=boundary, reason=f"day {current.date} is {current.state}")
    if current is not None and current.state in RUNNING:
        over = current.date < date or (current.date == date and not in_window)
        if not over:
            return Action(kind="wait", until_ns=boundary, reason=f"day {current.date} runs until day_end")
        if schedule.auto_roll:
            return Action(kind="end", date=current.date, reason="day_end reached")
        return Action(kind="wait", until_ns=None, reason=f"day {current.date} is past day_end; auto_roll is off")
    if not in_window:
        return Action(kind="wait", until_ns=next_start, reason="between days")
    if current is None or current.date < date:
        return Action(kind="start", date=date, reason="day_start reached")
    if current.date == date and current.state is DayState.PENDING:
        return Action(kind="start", date=date, reason="day_start reached")
    return Action(kind="wait", until_ns=boundary, reason=f"day {current.date} is {current.state}")
