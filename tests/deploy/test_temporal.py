"""Trading-day workflows on a real Temporal dev server, driving the day steps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.client import Client

from ssmd.clock import ManualClock
from ssmd.day.state import DayState
from ssmd.day.steps import END_STEPS, START_STEPS, DayContext, StepError
from ssmd.day.store import DayStore
from ssmd.errors import SsmdError, TransportError
from ssmd.middleware.factory import open_backends
from ssmd.orchestration.activities import DayActivities
from ssmd.orchestration.client import ensure_schedules, run_day_workflow
from ssmd.orchestration.temporal import RetrySettings
from ssmd.orchestration.worker import build_worker

pytestmark = pytest.mark.slow  # a Temporal dev server and real workflows

FAST = RetrySettings(initial_seconds=0.05, backoff=2.0, maximum_seconds=0.2, attempts=3)
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # trading day 2026-03-10 under the default UTC schedule


class Harness:
    def __init__(self, env: Any, backends: Any, client: Client, clock: ManualClock) -> None:
        self.env, self.backends, self.client, self.clock = env, backends, client, clock
        self.calls: list[str] = []

    def store(self) -> DayStore:
        return DayStore(self.env.name, self.backends.cache, self.backends.journal)

    def recording(self, name: str, *, fail: int = 0, exc: Callable[[], Exception] | None = None,
                  stats: dict[str, Any] | None = None) -> Any:
        """A step that fails its first ``fail`` calls (``fail=-1``: always), then succeeds."""
        async def step(ctx: DayContext) -> str:
            self.calls.append(name)
            if fail < 0 or self.calls.count(name) <= fail:
                raise (exc or (lambda: TransportError("exchange unreachable")))()
            ctx.stats.update(stats or {})
            return f"{name} done"
        return step

    async def run(self, kind: str, steps: dict[str, Any], **kwargs: Any) -> Any:
        activities = DayActivities(self.env, self.backends, clock=self.clock, steps=steps)
        async with build_worker(self.client, self.env, activities):
            return await run_day_workflow(self.env, kind, client=self.client, retry=FAST, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def harness(temporal_server: Any, make_env: Callable[..., Any]) -> AsyncIterator[Harness]:
    env = make_env(orchestrator={"type": "temporal", "address": temporal_server.address})
    env.orchestrator.task_queue = f"ssmd-{env.name}"
    clock = ManualClock()
    clock.set(NOW)
    backends = await open_backends(env, clock=clock)
    client = await Client.connect(temporal_server.address)
    try:
        yield Harness(env, backends, client, clock)
    finally:
        await backends.close()


async def test_start_retries_a_transient_failure_then_the_day_is_active(harness: Harness) -> None:
    sync = harness.recording("sync_secmaster", fail=2, stats={"markets": 7})
    outcome = await harness.run("start", {"sync_secmaster": sync}, date="2026-03-10")
    assert (outcome.date, outcome.state, outcome.error) == ("2026-03-10", "ACTIVE", None)
    assert harness.calls == ["sync_secmaster"] * 3
    record = await harness.store().record("2026-03-10")
    assert record.state is DayState.ACTIVE
    assert [s.name for s in record.steps] == [n for n, _ in START_STEPS]
    assert all(s.ok for s in record.steps)
    assert record.steps[1].detail == "runs in its own process"  # the real start_connector step
    assert record.stats["markets"] == 7


async def test_a_fatal_step_error_fails_the_day_at_once_naming_the_step(harness: Harness) -> None:
    broken = harness.recording("start_archiver", fail=-1, exc=lambda: StepError("archiver refused to start"))
    outcome = await harness.run("start", {"sync_secmaster": harness.recording("sync_secmaster"),
                                          "start_archiver": broken}, date="2026-03-10")
    assert (outcome.state, outcome.step) == ("FAILED", "start_archiver")
    assert outcome.error == "archiver refused to start"
    assert harness.calls == ["sync_secmaster", "start_archiver"]  # not retried, later steps not run
    record = await harness.store().record("2026-03-10")
    assert (record.state, record.step, record.phase) == (DayState.FAILED, "start_archiver", "start")
    assert [(s.name, s.ok) for s in record.steps][-1] == ("start_archiver", False)


async def test_retries_run_out_then_the_day_is_failed(harness: Harness) -> None:
    flaky = harness.recording("sync_secmaster", fail=-1)
    outcome = await harness.run("start", {"sync_secmaster": flaky}, date="2026-03-10")
    assert (outcome.state, outcome.step, outcome.error) == ("FAILED", "sync_secmaster", "exchange unreachable")
    assert harness.calls == ["sync_secmaster"] * FAST.attempts


async def test_end_completes_and_force_goes_past_a_failed_verification(harness: Harness) -> None:
    steps = {"sync_secmaster": harness.recording("sync_secmaster"),
             "verify_archive": harness.recording("verify_archive", fail=-1,
                                                 exc=lambda: StepError("manifest missing for raw/trade")),
             "compact": harness.recording("compact", stats={"compacted": True})}
    assert (await harness.run("start", steps, date="2026-03-10")).state == "ACTIVE"
    with pytest.raises(SsmdError, match="already ACTIVE"):
        await harness.run("start", steps, date="2026-03-10")

    ended = await harness.run("end", steps)
    assert (ended.state, ended.step, ended.error) == ("FAILED", "verify_archive", "manifest missing for raw/trade")
    assert "compact" not in harness.calls

    forced = await harness.run("end", steps, force=True)
    assert forced.state == "COMPLETE"
    record = await harness.store().record("2026-03-10")
    assert record.state is DayState.COMPLETE and record.end_time is not None
    assert record.stats["compacted"] is True
    assert [s.name for s in record.steps] == [n for n, _ in END_STEPS]


async def test_roll_ends_the_running_day_and_starts_the_current_one(harness: Harness) -> None:
    steps = {name: harness.recording(name) for name in ("sync_secmaster", "verify_archive", "compact")}
    assert (await harness.run("start", steps, date="2026-03-09")).state == "ACTIVE"
    with pytest.raises(SsmdError, match="day 2026-03-09 is ACTIVE; end it first"):
        await harness.run("start", steps, date="2026-03-10")
    rolled = await harness.run("roll", steps)
    assert (rolled.date, rolled.state) == ("2026-03-10", "ACTIVE")
    assert (await harness.store().record("2026-03-09")).state is DayState.COMPLETE
    assert harness.calls == ["sync_secmaster", "verify_archive", "compact", "sync_secmaster"]


async def test_schedules_follow_the_environment_and_the_sync_schedule_runs(harness: Harness) -> None:
    env = harness.env
    env.schedule.timezone, env.schedule.day_start, env.schedule.day_end = "America/New_York", "09:25", "16:05"
    ids = await ensure_schedules(harness.client, env)
    prefix = f"ssmd-{env.name}"
    assert ids == [f"{prefix}-day-end", f"{prefix}-day-start", f"{prefix}-secmaster-sync"]
    start = await harness.client.get_schedule_handle(f"{prefix}-day-start").describe()
    (calendar,) = start.schedule.spec.calendars
    assert ([r.start for r in calendar.hour], [r.start for r in calendar.minute]) == ([9], [25])
    assert start.schedule.spec.time_zone_name == "America/New_York"
    assert start.schedule.action.workflow == "StartTradingDay"  # type: ignore[attr-defined]
    end = await harness.client.get_schedule_handle(f"{prefix}-day-end").describe()
    assert end.schedule.action.workflow == "EndTradingDay"  # type: ignore[attr-defined]

    env.schedule.auto_roll = False
    assert await ensure_schedules(harness.client, env) == [f"{prefix}-day-start", f"{prefix}-secmaster-sync"]
    env.schedule.auto_roll, env.schedule.day_start, env.schedule.day_end = True, "00:00", "00:00"
    assert f"{prefix}-day-roll" in await ensure_schedules(harness.client, env)

    synced: asyncio.Queue[str] = asyncio.Queue()

    async def sync(ctx: DayContext) -> str:
        synced.put_nowait(ctx.date)
        return "3 markets"

    activities = DayActivities(env, harness.backends, clock=harness.clock, steps={"sync_secmaster": sync})
    sync_schedule = harness.client.get_schedule_handle(f"{prefix}-secmaster-sync")
    assert await activities.sync_secmaster() == "skipped: no trading day is running"
    assert synced.empty()
    async with build_worker(harness.client, env, activities):
        await run_day_workflow(env, "start", date="2026-03-10", client=harness.client, retry=FAST)
        assert await asyncio.wait_for(synced.get(), 30) == "2026-03-10"  # the start step
        await sync_schedule.trigger()
        assert await asyncio.wait_for(synced.get(), 30) == "2026-03-10"  # the scheduled sync
    for sid in await ensure_schedules(harness.client, env):
        await harness.client.get_schedule_handle(sid).delete()



async def test_worker_serves_creates_schedules_exports_state_and_stops(harness: Harness) -> None:
    from ssmd.metrics import DAY_STATE, REGISTRY
    from ssmd.orchestration.worker import run_worker

    steps = {"sync_secmaster": harness.recording("sync_secmaster")}
    assert (await harness.run("start", steps, date="2026-03-10")).state == "ACTIVE"
    DAY_STATE.clear()  # forget what the activities set: the worker must export it itself
    stop = asyncio.Event()
    await asyncio.wait_for(run_worker(harness.env, stop, clock=harness.clock, on_ready=stop.set), 60)
    assert REGISTRY.get_sample_value("ssmd_day_state", {"state": "ACTIVE"}) == 1
    assert REGISTRY.get_sample_value("ssmd_day_state", {"state": "STARTING"}) == 0
    prefix = f"ssmd-{harness.env.name}"
    described = await harness.client.get_schedule_handle(f"{prefix}-secmaster-sync").describe()
    assert described.schedule.action.workflow == "SyncSecmaster"  # type: ignore[attr-defined]
    for sid in await ensure_schedules(harness.client, harness.env):
        await harness.client.get_schedule_handle(sid).delete()

