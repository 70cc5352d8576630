"""Run components as supervised tasks of one TaskGroup.

Each task runs ``component.run()``; when it raises, the task restarts after a backoff
delay; more than ``max_restarts`` failures within ``window_seconds`` (or a fatal error:
configuration, credentials) marks it ``failed`` in status and calls ``on_failed`` instead
of looping. ``shutdown()`` stops tasks stage by stage (lowest ``stage`` first, each stage
concurrently) under one deadline; whatever is still running when it passes is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ssmd.clock import Clock, SystemClock
from ssmd.component import Component
from ssmd.errors import AuthError, ConfigError, SsmdError
from ssmd.log import get_logger
from ssmd.metrics import COMPONENT_RESTARTS, COMPONENT_UP
from ssmd.retry import backoff
from ssmd.status import ComponentState, ComponentStatus

log = get_logger("supervisor")
FailedHook = Callable[[str, str], Awaitable[None]]
Sleeper = Callable[[float], Awaitable[None]]


class RestartPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_restarts: int = 5
    """Failures tolerated within ``window_seconds`` before the task is marked failed."""
    window_seconds: float = 60.0
    initial_delay: float = 0.5
    max_delay: float = 10.0
    stop_timeout: float = 15.0
    """How long one component's ``stop()`` may take before its task is cancelled."""


