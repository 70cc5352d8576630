"""Which components a process can run, how each is built, and the shutdown stages.

``default_factory(runtime, name)`` builds the real component (imported lazily);
``archiver_caught_up`` is the wait before the archiver's shutdown stage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from ssmd.clock import Clock
from ssmd.component import Component
from ssmd.config.model import Environment
from ssmd.errors import SsmdError
from ssmd.log import get_logger
from ssmd.runtime.supervisor import Supervisor

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends
    from ssmd.runtime.app import Runtime

log = get_logger("runtime")
COMPONENTS = ("connector", "archiver", "gateway", "secmaster", "healer")
STAGES = {"scheduler": 10, "secmaster": 15, "gateway": 20, "connector": 30, "healer": 35, "simulator": 40,
          "archiver": 50,
          "reporter": 60, "metrics": 90, "control": 95}
Factory = Callable[[Environment, "Backends", Clock], Component]


def default_factory(runtime: Runtime, name: str) -> Callable[[], Component]:
    """The real component ``name`` for this runtime's environment and backends."""

    def make() -> Component:
        env, backends, clock = runtime.env, runtime.backends, runtime.clock
        if name == "connector":
            from ssmd.connector import Connector

            secmaster = runtime.supervisor.component("secmaster")
            markets = secmaster.selected_markets() if secmaster is not None else runtime.cached_markets
            return Connector(env, backends, clock=clock, markets=markets)
        if name == "archiver":
            if runtime.workers > 1:
                from ssmd.workers import ArchiverProcess

                return ArchiverProcess(env, backends, clock=clock)
            from ssmd.archiver import Archiver

            return Archiver(env, backends, clock=clock)
        if name == "gateway":
            from ssmd.gateway import Gateway

            return Gateway(env, backends, clock=clock)
        if name == "secmaster":
            from ssmd.secmaster.service import SecmasterService

            return SecmasterService(env, backends, clock=clock, connector=runtime.forward_markets)
        if name == "healer":
            from ssmd.healer import Healer

            return Healer(env, backends, clock=clock)
        raise SsmdError(f"unknown component {name!r} (choose from {', '.join(COMPONENTS)})")

    return make


async def archiver_caught_up(supervisor: Supervisor, *, quiet: float = 0.5, limit: float = 15.0,
                             poll: float = 0.05) -> None:
    """Before the archiver stops: wait until it has taken everything already published,
    at most ``limit`` seconds. With the connector in this process: until the archiver
    has taken as many messages as the connector (and the healer) published; otherwise until
    its counters stay still for ``quiet`` seconds. An archiver (re)starting is waited for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    status = supervisor.component_status("archiver")
    while status is not None and status.state in ("starting", "restarting") and loop.time() < deadline:
        await asyncio.sleep(poll)
        status = supervisor.component_status("archiver")
    if status is None or status.state != "running":
        return
    connector = supervisor.component_status("connector")
    published = None  # raw + records; dead letters go to the DLQ subject, not to the archiver
    if connector is not None and "published" in connector.counters:
        published = connector.counters["published"] - connector.counters.get("dead_letters", 0)
        healer = supervisor.component_status("healer")
        if healer is not None:  # trades healed from REST go to the archiver too
            published += healer.counters.get("recovered", 0)
    last, still_since = -1, loop.time()
    while loop.time() < deadline:
        taken = sum(v for k, v in status.counters.items() if k != "gaps")
        if published is not None:
            if taken >= published:
                return
        elif taken != last:
            last, still_since = taken, loop.time()
        elif loop.time() - still_since >= quiet:
            return
        await asyncio.sleep(poll)
        status = supervisor.component_status("archiver") or status
    log.warning("the archiver did not catch up before stopping; the rest stays in the stream",
                published=published, taken=sum(v for k, v in status.counters.items() if k != "gaps"))
