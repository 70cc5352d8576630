"""Temporal workflows of the trading day, their schedules, and the client calls that start them.

Workflows (names as registered on the server):

* ``StartTradingDay``: STARTING, then one activity per start step of ``ssmd.day.steps``
  (sync secmaster, start connector, archiver, gateway, health check), then ACTIVE; the
  first step that still fails after its retries leaves the day FAILED with the step named.
* ``EndTradingDay``: ENDING, the end steps (drain, flush, stop, verify, compact), COMPLETE
  (FAILED with the step named; ``force`` goes past failures and completes the day).
* ``RollTradingDay``: end the running day, then start the current trading day.
* ``SyncSecmaster``: one secmaster sync (run by the schedule every ``secmaster.refresh_minutes``).

Step activities retry with exponential backoff (``RetrySettings``: 1 s doubling to 60 s,
5 attempts); errors that ``ssmd.errors.is_retryable`` calls fatal fail at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ssmd.config.model import Environment
    from ssmd.day.steps import END_STEPS, START_STEPS
    from ssmd.orchestration.activities import (
        DayActivities,
        DayOutcome,
        PhaseFinish,
        PhaseRequest,
        StepFailed,
        StepRequest,
    )

START_STEP_NAMES = [name for name, _ in START_STEPS]
END_STEP_NAMES = [name for name, _ in END_STEPS]


@dataclass
class RetrySettings:
    """Retry policy of the step activities: exponential backoff, bounded attempts."""

    initial_seconds: float = 1.0
    backoff: float = 2.0
    maximum_seconds: float = 60.0
    attempts: int = 5


@dataclass
class DayRequest:
    env: str
    """Environment name (the worker serving the task queue must run this environment)."""
    date: str | None = None
    """Trading day (YYYY-MM-DD); default: the current one by the environment's schedule."""
    force: bool = False
    """End only: go past failing steps and complete the day."""
    retry: RetrySettings = field(default_factory=RetrySettings)
    step_timeout_seconds: float = 900.0


_BOOKKEEPING = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=10), maximum_attempts=5)
_BOOKKEEPING_TIMEOUT = timedelta(seconds=60)


def step_retry_policy(settings: RetrySettings) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=settings.initial_seconds),
        backoff_coefficient=settings.backoff,
        maximum_interval=timedelta(seconds=settings.maximum_seconds),
        maximum_attempts=settings.attempts,
    )


def failure_message(exc: BaseException) -> str:
    """The innermost message of a Temporal failure chain (the step's own error)."""
    cause: BaseException | None = exc
    message = str(exc)
    while cause is not None:
        if isinstance(cause, ApplicationError):
            message = cause.message
        elif str(cause):
            message = str(cause)
        cause = cause.__cause__
    return message


async def _bookkeeping(method: Any, arg: Any) -> Any:
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=_BOOKKEEPING_TIMEOUT, retry_policy=_BOOKKEEPING
    )


async def _run_phase(request: DayRequest, phase: str, steps: list[str]) -> DayOutcome:
    begun = await _bookkeeping(DayActivities.begin_phase, PhaseRequest(phase=phase, date=request.date,
                                                                        force=request.force))
    stats: dict[str, Any] = dict(begun.stats)
    failed_step: str | None = None
    error: str | None = None
    for name in steps:
        try:
            done = await workflow.execute_activity_method(
                DayActivities.run_step,
                StepRequest(date=begun.date, phase=phase, step=name, force=request.force, stats=stats),
                start_to_close_timeout=timedelta(seconds=request.step_timeout_seconds),
                retry_policy=step_retry_policy(request.retry),
            )
            stats.update(done.stats)
        except ActivityError as exc:
            message = failure_message(exc)
            await _bookkeeping(DayActivities.record_step_failure,
                               StepFailed(date=begun.date, phase=phase, step=name, error=message))
            if failed_step is None:
                failed_step, error = name, message
            if not (phase == "end" and request.force):
                break
    finish = PhaseFinish(date=begun.date, phase=phase, failed_step=failed_step, error=error,
                         force=request.force, stats=stats)
    result: DayOutcome = await _bookkeeping(DayActivities.finish_phase, finish)
    return result


@workflow.defn(name="StartTradingDay")
class StartTradingDay:
    @workflow.run
    async def run(self, request: DayRequest) -> DayOutcome:
        return await _run_phase(request, "start", START_STEP_NAMES)


@workflow.defn(name="EndTradingDay")
class EndTradingDay:
    @workflow.run
    async def run(self, request: DayRequest) -> DayOutcome:
        return await _run_phase(request, "end", END_STEP_NAMES)


@workflow.defn(name="RollTradingDay")
class RollTradingDay:
    @workflow.run
    async def run(self, request: DayRequest) -> DayOutcome:
        current = await workflow.execute_activity_method(
            DayActivities.current_day, start_to_close_timeout=_BOOKKEEPING_TIMEOUT, retry_policy=_BOOKKEEPING
        )
        base_id = workflow.info().workflow_id
        if current.state in ("ACTIVE", "ERROR"):
            ended: DayOutcome = await workflow.execute_child_workflow(
                EndTradingDay.run, DayRequest(env=request.env, retry=request.retry,
                                              step_timeout_seconds=request.step_timeout_seconds),
                id=f"{base_id}-end",
            )
            if ended.state != "COMPLETE" or current.date == current.today:
                return ended
        started: DayOutcome = await workflow.execute_child_workflow(
            StartTradingDay.run, DayRequest(env=request.env, date=current.today, retry=request.retry,
                                            step_timeout_seconds=request.step_timeout_seconds),
            id=f"{base_id}-start",
        )
        return started


@workflow.defn(name="SyncSecmaster")
class SyncSecmaster:
    @workflow.run
    async def run(self, request: DayRequest) -> str:
        detail: str = await workflow.execute_activity_method(
            DayActivities.sync_secmaster,
            start_to_close_timeout=timedelta(seconds=request.step_timeout_seconds),
            retry_policy=step_retry_policy(request.retry),
        )
        return detail


WORKFLOWS = [StartTradingDay, EndTradingDay, RollTradingDay, SyncSecmaster]


# --- entry points for `ssmd day start|end|roll` when orchestrator.type is temporal ---------


async def start_day_via_temporal(env: Environment, date: str | None = None) -> DayOutcome:
    """Run ``StartTradingDay`` for ``date`` (default: today by the schedule) and wait for it.

    Raises ``SsmdError`` when the day cannot start (another day running, server unreachable);
    a step failure is not an exception: the outcome says FAILED and names the step.
    """
    from ssmd.orchestration.client import run_day_workflow

    return await run_day_workflow(env, "start", date=date)


async def end_day_via_temporal(env: Environment, *, force: bool = False) -> DayOutcome:
    from ssmd.orchestration.client import run_day_workflow

    return await run_day_workflow(env, "end", force=force)


async def roll_day_via_temporal(env: Environment) -> DayOutcome:
    from ssmd.orchestration.client import run_day_workflow

    return await run_day_workflow(env, "roll")
