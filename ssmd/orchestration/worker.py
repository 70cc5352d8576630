"""The Temporal worker of one environment: workflows, activities, schedules, metrics.

``run_worker`` opens the environment's backends, connects to Temporal (retrying with backoff
while the server comes up), makes sure the schedules exist, serves
the environment's task queue until ``stop`` is set (SIGTERM in ``ssmd worker``), and every
``refresh_seconds`` exports the day state (``ssmd_day_state``) and key rotation
(``ssmd_key_expiry_seconds``) so the day and key alerts have data in a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.day.state import DayState
from ssmd.log import get_logger
from ssmd.metrics import DAY_STATE
from ssmd.ops.keystatus import update_key_metrics
from ssmd.orchestration.activities import DayActivities
from ssmd.orchestration.client import connect, ensure_schedules
from ssmd.orchestration.temporal import WORKFLOWS
from ssmd.retry import backoff, retry

log = get_logger("worker")


def build_worker(client: Client, env: Environment, activities: DayActivities) -> Worker:
    return Worker(
        client,
        task_queue=env.orchestrator.task_queue,
        workflows=WORKFLOWS,
        activities=activities.all(),
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def export_state(env: Environment, activities: DayActivities, clock: Clock) -> None:
    """Set the day-state and key-rotation gauges from the store and the mounted keys."""
    record = await activities.store.current()
    if record is not None:
        for state in DayState:
            DAY_STATE.labels(state=str(state)).set(1 if state is record.state else 0)
    update_key_metrics(env, clock.now_ns())


def _log_retry(attempt: int, exc: BaseException, wait: float) -> None:
    log.warning("temporal not reachable yet", attempt=attempt, error=str(exc), retry_in=round(wait, 1))


async def run_worker(
    env: Environment,
    stop: asyncio.Event,
    *,
    clock: Clock | None = None,
    refresh_seconds: float = 30.0,
    on_ready: Callable[[], Any] | None = None,
    connect_attempts: int = 10,
) -> None:
    from ssmd.middleware.factory import open_backends

    clock = clock or SystemClock()
    backends = await open_backends(env, clock=clock)
    try:
        client = await retry(lambda: connect(env), attempts=connect_attempts, delays=backoff(0.5, 10.0),
                             on_retry=_log_retry)
        schedules = await ensure_schedules(client, env)
        activities = DayActivities(env, backends, clock=clock)
        async with build_worker(client, env, activities):
            log.info("worker started", address=env.orchestrator.address, namespace=env.orchestrator.namespace,
                     task_queue=env.orchestrator.task_queue, schedules=schedules)
            if on_ready is not None:
                on_ready()
            while True:
                try:
                    await export_state(env, activities, clock)
                except Exception as exc:  # metrics are best effort; the worker keeps serving
                    log.warning("state export failed", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), refresh_seconds)
                if stop.is_set():
                    break
            log.info("worker stopping")
    finally:
        await backends.close()
