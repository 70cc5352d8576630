"""The embedded backends as ``ssmd up`` and side commands use them: shared by processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ssmd.middleware.cache.local import LocalCache
from ssmd.middleware.factory import Backends, data_path, open_backends
from ssmd.middleware.journal.file import FileJournal
from ssmd.middleware.transport.base import StartPosition

_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from ssmd.middleware.cache.local import LocalCache
    from ssmd.middleware.journal.file import FileJournal

    async def main(path, root, n):
        cache = LocalCache(path)
        journal = FileJournal(root, segment_entries=7)
        for i in range(n):
            await cache.sadd("e:s", f"{sys.argv[4]}-{i}")
            await cache.hset("e:h", {f"{sys.argv[4]}-{i}": "1"})
            await journal.append("e.audit", {"w": sys.argv[4], "i": i})
        await cache.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _run_workers(tmp_path: Path, n: int, count: int) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / "cache.sqlite"), str(tmp_path / "journal"),
                          str(count), f"w{w}"])
        for w in range(n)
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0


async def test_local_cache_and_file_journal_are_safe_for_several_processes(tmp_path: Path) -> None:
    _run_workers(tmp_path, 3, 40)
    cache = LocalCache(tmp_path / "cache.sqlite")
    assert len(await cache.smembers("e:s")) == 120
    assert len(await cache.hgetall("e:h")) == 120
    await cache.close()
    journal = FileJournal(tmp_path / "journal")
    entries = [e async for e in journal.read("e.audit")]
    assert [e.seq for e in entries] == list(range(1, 121))
    for w in range(3):
        assert [e.data["i"] for e in entries if e.data["w"] == f"w{w}"] == list(range(40))


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


async def test_file_journal_drops_a_line_cut_short_by_a_crash(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path)
    await journal.append("e.day.events", {"state": "STARTING"})
    segment = next((tmp_path / "e.day.events").glob("*.jsonl"))
    _append_bytes(segment, b'{"seq":2,"ts":1,"data":{"sta')
    assert await journal.last_seq("e.day.events") == 1
    assert await journal.append("e.day.events", {"state": "ACTIVE"}) == 2
    assert [e.data["state"] async for e in journal.read("e.day.events")] == ["STARTING", "ACTIVE"]


async def test_open_backends_embedded(make_env: Any, tmp_path: Path) -> None:
    env = make_env()
    backends = await open_backends(env)
    assert isinstance(backends, Backends)
    assert data_path(env) == tmp_path / "data"
    assert (tmp_path / "data" / "raw").is_dir() and (tmp_path / "data" / "normalized").is_dir()
    seq = await backends.transport.publish(f"{env.name}.kalshi.trade.A", b"x")
    sub = await backends.transport.subscribe(f"{env.name}.>", start=StartPosition.at_seq(seq))
    assert (await sub.next(timeout=5)).data == b"x"
    await backends.storage.put("raw/k", b"v")
    assert (tmp_path / "data" / "raw" / "k").read_bytes() == b"v"
    await backends.cache.set(f"{env.name}:day:current", "2026-07-19")
    assert await backends.journal.append(f"{env.name}.day.events", {"s": 1}) == 1
    await backends.close()
    # A second process-like opening sees the same cache and journal.
    again = await open_backends(env)
    assert await again.cache.get(f"{env.name}:day:current") == "2026-07-19"
    assert await again.journal.last_seq(f"{env.name}.day.events") == 1
    assert not again.cache.degraded
    await again.close()


async def test_data_path_is_none_for_remote_storage(make_env: Any) -> None:
    assert data_path(make_env(storage="memory")) is None


async def test_kalshi_local_keeps_everything_under_the_data_dir(tmp_data_dir: Path) -> None:
    from ssmd.config.load import load_environment

    env = load_environment("kalshi-local")
    assert data_path(env) == tmp_data_dir
    backends = await open_backends(env)
    await backends.cache.set("kalshi-local:day:current", "2026-07-19")
    await backends.journal.append("kalshi-local.day.events", {"state": "PENDING"})
    await backends.storage.put("raw/kalshi-local/x", b"1")
    await backends.close()
    names = set(os.listdir(tmp_data_dir))
    assert {"cache.sqlite", "journal", "normalized", "raw"} <= names
    assert all(n.startswith(("cache.sqlite", "journal", "normalized", "raw")) for n in names)


async def test_local_delete_leaves_no_empty_folders(tmp_path: Path) -> None:
    from ssmd.middleware.storage.fsspec_store import FsspecStorage

    storage = FsspecStorage.local(tmp_path)
    await storage.create_bucket("raw")
    await storage.put("raw/e/kalshi/2026/07/19/trade-1.jsonl.zst", b"x")
    await storage.delete("raw/e/kalshi/2026/07/19/trade-1.jsonl.zst")
    assert os.listdir(tmp_path / "raw") == []
