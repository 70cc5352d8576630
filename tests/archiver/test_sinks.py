"""The raw sink against storage: what one write covers, and what it leaves for the next."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ssmd.archiver.raw import RawLine, read_raw
from ssmd.archiver.sinks import ManifestStore, RawSink
from ssmd.errors import StorageError
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from tests.archiver.helpers import DAY, T0, make_env


class GatedStorage:
    """Local storage whose raw puts wait for ``release`` (or fail while ``broken``)."""

    def __init__(self, root: Path) -> None:
        self.inner = FsspecStorage.local(str(root), attempts=1, fsync=False)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.broken = False

    async def put(self, path: str, data: bytes) -> None:
        if path.endswith(".zst"):
            self.entered.set()
            await self.release.wait()
            if self.broken:
                raise StorageError("disk full")
        await self.inner.put(path, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Delivery:
    def __init__(self, seq: int) -> None:
        self.seq = seq


def _line(i: int) -> RawLine:
    return RawLine(T0 + i, "c1", "trade", "trade", 1, i, f'{{"n":{i}}}')


async def test_lines_added_during_a_write_wait_for_the_next_one(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = GatedStorage(tmp_path)
    sink, manifests = RawSink(env, storage), ManifestStore(env, storage)
    for i in (1, 2):
        sink.add(_line(i), DAY, Delivery(i), 0.0)
    write = asyncio.create_task(sink.write(manifests, T0))
    await storage.entered.wait()
    sink.add(_line(3), DAY, Delivery(3), 1.0)  # arrives while the file is being written
    storage.release.set()
    files, _, acks = await write
    assert files == 1 and [d.seq for d in acks] == [1, 2]
    assert sink.pending == 1 and sink.seqs == {3} and sink.oldest == 1.0
    (path,) = [p for p in tmp_path.rglob("*.jsonl.zst")]  # noqa: ASYNC240 - test inspection
    assert [ln.seq for ln in read_raw(path.read_bytes(), path.name)] == [1, 2]
    files, _, acks = await sink.write(manifests, T0)
    assert [d.seq for d in acks] == [3] and sink.pending == 0
    assert [ln.seq for ln in read_raw(path.read_bytes(), path.name)] == [1, 2, 3]
    assert manifests.days[DAY].files[0].records == 3


async def test_a_failed_write_keeps_everything_for_the_retry(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = GatedStorage(tmp_path)
    storage.broken = True
    storage.release.set()
    sink, manifests = RawSink(env, storage), ManifestStore(env, storage)
    sink.add(_line(1), DAY, Delivery(1), 5.0)
    with pytest.raises(StorageError):
        await sink.write(manifests, T0)
    sink.add(_line(2), DAY, Delivery(2), 6.0)
    assert sink.pending == 2 and sink.seqs == {1, 2} and sink.oldest == 5.0
    storage.broken = False
    files, _, acks = await sink.write(manifests, T0)
    assert files == 1 and [d.seq for d in acks] == [1, 2] and sink.pending == 0
