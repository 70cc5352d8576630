"""One contract for every storage: memory://, local folders and S3 (moto over HTTP)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ssmd.archive import duck
from ssmd.errors import NotFoundError, StorageError
from ssmd.middleware.storage.fsspec_store import FsspecStorage


@pytest.fixture(params=["memory", "local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[FsspecStorage, str]]:
    """(storage, a fresh bucket)."""
    if request.param == "memory":
        storage = FsspecStorage.memory()
    elif request.param == "local":
        storage = FsspecStorage.local(tmp_path / "data")
    else:
        storage = FsspecStorage.s3(request.getfixturevalue("s3_server").url)
    bucket = f"b{uuid.uuid4().hex[:10]}"
    await storage.create_bucket(bucket)
    yield storage, bucket


async def test_put_get_head_exists(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    path = f"{bucket}/env/kalshi/2026/07/19/trade-1.jsonl.zst"
    assert not await storage.exists(path)
    await storage.put(path, b"hello world")
    assert await storage.get(path) == b"hello world"
    assert await storage.exists(path)
    info = await storage.head(path)
    assert (info.path, info.size) == (path, 11)
    assert info.modified is not None and info.modified > 0
    await storage.put(path, b"replaced")
    assert await storage.get(path) == b"replaced"


async def test_get_range(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    await storage.put(f"{bucket}/k", bytes(range(100)))
    assert await storage.get_range(f"{bucket}/k", 10, 20) == bytes(range(10, 20))


async def test_put_file_streams_a_large_file(store: tuple[FsspecStorage, str], tmp_path: Path) -> None:
    storage, bucket = store
    local = tmp_path / "big.bin"
    payload = uuid.uuid4().bytes * (6 * 1024 * 1024 // 16 + 1)
    local.write_bytes(payload)
    await storage.put_file(f"{bucket}/v1/trade/date=2026-07-19/part-0.parquet", local)
    assert await storage.get(f"{bucket}/v1/trade/date=2026-07-19/part-0.parquet") == payload


async def test_append_writes_at_the_committed_size_and_replaces_a_torn_tail(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    path = f"{bucket}/env/kalshi/2026/07/19/trade-1.jsonl.zst"
    await storage.append(path, b"first;", 0)  # creates it
    await storage.append(path, b"second;", 6)
    assert await storage.get(path) == b"first;second;"
    await storage.append(path, b"third", 13)
    await storage.append(path, b"THIRD", 13)  # a retried write at the same size: replaces, never doubles
    assert await storage.get(path) == b"first;second;THIRD"
    assert storage.appends is (storage.kind == "local")


async def test_append_beyond_the_end_names_the_object(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    path = f"{bucket}/raw/trade-2.jsonl.zst"
    await storage.put(path, b"abc")
    with pytest.raises(StorageError, match=r"trade-2\.jsonl\.zst: it holds 3 bytes, 10 were written") as info:
        await storage.append(path, b"more", 10)
    assert not info.value.retryable
    assert await storage.get(path) == b"abc"  # nothing changed


async def test_list_by_prefix_is_recursive_and_sorted(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    for key in ("e/kalshi/2026/07/20/b", "e/kalshi/2026/07/19/a", "e/kalshi/2026/07/19/c", "other/x"):
        await storage.put(f"{bucket}/{key}", b"12")
    listed = await storage.list(f"{bucket}/e/kalshi/")
    assert [o.path for o in listed] == [f"{bucket}/e/kalshi/2026/07/19/a", f"{bucket}/e/kalshi/2026/07/19/c",
                                        f"{bucket}/e/kalshi/2026/07/20/b"]
    assert all(o.size == 2 for o in listed)
    assert [o.path for o in await storage.list(f"{bucket}/e/kalshi/2026/07/2")] == [f"{bucket}/e/kalshi/2026/07/20/b"]
    assert await storage.list(f"{bucket}/nothing/") == []
    assert len(await storage.list(f"{bucket}/")) == 4


async def test_delete_and_missing_objects(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    await storage.put(f"{bucket}/gone", b"x")
    await storage.delete(f"{bucket}/gone")
    await storage.delete(f"{bucket}/gone")
    assert not await storage.exists(f"{bucket}/gone")
    await storage.put(f"{bucket}/a/b/c/deep", b"x")
    await storage.put(f"{bucket}/a/kept", b"x")
    await storage.delete(f"{bucket}/a/b/c/deep")
    assert [o.path for o in await storage.list(f"{bucket}/")] == [f"{bucket}/a/kept"]
    await storage.create_bucket(bucket)
    with pytest.raises(NotFoundError, match=f"{bucket}/gone"):
        await storage.get(f"{bucket}/gone")
    with pytest.raises(StorageError, match="no object"):
        await storage.head(f"{bucket}/gone")


async def test_create_bucket_is_idempotent(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    await storage.create_bucket(bucket)
    await storage.put(f"{bucket}/k", b"v")
    await storage.create_bucket(bucket)
    assert await storage.get(f"{bucket}/k") == b"v"


async def test_invalid_paths_are_refused(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    for path in ("", "/abs", f"{bucket}/../x", f"{bucket}//k"):
        with pytest.raises(StorageError, match="invalid object path"):
            await storage.put(path, b"x")


async def test_readers_never_see_a_partial_object(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    old, new = b"o" * 2_000_000, b"n" * 3_000_000
    await storage.put(f"{bucket}/obj", old)
    writer = asyncio.create_task(storage.put(f"{bucket}/obj", new))
    seen = set()
    while not writer.done():
        seen.add(await storage.get(f"{bucket}/obj"))
    await writer
    seen.add(await storage.get(f"{bucket}/obj"))
    assert seen <= {old, new} and new in seen


async def test_url_and_fs_open_the_object(store: tuple[FsspecStorage, str]) -> None:
    storage, bucket = store
    await storage.put(f"{bucket}/x.txt", b"via fs")
    with storage.open_read(f"{bucket}/x.txt") as f:
        assert f.read() == b"via fs"
    await storage.put(f"{bucket}/v/b.parquet", b"1")
    await storage.put(f"{bucket}/v/a.parquet", b"2")
    await storage.put(f"{bucket}/v/c.json", b"3")
    assert storage.glob(f"{bucket}/v/*.parquet") == [f"{bucket}/v/a.parquet", f"{bucket}/v/b.parquet"]
    assert storage.glob(f"{bucket}/none/*.parquet") == []
    con = duck.connect(storage)  # DuckDB reads the storage's URLs
    assert con.execute(f"SELECT content FROM read_blob({duck.sql_literal(storage.url(f'{bucket}/x.txt'))})"
                       ).fetchone() == (b"via fs",)
