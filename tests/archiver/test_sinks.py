"""The raw sink against storage: what one write covers, and what it leaves for the next."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ssmd.archive.raw import RawLine, compress, read_raw
from ssmd.archiver.sinks import ManifestStore, RawSink
from ssmd.errors import StorageError
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from tests.archiver.helpers import DAY, T0, make_env


class GatedStorage:
    """Local storage whose raw writes wait for ``release`` (or fail while ``broken``)."""

    def __init__(self, root: Path) -> None:
        self.inner = FsspecStorage.local(str(root), attempts=1, fsync=False)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.broken = False

    async def _gate(self, path: str) -> None:
        if path.endswith(".zst"):
            self.entered.set()
            await self.release.wait()
            if self.broken:
                raise StorageError("disk full")

    async def put(self, path: str, data: bytes) -> None:
        await self._gate(path)
        await self.inner.put(path, data)

    async def append(self, path: str, data: bytes, offset: int) -> None:
        await self._gate(path)
        await self.inner.append(path, data, offset)

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


async def test_on_local_storage_a_flush_appends_only_its_frame(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = FsspecStorage.local(str(tmp_path), attempts=1, fsync=False)
    sink, manifests = RawSink(env, storage), ManifestStore(env, storage)
    written = []
    for i in (1, 2, 3):
        sink.add(_line(i), DAY, Delivery(i), 0.0)
        _, nbytes, _ = await sink.write(manifests, T0)
        written.append(nbytes)
    (path,) = [p for p in tmp_path.rglob("*.jsonl.zst")]  # noqa: ASYNC240 - test inspection
    data = path.read_bytes()
    assert sum(written) == len(data)  # each flush wrote its own frame, never the file again
    assert [ln.seq for ln in read_raw(data, path.name)] == [1, 2, 3]
    assert all(not raw.frames for raw in sink.files.values())


async def test_a_torn_last_frame_is_cut_off_before_the_next_file_opens(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = FsspecStorage.local(str(tmp_path), attempts=1, fsync=False)
    sink, manifests = RawSink(env, storage), ManifestStore(env, storage)
    for i in (1, 2):
        sink.add(_line(i), DAY, Delivery(i), 0.0)
        await sink.write(manifests, T0)
    (first,) = [p for p in tmp_path.rglob("*.jsonl.zst")]  # noqa: ASYNC240 - test inspection
    whole = first.read_bytes()
    first.write_bytes(whole + compress(b'{"half": "a frame"}\n')[:9])  # a crash in the middle of an append
    later = RawSink(env, storage)  # the next run
    later.add(_line(3), DAY, Delivery(3), 0.0)
    await later.write(ManifestStore(env, storage), T0)
    assert first.read_bytes() == whole  # cut back to the last whole frame: every file reads
    files = sorted(p.name for p in tmp_path.rglob("*.jsonl.zst"))  # noqa: ASYNC240 - test inspection
    assert files == ["trade-1.jsonl.zst", "trade-2.jsonl.zst"]
    assert [ln.seq for ln in read_raw(first.read_bytes(), first.name)] == [1, 2]
