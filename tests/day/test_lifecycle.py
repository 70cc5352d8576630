"""Day start/end/roll/recover with fake components on the real embedded backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ssmd.clock import ManualClock
from ssmd.day.lifecycle import DayManager
from ssmd.day.state import DayState
from ssmd.day.steps import END_STEPS, DayContext, verify_archive
from ssmd.day.store import DayStore
from ssmd.errors import SsmdError
from ssmd.middleware.factory import open_backends
from ssmd.subjects import cache_key
from tests.day.fakes import FakeComponent, FakeHost, FakeSecmaster

DATE = "2026-07-19"


@pytest.fixture
async def backends(make_env: Callable[..., Any]) -> AsyncIterator[Any]:
    opened = await open_backends(make_env())
    yield opened
    await opened.close()


def host(**overrides: Any) -> FakeHost:
    parts: dict[str, Any] = {"secmaster": FakeSecmaster(), "connector": FakeComponent("connector"),
                             "archiver": FakeComponent("archiver"), "gateway": FakeComponent("gateway")}
    parts.update(overrides)
    return FakeHost(**parts)


async def no_archive_check(ctx: DayContext) -> str:
    ctx.stats["raw_records"] = 7
    return "7 raw frames"


def manager(backends: Any, fake: FakeHost, **kw: Any) -> DayManager:
    steps = [(n, f) for n, f in END_STEPS if n not in ("verify_archive", "compact")]
    kw.setdefault("end_steps", [*steps, ("verify_archive", no_archive_check)])
    return DayManager(backends.env, backends, host=fake, clock=ManualClock(), health_timeout=2.0, **kw)


async def test_start_runs_every_step_in_order_and_records_the_day(backends: Any) -> None:
    fake = host()
    day = await manager(backends, fake).start(DATE)
    assert day.state is DayState.ACTIVE
    assert [s.name for s in day.steps] == ["sync_secmaster", "start_connector", "start_archiver", "start_gateway",
                                           "health_check"]
    assert all(s.ok for s in day.steps)
    assert day.steps[0].detail == "20 markets (20 new, 0 updated)"
    assert fake.log == ["start connector", "start archiver", "start gateway"]
    env = backends.env.name
    assert await backends.cache.get(cache_key(env, "day", "current")) == DATE
    assert await backends.cache.get(cache_key(env, "day", DATE, "state")) == "ACTIVE"
    assert await backends.cache.get(cache_key(env, "day", DATE, "start_time")) == str(day.start_time)
    await fake.close()


@pytest.mark.parametrize("failing", ["sync_secmaster", "health_check"])
async def test_a_failing_start_step_leaves_the_day_failed_with_the_step_named(backends: Any, failing: str) -> None:
    if failing == "sync_secmaster":
        fake = host(secmaster=FakeSecmaster(fail="exchange unreachable"))
    else:
        fake = host(connector=FakeComponent("connector", fail_with=ConnectionError("refused")))
    day = await manager(backends, fake).start(DATE)
    assert day.state is DayState.FAILED
    assert day.step == failing
    assert day.steps[-1].name == failing and not day.steps[-1].ok
    assert ("exchange unreachable" if failing == "sync_secmaster" else "connector failed") in (day.error or "")
    if failing == "sync_secmaster":
        assert fake.log == []  # nothing after the failing step ran
    await fake.close()


async def test_end_drains_flushes_stops_then_completes(backends: Any) -> None:
    fake = host()
    mgr = manager(backends, fake)
    await mgr.start(DATE)
    day = await mgr.end()
    assert day.state is DayState.COMPLETE
    assert [s.name for s in day.steps] == ["drain_gateway", "flush_archiver", "stop_connector", "verify_archive"]
    assert fake.components["gateway"].drains == 1
    assert fake.components["archiver"].flushes == 2  # the flush step, then after the connector stopped
    assert fake.log[-1] == "stop connector"
    assert day.stats["raw_records"] == 7 and day.end_time is not None
    with pytest.raises(SsmdError, match="only an ACTIVE or ERROR day can end"):
        await mgr.end()
    await fake.close()


async def test_a_damaged_archive_fails_verify_unless_forced(backends: Any) -> None:
    from ssmd.archive.layout import Layout, raw_day_prefix

    fake = host()
    mgr = DayManager(backends.env, backends, host=fake, clock=ManualClock(), health_timeout=2.0)
    await mgr.start(DATE)
    await backends.storage.put(f"{raw_day_prefix(Layout.of(backends.env), DATE)}/trade-1.jsonl.zst", b"not zstd")
    day = await mgr.end()
    assert (day.state, day.step, day.phase) == (DayState.FAILED, "verify_archive", "end")
    assert "trade-1.jsonl.zst" in (day.error or "")
    with pytest.raises(SsmdError, match="recover"):
        await mgr.start(DATE)  # a failed end is not restarted by start
    forced = await mgr.end(force=True)
    assert forced.state is DayState.COMPLETE
    assert "forced past" in next(s.detail for s in forced.steps if s.name == "verify_archive")
    await fake.close()


async def test_error_while_active_then_recover_restarts_components(backends: Any) -> None:
    fake = host()
    mgr = manager(backends, fake)
    await mgr.start(DATE)
    await fake.stop("connector")
    errored = await mgr.mark_error("connector", "connector failed: socket closed")
    assert errored is not None and errored.state is DayState.ERROR and errored.step == "connector"
    recovered = await mgr.recover()
    assert recovered.state is DayState.ACTIVE
    assert fake.components["connector"].runs == 2
    assert [s.name for s in recovered.steps][-1] == "health_check"
    await fake.close()


async def test_recover_of_a_failed_start_reruns_the_start(backends: Any) -> None:
    secmaster = FakeSecmaster(fail="exchange unreachable")
    fake = host(secmaster=secmaster)
    mgr = manager(backends, fake)
    assert (await mgr.start(DATE)).state is DayState.FAILED
    secmaster.fail = None
    day = await mgr.recover()
    assert day.state is DayState.ACTIVE and secmaster.syncs == 2
    await fake.close()


async def test_history_is_rebuilt_from_the_journal_by_another_reader(backends: Any) -> None:
    fake = host()
    clock = ManualClock()
    mgr = DayManager(backends.env, backends, host=fake, clock=clock, health_timeout=2.0,
                     end_steps=[("verify_archive", no_archive_check)])
    await mgr.start("2026-07-18")
    clock.advance(60)
    await mgr.end()
    await mgr.start("2026-07-19")
    other = DayStore(backends.env.name, backends.cache, backends.journal)
    days = await other.history()
    assert [(d.date, d.state) for d in days] == [("2026-07-19", DayState.ACTIVE), ("2026-07-18", DayState.COMPLETE)]
    assert days[1].end_time is not None and days[1].end_time - days[1].start_time == 60_000_000_000
    assert [d.date for d in await other.history(limit=1)] == ["2026-07-19"]
    await fake.close()


async def test_only_one_day_runs_at_a_time_and_roll_moves_to_today(backends: Any) -> None:
    fake = host()
    mgr = manager(backends, fake)
    await mgr.start("2026-07-18")
    with pytest.raises(SsmdError, match="day 2026-07-18 is ACTIVE; end it first"):
        await mgr.start("2026-07-19")
    rolled = await mgr.roll()
    assert rolled.date == mgr.today() and rolled.state is DayState.ACTIVE
    assert (await mgr.store.record("2026-07-18")).state is DayState.COMPLETE
    await fake.close()


async def test_resume_after_a_crash_mid_start_fails_then_reruns_the_phase(backends: Any) -> None:
    from ssmd.day.state import transition

    store = DayStore(backends.env.name, backends.cache, backends.journal)
    from ssmd.day.state import DayRecord

    await store.commit(transition(DayRecord(date=DATE), DayState.STARTING, now_ns=1, phase="start"))
    fake = host()
    day = await manager(backends, fake).resume()
    assert day is not None and day.state is DayState.ACTIVE
    history = [e async for e in backends.journal.read(store.topic)]
    states = [e.data.get("to_state") for e in history if e.data["kind"] == "transition"]
    assert states == ["STARTING", "FAILED", "STARTING", "ACTIVE"]
    failed = next(e.data for e in history if e.data.get("to_state") == "FAILED")
    assert failed["step"] == "interrupted"
    await fake.close()


async def test_verify_step_reports_archive_counts(backends: Any) -> None:
    ctx = DayContext(env=backends.env, backends=backends, date=DATE)
    detail = await verify_archive(ctx)
    assert detail.startswith("0 raw frames, 0 records, 0 gaps")
    assert ctx.stats["raw_records"] == 0 and ctx.stats["archive"] == "complete"
