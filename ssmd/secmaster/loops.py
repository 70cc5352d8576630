"""The running secmaster's schedule: refresh, sweep, and lifecycle consumption.

One TaskGroup owns the three loops; setting ``stopping`` ends them, after which buffered
history is flushed. A failed sync is logged and tried again at the next refresh: the
secmaster keeps serving the previous state meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from ssmd import codec
from ssmd.errors import SsmdError
from ssmd.log import get_logger
from ssmd.middleware.transport.base import StartPosition
from ssmd.records import Lifecycle

if TYPE_CHECKING:
    from ssmd.secmaster.service import SecmasterService

log = get_logger("secmaster")


async def _wait(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until stopping; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    return stopping.is_set()


async def refresh_loop(service: SecmasterService, stopping: asyncio.Event) -> None:
    interval = max(1.0, service.env.secmaster.refresh_minutes * 60.0)
    while not await _wait(stopping, interval):
        with contextlib.suppress(SsmdError):  # already logged and counted by sync()
            await service.sync(full=False)


async def sweep_loop(service: SecmasterService, stopping: asyncio.Event) -> None:
    while not await _wait(stopping, service.sweep_seconds):
        try:
            await service.sweep()
            await service.complete_created()
            await service.flush_history()
        except SsmdError as exc:
            log.error("secmaster sweep failed", error=str(exc))


def lifecycle_subject(service: SecmasterService) -> str:
    return f"{service.env.name}.{service.env.feed}.lifecycle.>"


async def lifecycle_loop(service: SecmasterService, ready: asyncio.Event) -> None:
    transport = service.backends.transport
    sub = await transport.subscribe(lifecycle_subject(service), durable="secmaster-lifecycle",
                                    start=StartPosition.end())
    ready.set()
    try:
        async for msg in sub:
            try:
                record = codec.decode("lifecycle", msg.data)
                if isinstance(record, Lifecycle):
                    await service.apply_lifecycle(record)
            except SsmdError as exc:
                log.error("lifecycle record not applied", subject=msg.subject, error=str(exc))
                service.counters["lifecycle_errors"] += 1
            except Exception as exc:  # an undecodable record is skipped, never fatal
                log.error("lifecycle record unreadable", subject=msg.subject, error=f"{type(exc).__name__}: {exc}")
                service.counters["lifecycle_errors"] += 1
            await msg.ack()
    finally:
        await sub.close()


async def run_loops(service: SecmasterService, stopping: asyncio.Event) -> None:
    await service.load()
    ready = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(lifecycle_loop(service, ready))]
        await ready.wait()  # subscribed before the sync: no lifecycle record falls between
        try:
            await service.sync(full=True)
        except SsmdError:
            pass  # logged; the stored state is served and the next refresh tries again
        if service.hook is not None:
            await service.hook.reset(service.markets)
        tasks.append(group.create_task(refresh_loop(service, stopping)))
        tasks.append(group.create_task(sweep_loop(service, stopping)))
        service._running()
        await stopping.wait()
        for task in tasks:
            task.cancel()
    with contextlib.suppress(SsmdError):
        await service.flush_history()
