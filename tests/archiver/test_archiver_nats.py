"""The archiver on NATS JetStream: durable consumers, acks after the write, restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ssmd.archiver import Archiver
from ssmd.middleware.factory import open_backends
from tests.archiver.helpers import DAY, consumed, publish, running, sample_records, until


@pytest.mark.slow
async def test_archiver_on_jetstream_acks_after_write_and_resumes(nats_server: Any, make_env: Any,
                                                                   tmp_path: Path) -> None:
    env = make_env(transport="nats", nats_url=nats_server.url, cache="memory", journal="memory",
                   archiver={"flush_interval_seconds": 0.05})
    backends = await open_backends(env)
    try:
        first, second = sample_records(n=2), sample_records(ticker="KXB", n=2)
        await publish(env, backends.transport, first)
        archiver = Archiver(env, backends, ack_wait=2.0)
        async with running(archiver):
            await until(lambda: consumed(archiver) == len(first) and archiver.buffered == 0, timeout=20)
        await publish(env, backends.transport, second, start=100)
        again = Archiver(env, backends, ack_wait=2.0)  # resumes after what the first one acked
        async with running(again):
            await until(lambda: consumed(again) == len(second) and again.buffered == 0, timeout=20)
        assert again.status().details["duplicates_skipped"] == 0
        folder = tmp_path / "data/normalized" / env.name / "kalshi/v1/trade" / f"date={DAY}"
        ids = sorted(r["trade_id"] for f in folder.glob("*.parquet") for r in pq.read_table(f).to_pylist())
        assert ids == sorted(r.trade_id for r in first + second if r.TYPE == "trade")
    finally:
        await backends.close()
