"""Drive the day steps and record every transition: start, end, roll, recover.

``DayManager`` is the one writer of day state in a process. Each operation runs under a
lock, journals ``STARTING``/``ENDING``, one event per step, and the final transition.
A failing start or end step leaves the day FAILED with the step named; a component that
fails while the day is ACTIVE puts it in ERROR (``mark_error``), and ``recover`` resumes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ssmd.calendar import day_partition
from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.day.state import (
    BUSY,
    RUNNING,
    DayRecord,
    DayState,
    StepResult,
    step_event,
    transition,
)
from ssmd.day.steps import END_STEPS, RECOVER_STEPS, START_STEPS, ComponentHost, DayContext, Step
from ssmd.day.store import DayStore
from ssmd.errors import SsmdError
from ssmd.log import get_logger
from ssmd.metrics import DAY_STATE

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("day")
StepHook = Callable[[str, StepResult], None]


class DayManager:
    def __init__(
        self,
        env: Environment,
        backends: Backends,
        *,
        host: ComponentHost | None = None,
        clock: Clock | None = None,
        store: DayStore | None = None,
        health_timeout: float = 30.0,
        start_steps: list[tuple[str, Step]] | None = None,
        end_steps: list[tuple[str, Step]] | None = None,
        recover_steps: list[tuple[str, Step]] | None = None,
    ) -> None:
        self.env = env
        self.backends = backends
        self.host = host
        self.clock = clock or SystemClock()
        self.store = store or DayStore(env.name, backends.cache, backends.journal)
        self.health_timeout = health_timeout
        self.start_steps = start_steps if start_steps is not None else START_STEPS
        self.end_steps = end_steps if end_steps is not None else END_STEPS
        self.recover_steps = recover_steps if recover_steps is not None else RECOVER_STEPS
        self.on_step: StepHook | None = None
        self.lock = asyncio.Lock()

    def today(self) -> str:
        return day_partition(self.env.schedule, self.clock.now_ns())

    # ---- operations -------------------------------------------------------------------
    async def start(self, date: str | None = None) -> DayRecord:
        async with self.lock:
            return await self._start(date or self.today())

    async def end(self, *, force: bool = False) -> DayRecord:
        async with self.lock:
            return await self._end(force=force)

    async def roll(self) -> DayRecord:
        """End the running day (if any) and start the current trading day."""
        async with self.lock:
            current = await self.store.current()
            today = self.today()
            if current is not None and current.state in RUNNING:
                ended = await self._end(force=False)
                if ended.state is not DayState.COMPLETE:
                    return ended
                if current.date == today:
                    return ended
            return await self._start(today)

    async def recover(self) -> DayRecord:
        async with self.lock:
            current = await self.store.current()
            if current is None:
                raise SsmdError(f"{self.env.name}: no trading day yet; start one with `ssmd day start`")
            if current.state is DayState.ERROR:
                return await self._resume(current, transition_to_active=True)
            if current.state is DayState.FAILED:
                if current.phase == "end":
                    return await self._end(force=False, record=current)
                return await self._start(current.date, record=current)
            if current.state is DayState.ACTIVE:
                return await self._resume(current, transition_to_active=False)
            raise SsmdError(f"day {current.date} is {current.state}: nothing to recover")

    async def resume(self) -> DayRecord | None:
        """After a process (re)start: bring a day that was left running back to life.

        ACTIVE/ERROR → components started again (ERROR → ACTIVE on success); a day
        interrupted while STARTING or ENDING → FAILED ("interrupted") then that phase again.
        """
        async with self.lock:
            current = await self.store.current()
            if current is None:
                return None
            if current.state in BUSY:
                phase = "start" if current.state is DayState.STARTING else "end"
                current = await self._commit_transition(
                    current, DayState.FAILED, phase=phase, step="interrupted",
                    error="the process running the day stopped during this phase")
                if phase == "end":
                    return await self._end(force=False, record=current)
                return await self._start(current.date, record=current)
            if current.state in RUNNING:
                return await self._resume(current, transition_to_active=current.state is DayState.ERROR)
            return current

    async def mark_error(self, step: str, error: str) -> DayRecord | None:
        """A component the day needs failed: an ACTIVE day goes to ERROR."""
        async with self.lock:
            current = await self.store.current()
            if current is None or current.state is not DayState.ACTIVE:
                return current
            log.error("trading day in error", date=current.date, step=step, error=error)
            return await self._commit_transition(current, DayState.ERROR, step=step, error=error)

    async def current(self) -> DayRecord | None:
        return await self.store.current()

    # ---- phases -----------------------------------------------------------------------
    async def _start(self, date: str, record: DayRecord | None = None) -> DayRecord:
        current = await self.store.current()
        if current is not None and current.date != date and (current.state in RUNNING or current.state in BUSY):
            raise SsmdError(f"day {current.date} is {current.state}; end it first (`ssmd day end` or `ssmd day roll`)")
        record = record or await self.store.record(date)
        if record.state in RUNNING:
            raise SsmdError(f"day {date} is already {record.state}")
        if record.state is DayState.FAILED and record.phase == "end":
            raise SsmdError(f"day {date} is FAILED at {record.step} while ending; "
                            "`ssmd day recover` or `ssmd day end --force`")
        record = await self._commit_transition(record, DayState.STARTING, phase="start")
        ctx = self._context(date)
        failed = await self._run_steps(record, "start", self.start_steps, ctx)
        if failed is not None:
            return await self._commit_transition(record, DayState.FAILED, phase="start",
                                                 step=failed.name, error=failed.error)
        return await self._commit_transition(record, DayState.ACTIVE, phase="start", stats=ctx.stats or None)

    async def _end(self, *, force: bool, record: DayRecord | None = None) -> DayRecord:
        record = record or await self.store.current()
        if record is None:
            raise SsmdError(f"{self.env.name}: no trading day to end")
        if record.state is DayState.FAILED and not force and record.phase != "end":
            raise SsmdError(f"day {record.date} is FAILED at {record.step}; "
                            "`ssmd day recover` or `ssmd day end --force`")
        if record.state not in (*RUNNING, DayState.FAILED):
            raise SsmdError(f"day {record.date} is {record.state}; only an ACTIVE or ERROR day can end")
        record = await self._commit_transition(record, DayState.ENDING, phase="end")
        ctx = self._context(record.date, force=force)
        ctx.stats.update(await self.store.load_stats(record.date))
        failed = await self._run_steps(record, "end", self.end_steps, ctx, keep_going=force)
        if failed is not None and not force:
            return await self._commit_transition(record, DayState.FAILED, phase="end",
                                                 step=failed.name, error=failed.error, stats=ctx.stats or None)
        return await self._commit_transition(record, DayState.COMPLETE, phase="end", stats=ctx.stats or None)

    async def _resume(self, record: DayRecord, *, transition_to_active: bool) -> DayRecord:
        ctx = self._context(record.date)
        failed = await self._run_steps(record, "recover", self.recover_steps, ctx)
        if failed is not None:
            if record.state is DayState.ACTIVE:
                return await self._commit_transition(record, DayState.ERROR, phase="recover",
                                                     step=failed.name, error=failed.error)
            return await self.store.record(record.date)
        if transition_to_active:
            return await self._commit_transition(record, DayState.ACTIVE, phase="recover")
        return await self.store.record(record.date)

    async def _run_steps(self, record: DayRecord, phase: str, steps: list[tuple[str, Step]], ctx: DayContext,
                         *, keep_going: bool = False) -> StepResult | None:
        first_failure: StepResult | None = None
        for name, fn in steps:
            began = self.clock.monotonic()
            try:
                detail = await fn(ctx)
                result = StepResult(name=name, ok=True, detail=detail)
            except Exception as exc:
                result = StepResult(name=name, ok=False, error=str(exc) or type(exc).__name__)
                log.error("day step failed", date=record.date, phase=phase, step=name, error=result.error)
            result.seconds = round(self.clock.monotonic() - began, 3)
            await self.store.commit(step_event(record.date, phase, result, now_ns=self.clock.now_ns()))
            if self.on_step is not None:
                self.on_step(phase, result)
            if not result.ok:
                first_failure = first_failure or result
                if not keep_going:
                    return result
        return first_failure

    def _context(self, date: str, *, force: bool = False) -> DayContext:
        return DayContext(env=self.env, backends=self.backends, date=date, host=self.host, clock=self.clock,
                          force=force, health_timeout=self.health_timeout)

    async def _commit_transition(self, record: DayRecord, target: DayState, **fields: Any) -> DayRecord:
        event = transition(record, target, now_ns=self.clock.now_ns(), **fields)
        new = await self.store.commit(event)
        log.info("trading day", date=new.date, state=str(new.state), step=new.step, error=new.error)
        for state in DayState:
            DAY_STATE.labels(state=str(state)).set(1 if state is new.state else 0)
        return new
