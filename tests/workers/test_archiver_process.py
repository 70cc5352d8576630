"""``ssmd up --workers 2``: the archiver in its own process archives exactly what the
connector published, also when that process is killed mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ssmd.catalog import open_catalog_async
from ssmd.config.load import load_environment
from ssmd.middleware.factory import open_backends
from ssmd.middleware.transport.base import StartPosition
from ssmd.runtime.app import Runtime
from ssmd.workers import ArchiverProcess
from tests.cli.test_up import ENV_TEMPLATE, raw_lines, write_env
from tests.waiting import until

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> Any:
    storage = {**ENV_TEMPLATE["storage"], "path": str(tmp_path / "data")}
    path = write_env(tmp_path, storage=storage, simulator={**ENV_TEMPLATE["simulator"], "rate": 400, "markets": 6},
                     archiver={"flush_interval_seconds": 0.3})
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
