"""The local day scheduler: follow ``plan`` forever, rolling the day automatically.

On its first tick it resumes a day a previous process left running (``DayManager.resume``).
Waiting uses an injected ``sleeper`` and re-plans at least every ``max_wait`` seconds (an
operator may have acted meanwhile), so tests drive it with a ``ManualClock`` and a sleeper
that advances it, never by waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ssmd.clock import Clock
from ssmd.config.model import Schedule
from ssmd.day.lifecycle import DayManager
from ssmd.day.schedule import Action, plan
from ssmd.day.state import DayState
from ssmd.errors import SsmdError
from ssmd.log import get_logger
from ssmd.status import ComponentStatus

log = get_logger("scheduler")
Sleeper = Callable[[float], Awaitable[None]]


class DayScheduler:
    name = "scheduler"

    def __init__(self, manager: DayManager, schedule: Schedule, *, clock: Clock,
                 sleeper: Sleeper = asyncio.sleep, max_wait: float = 30.0) -> None:
        self.manager = manager
        self.schedule = schedule
        self.clock = clock
        self.sleeper = sleeper
        self.max_wait = max_wait
        self.actions: list[Action] = []
        """Every non-wait action taken, in order (for status and tests)."""
        self._resumed = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> Action:
        """Decide and act once; returns what was decided."""
        if not self._resumed:
            self._resumed = True
            await self.manager.resume()
        current = await self.manager.current()
        action = plan(self.schedule, self.clock.now_ns(), current)
        if action.kind == "wait":
            return action
        self.actions.append(action)
        log.info(f"{action.kind} trading day", date=action.date, reason=action.reason)
        try:
            if action.kind == "start":
                record = await self.manager.start(action.date)
            else:
                record = await self.manager.end()
                if record.state is DayState.COMPLETE:
                    follow = plan(self.schedule, self.clock.now_ns(), record)
                    if follow.kind == "start":
                        self.actions.append(follow)
                        record = await self.manager.start(follow.date)
        except SsmdError as exc:
            log.warning("scheduled action refused", action=action.kind, date=action.date, reason=str(exc))
        return action

    def wait_seconds(self, action: Action) -> float:
        if action.kind != "wait":
            return 0.0
        if action.until_ns is None:
            return self.max_wait
        return min(self.max_wait, max(0.0, (action.until_ns - self.clock.now_ns()) / 1e9))

    async def run(self, *, ticks: int | None = None) -> None:
        """Tick until stopped (or ``ticks`` times, for tests)."""
        self._stopping = False
        self._task = asyncio.current_task()
        done = 0
        try:
            while ticks is None or done < ticks:
                action = await self.tick()
                done += 1
                await self.sleeper(self.wait_seconds(action) if action.kind == "wait" else 0.0)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()

    def status(self) -> ComponentStatus:
        last = self.actions[-1] if self.actions else None
        return ComponentStatus(
            name=self.name, state="running" if self._task is not None and not self._task.done() else "stopped",
            counters={"actions": len(self.actions)},
            details={"last_action": f"{last.kind} {last.date}: {last.reason}" if last else None,
                     "timezone": self.schedule.timezone, "day_start": self.schedule.day_start,
                     "day_end": self.schedule.day_end, "auto_roll": self.schedule.auto_roll})

    async def stop(self) -> None:
        """Stop deciding: an operation in progress is interrupted (``resume`` finishes it
        at the next start)."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
