"""Object put/get throughput: local folders and an S3 endpoint (moto over HTTP), each next to
the bare library doing the same work in the same run (plain file write+rename / s3fs calls)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from common import Result

from ssmd.middleware.storage.fsspec_store import FsspecStorage

SMALL = os.urandom(64 * 1024)


async def _ssmd(storage: FsspecStorage, bucket: str, n: int, payload: bytes) -> tuple[float, float]:
    await storage.create_bucket(bucket)
    start = time.perf_counter()
    for i in range(n):
        await storage.put(f"{bucket}/e/kalshi/2026/07/19/trade-{i}.jsonl.zst", payload)
    put = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(n):
        await storage.get(f"{bucket}/e/kalshi/2026/07/19/trade-{i}.jsonl.zst")
    get = n / (time.perf_counter() - start)
    return put, get


def _bare_local(root: Path, n: int, payload: bytes) -> tuple[float, float]:
    folder = root / "bare"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i in range(n):
        tmp, final = folder / f".f{i}.tmp", folder / f"f{i}"
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    put = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(n):
        (folder / f"f{i}").read_bytes()
    get = n / (time.perf_counter() - start)
    return put, get


def _bare_s3(fs: object, bucket: str, n: int, payload: bytes) -> tuple[float, float]:
    fs.mkdir(bucket)  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i in range(n):
        fs.pipe_file(f"{bucket}/k{i}", payload)  # type: ignore[attr-defined]
    put = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(n):
        fs.cat_file(f"{bucket}/k{i}")  # type: ignore[attr-defined]
    get = n / (time.perf_counter() - start)
    return put, get


def run(quick: bool = False) -> list[Result]:
    n_local = 300 if quick else 2000
    n_s3 = 60 if quick else 400
    mb = len(SMALL) / 1e6
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        put, get = asyncio.run(_ssmd(FsspecStorage.local(tmp), "raw", n_local, SMALL))
        bare_put, bare_get = _bare_local(Path(tmp), n_local, SMALL)
    results += [
        Result("local put 64 KB (atomic, fsync)", put * mb, "MB/s", bare_put * mb, "open/write/fsync/rename"),
        Result("local get 64 KB", get * mb, "MB/s", bare_get * mb, "Path.read_bytes"),
    ]
    try:
        from tests.servers import S3Server
    except ImportError:
        return results
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = S3Server()
    server.start()
    try:
        storage = FsspecStorage.s3(server.url)
        put, get = asyncio.run(_ssmd(storage, f"b{uuid.uuid4().hex[:8]}", n_s3, SMALL))
        bare_put, bare_get = _bare_s3(FsspecStorage.s3(server.url).fs, f"c{uuid.uuid4().hex[:8]}", n_s3, SMALL)
    finally:
        server.stop()
    results += [
        Result("s3 (moto) put 64 KB", put * mb, "MB/s", bare_put * mb, "s3fs pipe_file"),
        Result("s3 (moto) get 64 KB", get * mb, "MB/s", bare_get * mb, "s3fs cat_file"),
    ]
    return results
