"""Talking to Temporal: connect, run a day workflow and wait, keep the schedules in place.

Schedules follow the environment's ``schedule`` block (times in ``schedule.timezone``):
``ssmd-{env}-day-start`` runs ``StartTradingDay`` at ``day_start``; with ``auto_roll``,
``ssmd-{env}-day-end`` runs ``EndTradingDay`` at ``day_end`` (one ``RollTradingDay``
schedule instead when both times are equal); ``ssmd-{env}-secmaster-sync`` runs
``SyncSecmaster`` every ``secmaster.refresh_minutes``. Overlapping runs are skipped.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowFailureError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from ssmd.calendar import day_partition
from ssmd.config.model import Environment
from ssmd.errors import BackendError, SsmdError
from ssmd.orchestration.activities import DayOutcome
from ssmd.orchestration.temporal import (
    DayRequest,
    EndTradingDay,
    RetrySettings,
    RollTradingDay,
    StartTradingDay,
    SyncSecmaster,
    failure_message,
)

Kind = Literal["start", "end", "roll"]
_WORKFLOWS: dict[str, Any] = {"start": StartTradingDay, "end": EndTradingDay, "roll": RollTradingDay}


async def connect(env: Environment) -> Client:
    address = env.orchestrator.address
    try:
        return await Client.connect(address, namespace=env.orchestrator.namespace)
    except Exception as exc:  # the SDK raises RuntimeError for connection failures
        raise BackendError(f"cannot reach Temporal at {address} (orchestrator.address): {exc}") from None


async def run_day_workflow(
    env: Environment,
    kind: Kind,
    *,
    date: str | None = None,
    force: bool = False,
    client: Client | None = None,
    retry: RetrySettings | None = None,
) -> DayOutcome:
    """Start the workflow of ``kind`` on the environment's task queue and wait for its outcome."""
    client = client or await connect(env)
    if kind == "start":
        from ssmd.clock import SystemClock

        date = date or day_partition(env.schedule, SystemClock().now_ns())
        workflow_id = f"ssmd-{env.name}-start-{date}"
    else:
        workflow_id = f"ssmd-{env.name}-{kind}-{uuid.uuid4().hex[:12]}"
    request = DayRequest(env=env.name, date=date, force=force, retry=retry or RetrySettings())
    try:
        handle = await client.start_workflow(
            _WORKFLOWS[kind].run, request, id=workflow_id, task_queue=env.orchestrator.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        result: DayOutcome = await handle.result()
    except WorkflowFailureError as exc:
        raise SsmdError(f"{kind} trading day ({workflow_id}): {failure_message(exc)}") from None
    except RPCError as exc:
        raise BackendError(f"Temporal at {env.orchestrator.address}: {exc.message}") from None
    return result


def _at(hhmm: str) -> ScheduleCalendarSpec:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)],
                                second=[ScheduleRange(0)], comment=f"{hhmm} local")


def schedules_for(env: Environment) -> dict[str, Schedule]:
    """The schedules ``env`` asks for, by schedule id."""
    tz = env.schedule.timezone
    queue = env.orchestrator.task_queue
    policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=30))

    def schedule(sid: str, workflow: Any, spec: ScheduleSpec) -> Schedule:
        action = ScheduleActionStartWorkflow(workflow.run, DayRequest(env=env.name), id=sid, task_queue=queue)
        return Schedule(action=action, spec=spec, policy=policy)

    prefix = f"ssmd-{env.name}"
    day = env.schedule
    result: dict[str, Schedule] = {}
    if day.auto_roll and day.day_start == day.day_end:
        result[f"{prefix}-day-roll"] = schedule(f"{prefix}-day-roll", RollTradingDay,
                                                ScheduleSpec(calendars=[_at(day.day_end)], time_zone_name=tz))
    else:
        result[f"{prefix}-day-start"] = schedule(f"{prefix}-day-start", StartTradingDay,
                                                 ScheduleSpec(calendars=[_at(day.day_start)], time_zone_name=tz))
        if day.auto_roll:
            result[f"{prefix}-day-end"] = schedule(f"{prefix}-day-end", EndTradingDay,
                                                   ScheduleSpec(calendars=[_at(day.day_end)], time_zone_name=tz))
    every = timedelta(minutes=env.secmaster.refresh_minutes)
    result[f"{prefix}-secmaster-sync"] = schedule(f"{prefix}-secmaster-sync", SyncSecmaster,
                                                  ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]))
    return result


def _replace_with(schedule: Schedule) -> Any:
    def updater(_current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    return updater


async def ensure_schedules(client: Client, env: Environment) -> list[str]:
    """Create or update the environment's schedules; remove day schedules it no longer wants."""
    wanted = schedules_for(env)
    for sid, schedule in wanted.items():
        try:
            await client.create_schedule(sid, schedule)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(sid).update(_replace_with(schedule))
    for suffix in ("day-start", "day-end", "day-roll"):
        sid = f"ssmd-{env.name}-{suffix}"
        if sid not in wanted:
            try:
                await client.get_schedule_handle(sid).delete()
            except RPCError:
                pass
    return sorted(wanted)