@dataclass
class _Task:
    name: str
    factory: Callable[[], Component]
    stage: int
    critical: bool
    autostart: bool = True
    component: Component | None = None
    task: asyncio.Task[None] | None = None
    state: ComponentState = "stopped"
    restarts: int = 0
    failures: deque[float] = field(default_factory=deque)
    last_error: str | None = None
    stopping: bool = False
    delays: Iterator[float] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    def __init__(self, *, clock: Clock | None = None, policy: RestartPolicy | None = None,
                 sleeper: Sleeper | None = None, on_failed: FailedHook | None = None) -> None:
        self.clock = clock or SystemClock()
        self.policy = policy or RestartPolicy()
        self.sleeper = sleeper
        self.on_failed = on_failed
        self._tasks: dict[str, _Task] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._ready = asyncio.Event()
        self._shutdown = asyncio.Event()
        self._finished = asyncio.Event()
        self.before_stage: Callable[[int], Awaitable[None]] | None = None
        """Awaited before each shutdown stage (e.g. let the archiver catch up)."""
        self.stop_order: list[str] = []
        """Names in the order their stop completed (for status and tests)."""

    # ---- registration -----------------------------------------------------------------
    def add(self, name: str, factory: Callable[[], Component], *, stage: int = 50, critical: bool = False,
            autostart: bool = True) -> None:
        """Register a task; ``autostart`` ones start with ``run()``, others on ``start(name)``."""
        self._tasks[name] = _Task(name=name, factory=factory, stage=stage, critical=critical, autostart=autostart)

    # ---- ComponentHost ----------------------------------------------------------------
    def manages(self, name: str) -> bool:
        return name in self._tasks

    def names(self) -> list[str]:
        return list(self._tasks)

    def component(self, name: str) -> Any | None:
        task = self._tasks.get(name)
        return task.component if task is not None and task.state not in ("stopped", "failed") else None

    def component_status(self, name: str) -> ComponentStatus | None:
        task = self._tasks.get(name)
        return self._status(task) if task is not None else None

    async def start(self, name: str) -> None:
        """Run ``name`` if it is not running (a failed or stopped one starts afresh)."""
        task = self._task(name)
        await self._ready.wait()
        if task.task is not None and not task.task.done():
            if task.state not in ("failed", "stopped"):
                return
            await asyncio.wait({task.task})  # it is on its way out (failure hook, last log line)
        if self._shutdown.is_set():
            raise SsmdError(f"cannot start {name}: shutting down")
        task.failures.clear()
        task.component = None
        self._launch(task)

    async def stop(self, name: str) -> None:
        """Ask ``name`` to stop gracefully; cancel it after ``policy.stop_timeout``."""
        task = self._task(name)
        if task.task is None or task.task.done():
            task.state = "stopped" if task.state != "failed" else task.state
            return
        task.stopping = True
        task.state = "stopping"
        task.wake.set()
        try:
            async with asyncio.timeout(self.policy.stop_timeout):
                if task.component is not None:
                    await task.component.stop()
                await asyncio.wait({task.task})
        except TimeoutError:
            log.warning("stop timed out; cancelling", task=name, timeout=self.policy.stop_timeout)
            task.task.cancel()
            await asyncio.wait({task.task}, timeout=5.0)
        except Exception as exc:
            log.error("stop failed", task=name, error=f"{type(exc).__name__}: {exc}")
            task.task.cancel()
            await asyncio.wait({task.task}, timeout=5.0)
        task.state = "stopped"
        self.stop_order.append(name)

    def statuses(self) -> list[ComponentStatus]:
        return [self._status(t) for t in self._tasks.values()]

    # ---- running ----------------------------------------------------------------------
    async def run(self, after_start: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Start the autostart tasks and supervise until ``shutdown()`` finishes."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                for task in self._tasks.values():
                    if task.autostart:
                        self._launch(task)
                self._ready.set()
                if after_start is not None:
                    tg.create_task(after_start())
                await self._finished.wait()
                for task in self._tasks.values():
                    if task.task is not None and not task.task.done():
                        task.task.cancel()
        finally:
            self._tg = None
            self._finished.set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    @property
    def shutting_down(self) -> bool:
        return self._shutdown.is_set()

    async def shutdown(self, deadline: float = 30.0) -> None:
        """Stop every task, stage by stage, within ``deadline`` seconds; then end ``run()``."""
        if self._shutdown.is_set():
            await self._finished.wait()
            return
        self._shutdown.set()
        await self._ready.wait()
        try:
            async with asyncio.timeout(deadline):
                for stage in sorted({t.stage for t in self._tasks.values()}):
                    names = [t.name for t in self._tasks.values() if t.stage == stage]
                    if self.before_stage is not None:
                        await self.before_stage(stage)
                    log.info("stopping", stage=stage, tasks=names)
                    await asyncio.gather(*(self.stop(n) for n in names))
        except TimeoutError:
            log.error("shutdown deadline passed; cancelling what is left", deadline=deadline)
        finally:
            self._finished.set()

    def _launch(self, task: _Task) -> None:
        assert self._tg is not None, "the supervisor is not running"
        task.stopping = False
        task.state = "starting"
        task.delays = backoff(self.policy.initial_delay, self.policy.max_delay)
        task.task = self._tg.create_task(self._keep(task), name=task.name)

    async def _keep(self, task: _Task) -> None:
        while True:
            if task.component is None:
                task.component = task.factory()
            task.state = "running"
            COMPONENT_UP.labels(component=task.name).set(1)
            error: BaseException | None = None
            try:
                await task.component.run()
            except asyncio.CancelledError:
                task.state = "stopped"
                raise
            except Exception as exc:
                error = exc
            finally:
                COMPONENT_UP.labels(component=task.name).set(0)
            if error is None or task.stopping:
                task.state = "stopped"
                if error is not None:
                    task.last_error = _describe(error)
                log.info("task stopped", task=task.name)
                return
            if not await self._after_failure(task, error):
                return

    async def _after_failure(self, task: _Task, error: BaseException) -> bool:
        """Record a failure; sleep the backoff delay and return True to restart, or mark
        the task failed and return False."""
        now = self.clock.monotonic()
        task.last_error = _describe(error)
        task.failures.append(now)
        while task.failures and now - task.failures[0] > self.policy.window_seconds:
            task.failures.popleft()
        fatal = isinstance(error, ConfigError | AuthError)
        if fatal or len(task.failures) > self.policy.max_restarts:
            task.state = "failed"
            why = "fatal error" if fatal else f"{len(task.failures)} failures in {self.policy.window_seconds:g} s"
            log.error("component failed; not restarting", task=task.name, reason=why, error=task.last_error)
            if self.on_failed is not None and task.critical:
                try:
                    await self.on_failed(task.name, task.last_error)
                except Exception as exc:
                    log.error("failure hook failed", task=task.name, error=f"{type(exc).__name__}: {exc}")
            return False
        assert task.delays is not None
        delay = next(task.delays)
        task.state = "restarting"
        task.restarts += 1
        COMPONENT_RESTARTS.labels(component=task.name).inc()
        log.warning("component failed; restarting", task=task.name, error=task.last_error,
                    delay=round(delay, 3), restarts=task.restarts)
        task.wake.clear()
        if self.sleeper is not None:
            await self.sleeper(delay)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task.wake.wait(), delay)
        if task.stopping:
            task.state = "stopped"
            return False
        return True

    def _task(self, name: str) -> _Task:
        try:
            return self._tasks[name]
        except KeyError:
            raise SsmdError(f"no component {name!r} in this process (have: {', '.join(self._tasks)})") from None

    def _status(self, task: _Task) -> ComponentStatus:
        base = task.component.status() if task.component is not None else ComponentStatus(name=task.name)
        # the component's own restarts (e.g. reconnects) plus the supervisor's restarts of it
        status = msgspec.structs.replace(base, name=task.name, restarts=base.restarts + task.restarts)
        if task.state != "running":
            status.state = task.state
        elif base.state in ("stopped", "failed"):
            status.state = "starting"
        if task.last_error and not status.last_error:
            status.last_error = task.last_error
        return status


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, SsmdError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
