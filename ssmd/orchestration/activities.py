"""Temporal activities of the trading day: each wraps one step or one state transition.

Transitions follow the same checks as ``ssmd.day.lifecycle.DayManager``: a day starts only
when no other day runs, ends only when it runs (or failed while ending), and every
transition and step outcome is committed to the ``DayStore`` (journal + cache view).
Errors become ``ApplicationError``: retryable when ``ssmd.errors.is_retryable`` says so,
otherwise non-retryable, so a bad key or a failed verification fails fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ssmd.calendar import day_partition
from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.day.state import BUSY, RUNNING, DayRecord, DayState, StepResult, step_event, transition
from ssmd.day.steps import END_STEPS, START_STEPS, ComponentHost, DayContext, Step
from ssmd.day.store import DayStore
from ssmd.errors import SsmdError, is_retryable
from ssmd.log import get_logger
from ssmd.metrics import DAY_STATE

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("worker")


@dataclass
class PhaseRequest:
    phase: str
    """``start`` or ``end``."""
    date: str | None = None
    force: bool = False


@dataclass
class PhaseBegun:
    date: str
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepRequest:
    date: str
    phase: str
    step: str
    force: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepDone:
    detail: str
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepFailed:
    date: str
    phase: str
    step: str
    error: str


@dataclass
class PhaseFinish:
    date: str
    phase: str
    failed_step: str | None = None
    error: str | None = None
    force: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class DayOutcome:
    date: str
    state: str
    step: str | None = None
    """The failing step (FAILED) or the last one run."""
    error: str | None = None
    steps: list[str] = field(default_factory=list)
    """``name: ok|error`` lines of the phase, in order."""


@dataclass
class CurrentDay:
    today: str
    date: str | None = None
    state: str | None = None


def outcome(record: DayRecord) -> DayOutcome:
    return DayOutcome(
        date=record.date, state=str(record.state), step=record.step, error=record.error,
        steps=[f"{s.name}: {s.detail if s.ok else s.error}" for s in record.steps],
    )


def _fail(exc: BaseException) -> ApplicationError:
    return ApplicationError(str(exc) or type(exc).__name__, type=type(exc).__name__,
                            non_retryable=not is_retryable(exc))


class DayActivities:
    """The activities, bound to one environment and its open backends (one per worker)."""

    def __init__(
        self,
        env: Environment,
        backends: Backends,
        *,
        clock: Clock | None = None,
        host: ComponentHost | None = None,
        health_timeout: float = 30.0,
        steps: dict[str, Step] | None = None,
    ) -> None:
        self.env = env
        self.backends = backends
        self.clock = clock or SystemClock()
        self.host = host
        self.health_timeout = health_timeout
        self.steps: dict[str, Step] = dict(START_STEPS) | dict(END_STEPS)
        """Step functions by name: those of the local scheduler (tests may override one)."""
        if steps:
            self.steps.update(steps)
        self.store = DayStore(env.name, backends.cache, backends.journal)

    def today(self) -> str:
        return day_partition(self.env.schedule, self.clock.now_ns())

    @activity.defn(name="ssmd.current_day")
    async def current_day(self) -> CurrentDay:
        record = await self.store.current()
        if record is None:
            return CurrentDay(today=self.today())
        return CurrentDay(today=self.today(), date=record.date, state=str(record.state))

    @activity.defn(name="ssmd.begin_phase")
    async def begin_phase(self, request: PhaseRequest) -> PhaseBegun:
        try:
            if request.phase == "start":
                date = request.date or self.today()
                record = await self._startable(date)
                await self._commit(transition(record, DayState.STARTING, now_ns=self.clock.now_ns(), phase="start"))
                return PhaseBegun(date=date)
            record = await self._endable(request.force)
            await self._commit(transition(record, DayState.ENDING, now_ns=self.clock.now_ns(), phase="end"))
            return PhaseBegun(date=record.date, stats=await self.store.load_stats(record.date))
        except SsmdError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None

    @activity.defn(name="ssmd.run_step")
    async def run_step(self, request: StepRequest) -> StepDone:
        fn = self.steps.get(request.step)
        if fn is None:
            raise ApplicationError(f"unknown day step {request.step!r}", type="ConfigError", non_retryable=True)
        ctx = DayContext(env=self.env, backends=self.backends, date=request.date, host=self.host, clock=self.clock,
                         force=request.force, health_timeout=self.health_timeout, stats=dict(request.stats))
        began = self.clock.monotonic()
        try:
            detail = await fn(ctx)
        except Exception as exc:
            info = activity.info()
            log.warning("day step attempt failed", date=request.date, step=request.step, attempt=info.attempt,
                        error=str(exc) or type(exc).__name__)
            raise _fail(exc) from None
        result = StepResult(name=request.step, ok=True, detail=detail,
                            seconds=round(self.clock.monotonic() - began, 3))
        await self.store.commit(step_event(request.date, request.phase, result, now_ns=self.clock.now_ns()))
        return StepDone(detail=detail, stats=ctx.stats)

    @activity.defn(name="ssmd.record_step_failure")
    async def record_step_failure(self, failed: StepFailed) -> None:
        result = StepResult(name=failed.step, ok=False, error=failed.error)
        await self.store.commit(step_event(failed.date, failed.phase, result, now_ns=self.clock.now_ns()))

    @activity.defn(name="ssmd.finish_phase")
    async def finish_phase(self, finish: PhaseFinish) -> DayOutcome:
        record = await self.store.record(finish.date)
        stats = finish.stats or None
        now = self.clock.now_ns()
        if finish.failed_step is not None and not (finish.phase == "end" and finish.force):
            event = transition(record, DayState.FAILED, now_ns=now, phase=finish.phase, step=finish.failed_step,
                               error=finish.error, stats=stats if finish.phase == "end" else None)
        elif finish.phase == "start":
            event = transition(record, DayState.ACTIVE, now_ns=now, phase="start", stats=stats)
        else:
            event = transition(record, DayState.COMPLETE, now_ns=now, phase="end", stats=stats)
        return outcome(await self._commit(event))

    @activity.defn(name="ssmd.sync_secmaster")
    async def sync_secmaster(self) -> str:
        """The periodic sync: only while a day runs (``secmaster.refresh_minutes``)."""
        current = await self.store.current()
        if current is None or current.state not in RUNNING:
            return "skipped: no trading day is running"
        ctx = DayContext(env=self.env, backends=self.backends, date=current.date, host=self.host, clock=self.clock)
        try:
            return await self.steps["sync_secmaster"](ctx)
        except Exception as exc:
            raise _fail(exc) from None

    async def _startable(self, date: str) -> DayRecord:
        current = await self.store.current()
        if current is not None and current.date != date and (current.state in RUNNING or current.state in BUSY):
            raise SsmdError(f"day {current.date} is {current.state}; end it first (`ssmd day end` or `ssmd day roll`)")
        record = await self.store.record(date)
        if record.state in RUNNING or record.state in BUSY:
            raise SsmdError(f"day {date} is already {record.state}")
        return record

    async def _endable(self, force: bool) -> DayRecord:
        record = await self.store.current()
        if record is None:
            raise SsmdError(f"{self.env.name}: no trading day to end")
        if record.state is DayState.FAILED and not force and record.phase != "end":
            raise SsmdError(
                f"day {record.date} is FAILED at {record.step}; `ssmd day recover` or `ssmd day end --force`"
            )
        if record.state not in (*RUNNING, DayState.FAILED):
            raise SsmdError(f"day {record.date} is {record.state}; only an ACTIVE or ERROR day can end")
        return record

    async def _commit(self, event: Any) -> DayRecord:
        record = await self.store.commit(event)
        log.info("trading day", date=record.date, state=str(record.state), step=record.step, error=record.error)
        for state in DayState:
            DAY_STATE.labels(state=str(state)).set(1 if state is record.state else 0)
        return record

    def all(self) -> list[Any]:
        return [self.current_day, self.begin_phase, self.run_step, self.record_step_failure, self.finish_phase,
                self.sync_secmaster]
