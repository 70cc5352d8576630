"""``ssmd up --workers 2``: the archiver in its own process archives exactly what the
connector published, also when that process is killed mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ssmd import metrics
from ssmd.catalog import open_catalog_async
from ssmd.config.load import load_environment
from ssmd.middleware.factory import open_backends
from ssmd.middleware.transport.base import StartPosition
from ssmd.runtime.app import Runtime
from ssmd.workers import ArchiverProcess
from tests.cli.test_up import ENV_TEMPLATE, raw_lines, write_env
from tests.servers import free_port
from tests.waiting import until

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, **sections: Any) -> Any:
    storage = {**ENV_TEMPLATE["storage"], "path": str(tmp_path / "data")}
    path = write_env(tmp_path, storage=storage, simulator={**ENV_TEMPLATE["simulator"], "rate": 400, "markets": 6},
                     archiver={"flush_interval_seconds": 0.3}, **sections)
    return load_environment(str(path))


def _counters(runtime: Runtime, name: str) -> dict[str, int]:
    status = runtime.supervisor.component_status(name)
    return dict(status.counters) if status is not None else {}


async def _run(tmp_path: Path, *, kill: bool) -> None:
    env = _env(tmp_path)
    backends = await open_backends(env)

    def archiver(env: Any, backends: Any, clock: Any) -> ArchiverProcess:
        return ArchiverProcess(env, backends, clock=clock, ack_wait=1.0)

    runtime = Runtime(env, backends, mode="up", control=False, metrics=False, workers=2,
                      factories={"archiver": archiver})
    await runtime.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop.wait()))
    try:
        await until(lambda: _counters(runtime, "archiver").get("trade", 0) > 50, 60, "trades archived by the child")
        process = runtime.supervisor.component("archiver")
        assert isinstance(process, ArchiverProcess) and process.pid not in (None, os.getpid())
        if kill:
            first = process.pid
            os.kill(first, signal.SIGKILL)  # type: ignore[arg-type]
            await until(lambda: process.pid != first and _counters(runtime, "archiver").get("trade", 0) > 50, 60,
                        "a new archiver process taking trades")
        else:
            taken = _counters(runtime, "archiver").get("trade", 0)
            await until(lambda: _counters(runtime, "archiver").get("trade", 0) > taken + 50, 30, "more trades")
    finally:
        stop.set()
        await task
    raw_published = await _stored(backends, f"{env.name}.{env.feed}.raw.>")
    trades_published = await _stored(backends, f"{env.name}.{env.feed}.trade.>")
    catalog = await open_catalog_async(env, backends=backends)
    try:
        ids = [r["trade_id"] for r in catalog.query("SELECT trade_id FROM trades").to_pylist()]
    finally:
        catalog.close()
    await backends.close()
    assert [i for i, n in Counter(ids).items() if n > 1] == []  # nothing twice
    assert len(ids) == trades_published > 50  # nothing lost
    keys = [(line.conn, line.received_at) for line in raw_lines(tmp_path / "data", env.name)]
    assert len(keys) == len(set(keys)) == raw_published


async def _stored(backends: Any, subject: str) -> int:
    """How many messages the bus holds on ``subject``."""
    sub = await backends.transport.subscribe(subject, start=StartPosition.beginning())
    n = 0
    try:
        while True:
            await sub.next(timeout=0.2)
            n += 1
    except TimeoutError:
        return n
    finally:
        await sub.close()


async def test_archiver_in_its_own_process_archives_exactly_what_was_published(tmp_path: Path) -> None:
    await _run(tmp_path, kill=False)


async def test_a_killed_archiver_process_is_restarted_and_loses_nothing(tmp_path: Path) -> None:
    await _run(tmp_path, kill=True)


async def test_the_archiver_process_metrics_are_on_the_parents_metrics_endpoint(tmp_path: Path) -> None:
    env = _env(tmp_path, metrics={"host": "127.0.0.1", "port": free_port()})
    backends = await open_backends(env)
    runtime = Runtime(env, backends, mode="up", control=False, workers=2)
    await runtime.prepare()
    assert runtime.metrics is not None
    url = runtime.metrics.url
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop.wait()))
    try:
        await until(lambda: _counters(runtime, "archiver").get("trade", 0) > 50, 60, "trades archived by the child")
        archived = _counters(runtime, "archiver")["trade"]
        scraped: dict[str, Any] = {}

        async def written() -> float:
            text = await asyncio.to_thread(_scrape, url)
            families = list(text_string_to_metric_families(text))
            names = [f.name for f in families]
            assert [n for n, k in Counter(names).items() if k > 1] == []  # each family once: a valid exposition
            scraped.update({f.name: f for f in families})
            return sum(s.value for s in scraped["ssmd_archiver_records_written"].samples
                       if s.name.endswith("_total") and s.labels == {"type": "trade"})

        deadline = asyncio.get_running_loop().time() + 30
        while await written() < archived:  # the child reports every second
            assert asyncio.get_running_loop().time() < deadline, "the child's trade count never reached /metrics"
            await asyncio.sleep(0.2)
        assert "ssmd_archiver_lag_seconds" in scraped and "ssmd_archiver_flush_seconds" in scraped
        assert any(s.value > 0 for s in scraped["ssmd_archiver_bytes_written"].samples if s.name.endswith("_total"))
        assert "ssmd_connector_messages_received" in scraped  # the parent's own metrics stay
    finally:
        stop.set()
        await task
        await backends.close()
    own = {f.name for f in metrics.REGISTRY.collect()}  # the parent's objects are back once the child is gone
    assert {"ssmd_archiver_records_written", "ssmd_archiver_lag_seconds"} <= own


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()
