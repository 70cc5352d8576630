"""Supervisor: restart with backoff, failed marking, on-demand start, staged shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ssmd.errors import ConfigError
from ssmd.runtime.supervisor import RestartPolicy, Supervisor
from tests.day.fakes import FakeComponent


class Flaky(FakeComponent):
    """Fails its first ``failures`` runs, then runs until stopped."""

    def __init__(self, name: str, failures: int, error: BaseException | None = None) -> None:
        super().__init__(name)
        self.failures = failures
        self.error = error or ConnectionError("connection reset")
        self.running = asyncio.Event()

    async def run(self) -> None:
        if self.runs < self.failures:
            self.runs += 1
            raise self.error
        self.running.set()
        await super().run()


class Stubborn(FakeComponent):
    """Ignores stop(); only cancellation ends it."""

    async def stop(self) -> None:
        self.stops += 1


class Failures(list[tuple[str, str]]):
    """Failure-hook calls, with an event set by the first one."""

    def __init__(self) -> None:
        super().__init__()
        self.event = asyncio.Event()

    def is_set(self) -> bool:
        return self.event.is_set()

    async def wait(self) -> None:
        await self.event.wait()


def make(policy: RestartPolicy | None = None) -> tuple[Supervisor, list[float], Failures]:
    delays: list[float] = []
    failed = Failures()

    async def sleeper(seconds: float) -> None:
        delays.append(seconds)

    async def on_failed(name: str, error: str) -> None:
        failed.append((name, error))
        failed.event.set()

    sup = Supervisor(policy=policy or RestartPolicy(max_restarts=3, initial_delay=0.5, max_delay=4),
                     sleeper=sleeper, on_failed=on_failed)
    return sup, delays, failed


async def run_until(sup: Supervisor, wait: Callable[[], Awaitable[Any]]) -> None:
    """Run the supervisor until ``wait()`` returns, then shut down."""
    async def body() -> None:
        await asyncio.wait_for(wait(), 10)
        await sup.shutdown(deadline=10)

    await asyncio.wait_for(sup.run(after_start=body), 20)


async def test_a_failing_task_restarts_with_growing_backoff() -> None:
    sup, delays, failed = make()
    flaky = Flaky("connector", failures=3)
    sup.add("connector", lambda: flaky, critical=True)
    await run_until(sup, flaky.running.wait)
    assert flaky.runs == 4 and len(delays) == 3 and failed == []
    assert delays[0] < delays[2]  # 0.5 → 1 → 2 (± jitter)
    status = sup.component_status("connector")
    assert status is not None and status.restarts == 3 and status.last_error == "ConnectionError: connection reset"


async def test_repeated_failure_marks_the_task_failed_instead_of_looping() -> None:
    sup, _, failed = make()
    flaky = Flaky("archiver", failures=100)
    sup.add("archiver", lambda: flaky, critical=True)
    await run_until(sup, failed.wait)
    assert flaky.runs == 4  # the first run and max_restarts=3 restarts
    assert failed == [("archiver", "ConnectionError: connection reset")]
    status = sup.component_status("archiver")
    assert status is not None and status.state == "failed" and status.restarts == 3


async def test_a_fatal_error_is_not_retried() -> None:
    sup, delays, failed = make()
    flaky = Flaky("gateway", failures=1, error=ConfigError("env.yaml", "gateway.api_key", "no such key"))
    sup.add("gateway", lambda: flaky, critical=True)
    await run_until(sup, failed.wait)
    assert flaky.runs == 1 and delays == []
    assert failed == [("gateway", "env.yaml: gateway.api_key: no such key")]


async def test_failures_outside_the_window_do_not_add_up() -> None:
    from ssmd.clock import ManualClock

    clock = ManualClock()
    sup, delays, failed = make(RestartPolicy(max_restarts=1, window_seconds=10, initial_delay=0.1))
    sup.clock = clock

    async def sleeper(seconds: float) -> None:
        delays.append(seconds)
        clock.advance(60)  # each failure is a minute after the last

    sup.sleeper = sleeper
    flaky = Flaky("connector", failures=4)
    sup.add("connector", lambda: flaky, critical=True)
    await run_until(sup, flaky.running.wait)
    assert failed == [] and flaky.runs == 5


async def test_on_demand_start_and_a_failed_task_starts_afresh() -> None:
    sup, _, failed = make(RestartPolicy(max_restarts=0))
    made: list[Flaky] = []
    made_hook: list[asyncio.Event] = []

    def factory() -> Flaky:
        made.append(Flaky("connector", failures=1 if not made else 0))
        for event in made_hook:
            event.set()
        return made[-1]

    sup.add("connector", factory, autostart=False, critical=True)

    async def body() -> None:
        assert sup.component("connector") is None
        await sup.start("connector")
        await asyncio.wait_for(failed.wait(), 5)
        second = asyncio.Event()
        made_hook.append(second)
        await sup.start("connector")
        await asyncio.wait_for(second.wait(), 5)
        await asyncio.wait_for(made[1].running.wait(), 5)
        await sup.stop("connector")
        assert sup.component_status("connector").state == "stopped"  # type: ignore[union-attr]
        await sup.shutdown(5)

    await asyncio.wait_for(sup.run(after_start=body), 20)
    assert len(made) == 2 and made[1].stops == 1


async def test_shutdown_goes_stage_by_stage_and_cancels_what_will_not_stop() -> None:
    sup, _, _ = make(RestartPolicy(stop_timeout=0.2))
    events: list[str] = []
    parts = {name: FakeComponent(name) for name in ("gateway", "connector", "archiver", "control")}
    for comp in parts.values():
        comp.events = events
    stubborn = Stubborn("secmaster")
    stages = {"secmaster": 15, "gateway": 20, "connector": 30, "archiver": 50, "control": 95}
    for name, stage in stages.items():
        comp = stubborn if name == "secmaster" else parts[name]
        sup.add(name, (lambda c=comp: c), stage=stage)
    started = asyncio.Event()

    class Last(FakeComponent):
        async def run(self) -> None:
            started.set()
            await super().run()

    last = Last("reporter")
    sup.add("reporter", lambda: last, stage=99)
    await run_until(sup, started.wait)
    assert events == ["stop gateway", "stop connector", "stop archiver", "stop control"]
    assert sup.stop_order == ["secmaster", "gateway", "connector", "archiver", "control", "reporter"]
    assert stubborn.stops == 1 and sup.component_status("secmaster").state == "stopped"  # type: ignore[union-attr]
