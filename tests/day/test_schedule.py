"""The day scheduler: pure plan() and the loop, driven by a ManualClock (never by waiting)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ssmd.clock import ManualClock
from ssmd.config.model import Schedule
from ssmd.day.lifecycle import DayManager
from ssmd.day.schedule import plan
from ssmd.day.scheduler import DayScheduler
from ssmd.day.state import DayRecord, DayState
from ssmd.middleware.factory import open_backends


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000_000


def rec(date: str, state: DayState) -> DayRecord:
    return DayRecord(date=date, state=state)


SEED = Schedule(timezone="UTC", day_start="00:10", day_end="00:00", auto_roll=True)
NY = Schedule(timezone="America/New_York", day_start="09:30", day_end="16:00", auto_roll=True)


def test_inside_the_window_a_new_day_starts() -> None:
    action = plan(SEED, ns("2026-07-19T12:00:00+00:00"), None)
    assert (action.kind, action.date) == ("start", "2026-07-19")
    action = plan(SEED, ns("2026-07-19T12:00:00+00:00"), rec("2026-07-18", DayState.COMPLETE))
    assert (action.kind, action.date) == ("start", "2026-07-19")


def test_a_running_day_waits_for_day_end_then_ends() -> None:
    action = plan(SEED, ns("2026-07-19T12:00:00+00:00"), rec("2026-07-19", DayState.ACTIVE))
    assert action.kind == "wait" and action.until_ns == ns("2026-07-20T00:00:00+00:00")
    # 00:05 on the 20th: past the 19th's end, before the 20th's start
    action = plan(SEED, ns("2026-07-20T00:05:00+00:00"), rec("2026-07-19", DayState.ACTIVE))
    assert (action.kind, action.date) == ("end", "2026-07-19")
    action = plan(SEED, ns("2026-07-20T00:05:00+00:00"), rec("2026-07-19", DayState.COMPLETE))
    assert action.kind == "wait" and action.until_ns == ns("2026-07-20T00:10:00+00:00")


def test_without_auto_roll_the_day_keeps_running_past_day_end() -> None:
    manual = Schedule(timezone="UTC", day_start="00:10", day_end="00:00", auto_roll=False)
    action = plan(manual, ns("2026-07-20T03:00:00+00:00"), rec("2026-07-19", DayState.ACTIVE))
    assert action.kind == "wait" and action.until_ns is None and "auto_roll is off" in action.reason


def test_complete_failed_and_busy_days_are_left_alone() -> None:
    now = ns("2026-07-19T12:00:00+00:00")
    for state in (DayState.COMPLETE, DayState.FAILED, DayState.STARTING, DayState.ENDING):
        assert plan(SEED, now, rec("2026-07-19", state)).kind == "wait"
    assert plan(SEED, now, rec("2026-07-19", DayState.PENDING)).kind == "start"


def test_timezone_windows_follow_local_time() -> None:
    # 09:00 New York (13:00 UTC, summer) is before the open: wait until 09:30 local
    action = plan(NY, ns("2026-07-20T13:00:00+00:00"), rec("2026-07-17", DayState.COMPLETE))
    assert action.kind == "wait" and action.until_ns == ns("2026-07-20T13:30:00+00:00")
    action = plan(NY, ns("2026-07-20T13:31:00+00:00"), rec("2026-07-17", DayState.COMPLETE))
    assert (action.kind, action.date) == ("start", "2026-07-20")
    action = plan(NY, ns("2026-07-20T20:00:00+00:00"), rec("2026-07-20", DayState.ACTIVE))  # 16:00 local
    assert (action.kind, action.date) == ("end", "2026-07-20")


@pytest.fixture
async def backends(make_env: Callable[..., Any]) -> AsyncIterator[Any]:
    opened = await open_backends(make_env())
    yield opened
    await opened.close()


async def ok(ctx: Any) -> str:
    return "ok"


def scheduler(backends: Any, schedule: Schedule, clock: ManualClock) -> tuple[DayScheduler, list[float]]:
    slept: list[float] = []

    async def sleeper(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    manager = DayManager(backends.env, backends, clock=clock, start_steps=[("noop", ok)], end_steps=[("noop", ok)],
                         recover_steps=[("noop", ok)])
    return DayScheduler(manager, schedule, clock=clock, sleeper=sleeper, max_wait=3600), slept


@pytest.mark.parametrize("schedule", [SEED, NY, Schedule(timezone="Asia/Tokyo", day_start="00:00", day_end="00:00")])
async def test_scheduler_rolls_day_after_day(backends: Any, schedule: Schedule) -> None:
    clock = ManualClock()
    clock.set(datetime(2026, 7, 19, 23, 0, tzinfo=UTC))
    sched, _ = scheduler(backends, schedule, clock)
    await sched.run(ticks=80)
    starts = [a.date for a in sched.actions if a.kind == "start"]
    ends = [a.date for a in sched.actions if a.kind == "end"]
    assert len(starts) >= 3 and ends == starts[: len(ends)] and len(ends) >= len(starts) - 1
    assert starts == sorted(set(starts))
    history = await sched.manager.store.history()
    assert all(d.state is DayState.COMPLETE for d in history[1:])
    assert history[0].state in (DayState.ACTIVE, DayState.COMPLETE)
    # every day started inside its own window
    from ssmd.calendar import day_bounds

    for day in history:
        start, end = day_bounds(schedule, datetime.fromisoformat(day.date).date())
        assert day.start_time is not None and start.timestamp() * 1e9 <= day.start_time < end.timestamp() * 1e9
        if day.end_time is not None:
            assert day.end_time == end.timestamp() * 1e9  # ended exactly at day_end (the sleeper hit it)


async def test_scheduler_resumes_a_day_left_active_and_never_waits_past_max(backends: Any) -> None:
    clock = ManualClock()
    clock.set(datetime(2026, 7, 19, 12, 0, tzinfo=UTC))
    sched, slept = scheduler(backends, SEED, clock)
    await sched.manager.start("2026-07-19")
    sched.max_wait = 30.0
    await sched.run(ticks=3)
    assert sched.actions == [] and slept == [30.0, 30.0, 30.0]
    record = await sched.manager.current()
    assert record is not None and record.state is DayState.ACTIVE and record.phase == "recover"
