"""Chaos: a silent freeze under the whole of ``ssmd up`` (simulator, connector, archiver,
healer, in this process): detected per channel, reconnected, the gap recorded and healed
from REST, so every trade the exchange made is archived exactly once.

A freeze that outlives the reconnect is caught too: the channel's doubled patience lets it
pass without a second reconnect, and the silence is recorded as a gap when data resumes.
"""

from __future__ import annotations

import asyncio
import time

from chaos_common import ChaosResult, Scenario
from chaos_exchange import _record, _run, until

from ssmd.middleware.factory import open_backends
from ssmd.middleware.transport.base import StartPosition


async def _healed_freeze() -> ChaosResult:
    """The whole of ``ssmd up`` in this process (simulator, connector, archiver, healer...):
    a silent freeze, then every trade the exchange made is in the archive exactly once."""
    import tempfile
    from collections import Counter
    from pathlib import Path

    import yaml

    from ssmd.catalog import open_catalog_async
    from ssmd.config.load import load_environment
    from ssmd.runtime.app import Runtime

    with tempfile.TemporaryDirectory() as tmp:
        raw = {
            "name": "chaos-freeze", "feed": "kalshi", "schema": "trade:v1,ticker:v1,orderbook:v1,lifecycle:v1",
            "schedule": {"timezone": "UTC", "day_start": "00:00", "day_end": "00:00", "auto_roll": True},
            "transport": {"type": "memory"}, "cache": {"type": "local"}, "journal": {"type": "file"},
            "storage": {"type": "local", "path": f"{tmp}/data", "buckets": {"raw": "raw", "normalized": "normalized"}},
            "gateway": {"port": 0}, "metrics": {"port": 0}, "control": {"port": 0},
            "subscriptions": {"channels": ["ticker", "trade", "market_lifecycle_v2"], "markets": "all"},
            "simulator": {"enabled": True, "seed": 7, "markets": 8, "rate": 300},
            "archiver": {"flush_interval_seconds": 0.3},
            "healer": {"settle_seconds": 1.0, "margin_seconds": 1.0, "lookback_seconds": 5.0},
            "connector": {"freeze_floor_seconds": 1.0, "freeze_factor": 10.0, "freeze_cap_seconds": 120.0,
                          "freeze_min_observations": 5, "freeze_sample_seconds": 0.05},
        }
        path = Path(tmp) / "chaos-freeze.yaml"
        path.write_text(yaml.safe_dump(raw))
        env = load_environment(str(path))
        backends = await open_backends(env)
        runtime = Runtime(env, backends, mode="up", control=False, metrics=False)
        await runtime.prepare()
        sim = runtime.simulator
        assert sim is not None

        def counter(component: str, key: str) -> int:
            status = runtime.supervisor.component_status(component)
            return status.counters.get(key, 0) if status is not None else 0

        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop.wait()))
        try:
            await until(lambda: counter("connector", "trade") > 60, 60, "live trades")
            sim.freeze(3.0)  # the exchange keeps trading; the connector hears pings only
            start, frozen_ns = time.monotonic(), time.time_ns()
            def open_gaps() -> int:
                status = runtime.supervisor.component_status("connector")
                return int(status.details["gaps"]["open"]) if status is not None else 1

            def healed() -> bool:
                seen = counter("healer", "gaps_seen")
                return not sim.is_frozen() and seen >= 1 and counter("healer", "healed") + counter(
                    "healer", "failed") >= seen and open_gaps() == 0

            await until(healed, 90, "every gap of the freeze healed")
            healed_after = time.monotonic() - start
            truth = sim.trades()
            seen = counter("connector", "trade")
            await until(lambda: counter("connector", "trade") > seen + 20, 30, "live trades past the truth")
            status = runtime.supervisor.component_status("connector")
            gaps = [g for g in (status.details["gaps"]["recent"] if status else []) if g["channel"] == "trade"]
            healer = runtime.supervisor.component_status("healer")
        finally:
            stop.set()
            await task
        failed = counter("healer", "failed")
        sub = await backends.transport.subscribe("chaos-freeze.kalshi.trade.>", start=StartPosition.beginning())
        live: set[str] = set()
        try:
            while True:
                live.add(_record((await sub.next(timeout=0.2)).data).trade_id)
        except TimeoutError:
            pass
        finally:
            await sub.close()
        catalog = await open_catalog_async(env, backends=backends)
        try:
            rows = catalog.query("SELECT trade_id, source, epoch_ns(ts) AS ts FROM trades").to_pylist()
        finally:
            catalog.close()
        await backends.close()
    # from just after the first live trade: a trade made in the millisecond its subscription
    # was being set up on the exchange is a startup question, not the freeze's
    first = min(r["ts"] for r in rows if r["source"] == "ws") + 50_000_000
    expected = {t.trade_id for t in truth if t.created_ns >= first}
    counts = Counter(r["trade_id"] for r in rows)
    twice = sum(1 for n in counts.values() if n > 1)
    lost_ids = expected - set(counts)
    lost = sorted(t.created_ns for t in truth if t.trade_id in lost_ids)
    lost_live = len(lost_ids & live)
    missing = len(lost)
    rest = sum(1 for r in rows if r["source"] == "rest" and r["trade_id"] in expected)
    held = twice == 0 and missing == 0 and rest > 0 and failed == 0
    return ChaosResult("silent freeze 3 s under `ssmd up`: detected, healed",
                       f"{missing} of {len(expected)} trades missing, {twice} twice; {rest} filled from REST; "
                       f"healed {healed_after:.1f} s after the freeze began",
                       "every trade the exchange made archived exactly once", held,
                       f"{lost_live} of the missing were published live by the connector; "
                       f"missing from {(lost[0] - frozen_ns) / 1e9 if lost else 0:.2f} s to "
                       f"{(lost[-1] - frozen_ns) / 1e9 if lost else 0:.2f} s after the freeze; trade gaps "
                       + "; ".join(f"{g['kind']} {(g['start_ns'] - frozen_ns) / 1e9:.2f}.."
                                   f"{((g['end_ns'] or 0) - frozen_ns) / 1e9:.2f} s {g.get('cause', '')[:40]}"
                                   for g in gaps)
                       + f"; healer {healer.counters if healer else None}")


def scenarios(quick: bool) -> list[Scenario]:
    return [Scenario("exchange: silent freeze healed under ssmd up", _run(_healed_freeze), slow=True)]
