"""Small supervised tasks of the runtime: a periodic job and the metrics endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from ssmd.errors import SsmdError
from ssmd.status import ComponentState, ComponentStatus


class Periodic:
    """Call ``job()`` every ``interval`` seconds until stopped (errors are counted, not fatal)."""

    def __init__(self, name: str, job: Callable[[], Awaitable[None]], interval: float) -> None:
        self.name = name
        self.job = job
        self.interval = interval
        self._stopped = asyncio.Event()
        self._state: ComponentState = "stopped"
        self.errors = 0
        self.last_error: str | None = None

    async def run(self) -> None:
        self._stopped.clear()
        self._state = "running"
        try:
            while not self._stopped.is_set():
                try:
                    await self.job()
                except Exception as exc:
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), self.interval)
        finally:
            self._state = "stopped"

    async def stop(self) -> None:
        self._stopped.set()

    def status(self) -> ComponentStatus:
        return ComponentStatus(name=self.name, state=self._state, errors=self.errors, last_error=self.last_error)


class MetricsEndpoint:
    """Prometheus ``/metrics`` of ``ssmd.metrics.REGISTRY`` on ``host:port``."""

    name = "metrics"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._stopped = asyncio.Event()
        self._state: ComponentState = "stopped"

    def bind(self) -> str:
        if self._server is None:
            from prometheus_client import start_http_server

            from ssmd.metrics import REGISTRY

            try:
                self._server, _thread = start_http_server(self.port, addr=self.host, registry=REGISTRY)
            except OSError as exc:
                raise SsmdError(f"metrics: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
            self.port = int(self._server.server_address[1])
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def run(self) -> None:
        self.bind()
        self._stopped.clear()
        self._state = "running"
        try:
            await self._stopped.wait()
        finally:
            self._state = "stopped"
            server, self._server = self._server, None
            if server is not None:
                await asyncio.to_thread(server.shutdown)
                server.server_close()

    async def stop(self) -> None:
        self._stopped.set()

    def status(self) -> ComponentStatus:
        return ComponentStatus(name=self.name, state=self._state, details={"url": self.url})
