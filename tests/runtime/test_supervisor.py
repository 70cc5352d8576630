"""Supervisor: restart with backoff, failed marking, on-demand start, staged shutdown."""

from __future__ import annotations

import asyncio
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


def make(policy: RestartPolicy | None = None) -> tuple[Supervisor, list[float], list[tuple[str, str]]]:
    delays: list[float] = []
    failed: list[tuple[str, str]] = []

    async def sleeper(seconds: float) -> None:
        delays.append(seconds)

    async def on_failed(name: str, error: str) -> None:
        failed.append((name, error))

    sup = Supervisor(policy=policy or RestartPolicy(max_restarts=3, initial_delay=0.5, max_delay=4),
                     sleeper=sleeper, on_failed=on_failed)
    return sup, delays, failed


async def run_until(sup: Supervisor, condition: Any) -> None:
    """Run the supervisor, wait for ``condition()`` to come true, then shut down."""
    async def body() -> None:
        async with asyncio.timeout(10):
            while not condition():
                await asyncio.sleep(0.005)
        await sup.shutdown(deadline=10)

    await asyncio.wait_for(sup.run(after_start=body), 20)


async def test_a_failing_task_restarts_with_growing_backoff() -> None:
    sup, delays, failed = make()
    flaky = Flaky("connector", failures=3)
    sup.add("connector", lambda: flaky, critical=True)
    await run_until(sup, flaky.running.is_set)
    assert flaky.runs == 4 and len(delays) == 3 and failed == []
    assert delays[0] < delays[2]  # 0.5 → 1 → 2 (± jitter)
    status = sup.component_status("connector")
    assert status is not None and status.restarts == 3 and status.last_error == "ConnectionError: connection reset"


async def test_repeated_failure_marks_the_task_failed_instead_of_looping() -> None:
    sup, delays, failed = make()
    flaky = Flaky("archiver", failures=100)
    sup.add("archiver", lambda: flaky, critical=True)
    await run_until(sup, lambda: failed)
    assert flaky.runs == 4  # the first run and max_restarts=3 restarts
    assert failed == [("archiver", "ConnectionError: connection reset")]
    status = sup.component_status("archiver")
    assert status is not None and status.state == "failed" and status.restarts == 3


async def test_a_fatal_error_is_not_retried() -> None:
    sup, delays, failed = make()
    flaky = Flaky("gateway", failures=1, error=ConfigError("env.yaml", "gateway.api_key", "no such key"))
    sup.add("gateway", lambda: flaky, critical=True)
    await run_until(sup, lambda: failed)
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
    await run_until(sup, flaky.running.is_set)
    assert failed == [] and flaky.runs == 5


async def test_on_demand_start_and_a_failed_task_starts_afresh() -> None:
    sup, _, failed = make(RestartPolicy(max_restarts=0))
    made: list[Flaky] = []

    def factory() -> Flaky:
        made.append(Flaky("connector", failures=1 if not made else 0))
        return made[-1]

    sup.add("connector", factory, autostart=False, critical=True)

    async def body() -> None:
        assert sup.component("connector") is None
        await sup.start("connector")
        async with asyncio.timeout(5):
            while not failed:
                await asyncio.sleep(0.005)
        await sup.start("connector")
        async with asyncio.timeout(5):
            while len(made) < 2 or not made[1].running.is_set():
                await asyncio.sleep(0.005)
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
    await run_until(sup, lambda: all(c.status().state == "running" for c in parts.values()))
    assert events == ["stop gateway", "stop connector", "stop archiver", "stop control"]
    assert sup.stop_order == ["secmaster", "gateway", "connector", "archiver", "control"]
    assert stubborn.stops == 1 and sup.component_status("secmaster").state == "stopped"  # type: ignore[union-attr]
