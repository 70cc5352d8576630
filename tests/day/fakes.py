"""Small fake components and a host for driving the day steps without real services."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from ssmd.status import ComponentStatus


class FakeComponent:
    """Runs until stopped; ``fail_with`` makes ``run()`` raise right away."""

    def __init__(self, name: str, *, fail_with: BaseException | None = None) -> None:
        self.name = name
        self.fail_with = fail_with
        self.runs = 0
        self.stops = 0
        self.flushes = 0
        self.drains = 0
        self.events: list[str] | None = None
        self._state = "stopped"
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        self._stop.clear()
        if self.fail_with is not None:
            self._state = "failed"
            raise self.fail_with
        self._state = "running"
        self._crash: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait({asyncio.ensure_future(self._stop.wait()), self._crash},
                               return_when=asyncio.FIRST_COMPLETED)
            if self._crash.done():
                self._state = "failed"
                self._crash.result()
        finally:
            if self._state != "failed":
                self._state = "stopped"

    def crash(self, exc: BaseException) -> None:
        """Make the running ``run()`` raise ``exc``."""
        self._crash.set_exception(exc)

    async def stop(self) -> None:
        self.stops += 1
        if self.events is not None:
            self.events.append(f"stop {self.name}")
        self._stop.set()

    async def flush(self) -> None:
        self.flushes += 1

    async def drain(self) -> None:
        self.drains += 1

    def status(self) -> ComponentStatus:
        return ComponentStatus(name=self.name, state=self._state)  # type: ignore[arg-type]


class Summary(msgspec.Struct):
    total: int
    added: int = 0
    updated: int = 0


class FakeSecmaster(FakeComponent):
    def __init__(self, *, fail: str | None = None) -> None:
        super().__init__("secmaster")
        self.fail = fail
        self.syncs = 0

    async def sync(self) -> Summary:
        self.syncs += 1
        if self.fail:
            raise RuntimeError(self.fail)
        return Summary(total=20, added=20)


class FakeHost:
    """A ComponentHost over fake components; ``start`` runs them as tasks."""

    def __init__(self, **components: Any) -> None:
        self.components: dict[str, Any] = components
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.log: list[str] = []

    def manages(self, name: str) -> bool:
        return name in self.components

    def component(self, name: str) -> Any | None:
        return self.components.get(name)

    def component_status(self, name: str) -> ComponentStatus | None:
        comp = self.components.get(name)
        return comp.status() if comp is not None else None

    async def start(self, name: str) -> None:
        self.log.append(f"start {name}")
        task = self.tasks.get(name)
        if task is None or task.done():
            self.tasks[name] = asyncio.create_task(self.components[name].run())
            await asyncio.sleep(0)

    async def stop(self, name: str) -> None:
        self.log.append(f"stop {name}")
        await self.components[name].stop()
        task = self.tasks.pop(name, None)
        if task is not None:
            await asyncio.wait({task})

    async def close(self) -> None:
        for name in list(self.tasks):
            await self.stop(name)
