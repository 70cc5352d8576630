"""``ssmd up`` through an outage and a lost seq: every trade the exchange made is archived once.

The whole pipeline of ``ssmd up`` (mode ``up``: simulator, secmaster, connector, archiver,
gateway, healer, day scheduler) runs in this process so the test can break the exchange
and read its tape, which is the truth: every trade it generated, sent or not.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ssmd.archive import layout
from ssmd.archive import manifest as mf
from ssmd.catalog import open_catalog_async
from ssmd.config.load import load_environment
from ssmd.middleware.factory import open_backends
from ssmd.runtime.app import Runtime
from tests.cli.test_up import ENV_TEMPLATE, write_env
from tests.waiting import until

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> Any:
    storage = {**ENV_TEMPLATE["storage"], "path": str(tmp_path / "data")}
    path = write_env(tmp_path, storage=storage, simulator={**ENV_TEMPLATE["simulator"], "rate": 300, "markets": 8},
                     archiver={"flush_interval_seconds": 0.3},
                     healer={"settle_seconds": 1.0, "margin_seconds": 1.0, "lookback_seconds": 5.0})
    return load_environment(str(path))


def _counter(runtime: Runtime, component: str, key: str) -> int:
    status = runtime.supervisor.component_status(component)
    return status.counters.get(key, 0) if status is not None else 0


async def test_up_heals_an_outage_and_a_seq_hole_so_every_trade_is_archived_once(tmp_path: Path) -> None:
    env = _env(tmp_path)
    backends = await open_backends(env)
    runtime = Runtime(env, backends, mode="up", control=False, metrics=False)
    await runtime.prepare()
    sim = runtime.simulator
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop.wait()))
    try:
        await until(lambda: _counter(runtime, "connector", "trade") > 40, 30, "live trades")
        await sim.outage(2.0)  # the exchange keeps trading while the connector is out
        await until(lambda: not sim.in_outage() and _counter(runtime, "connector", "trade") > 0, 30, "the outage")
        before = _counter(runtime, "connector", "trade")
        await until(lambda: _counter(runtime, "connector", "trade") > before + 20, 30, "trades after reconnecting")
        sim.skip_seq("trade", 4)  # four trade frames never sent
        await until(lambda: _counter(runtime, "healer", "healed") >= 2, 60, "both trade gaps healed")
        truth = sim.trades()
        seen = _counter(runtime, "connector", "trade")
        await until(lambda: _counter(runtime, "connector", "trade") > seen + 10, 30, "live trades past the truth")
    finally:
        stop.set()
        await task
    assert _counter(runtime, "healer", "failed") == 0

    catalog = await open_catalog_async(env, backends=backends)
    try:
        rows = catalog.query("SELECT trade_id, ticker, price, size, side, source, epoch_ns(ts) AS ts FROM trades"
                             ).to_pylist()
        coverage = catalog.query("SELECT ticker, hour, status, ws_trades, rest_trades FROM coverage").to_pylist()
    finally:
        catalog.close()
    first = min(r["ts"] for r in rows)  # heal windows may reach before the first live trade
    expected = {t.trade_id: t for t in truth if t.created_ns >= first}
    counts = Counter(r["trade_id"] for r in rows)
    assert [i for i, n in counts.items() if n > 1] == []  # nothing twice
    assert sorted(set(expected) - set(counts)) == []  # nothing missing
    by_id = {r["trade_id"]: r for r in rows}
    for trade_id, t in expected.items():
        row = by_id[trade_id]
        assert (row["ticker"], row["price"], row["size"], row["side"]) == (
            t.ticker, Decimal(t.yes_price) / 10_000, Decimal(t.count) / 100, t.taker_side), trade_id
    sources = Counter(r["source"] for r in rows if r["trade_id"] in expected)
    assert sources["rest"] >= 4 and sources["ws"] > 80, sources

    manifest = mf.decode(await backends.storage.get(layout.manifest_path(layout.Layout.of(env), _day(runtime))))
    trade_gaps = [g for g in manifest.gaps if g.channel == "trade"]
    assert {g.kind for g in trade_gaps} == {"outage", "seq"}, trade_gaps
    assert all(g.healed is not None and g.healed.status == "healed" for g in trade_gaps), trade_gaps
    assert sum(g.healed.recovered for g in trade_gaps if g.healed) == sources["rest"]
    assert manifest.completeness == "healed"
    statuses = Counter(c["status"] for c in coverage)
    assert statuses["healed"] >= 1 and set(statuses) <= {"healed", "present"}, statuses
    healed_rest = sum(c["rest_trades"] for c in coverage)
    assert healed_rest == sources["rest"]
    await backends.close()


def _day(runtime: Runtime) -> str:
    day = runtime.manager.store.latest
    assert day is not None
    return day.date
