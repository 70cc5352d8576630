"""One Storage over fsspec: ``memory://``, local folders (buckets are folders) and ``s3://``.

Blocking fsspec calls run in worker threads. Every library error is translated to a
``StorageError`` in ``_translate`` (the one place), transient ones are retried with
``ssmd.retry`` backoff, and the error that finally surfaces names the operation and path.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

from ssmd.errors import SsmdError, StorageError
from ssmd.log import get_logger
from ssmd.middleware.storage.base import ObjectInfo, ObjectNotFoundError
from ssmd.retry import backoff, retry

T = TypeVar("T")
Kind = Literal["local", "memory", "s3"]
_log = get_logger("storage")
_TRANSIENT_ERRNO = {errno.EAGAIN, errno.EINTR, errno.EBUSY, errno.ETIMEDOUT, errno.ECONNRESET,
                    errno.ECONNREFUSED, errno.ECONNABORTED, errno.EPIPE, errno.EHOSTUNREACH}
_TRANSIENT_S3 = {"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException", "InternalError",
                 "ServiceUnavailable", "RequestTimeTooSkewed", "500", "502", "503", "504"}
_TMP_MARK = ".tmp-"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _translate(exc: BaseException, kind: Kind, op: str, path: str) -> SsmdError:
    """The one place foreign storage errors become ssmd's."""
    if isinstance(exc, SsmdError):
        return exc
    where = f"storage: cannot {op} {path}"
    if isinstance(exc, FileNotFoundError | NotADirectoryError) or _s3_code(exc) in ("NoSuchKey", "NoSuchBucket", "404"):
        return ObjectNotFoundError(f"storage: no object {path}" if op != "create bucket" else f"{where}: not found")
    if isinstance(exc, PermissionError) or _s3_code(exc) in ("AccessDenied", "403", "InvalidAccessKeyId",
                                                            "SignatureDoesNotMatch"):
        return StorageError(f"{where}: permission denied ({_reason(exc)})", retryable=False)
    code = _s3_code(exc)
    if code is not None:
        return StorageError(f"{where}: {code}: {_reason(exc)}", retryable=code in _TRANSIENT_S3)
    if _is_connection_error(exc):
        return StorageError(f"{where}: {_reason(exc)}", retryable=True)
    if isinstance(exc, OSError):
        if exc.errno in _TRANSIENT_ERRNO:
            return StorageError(f"{where}: {_reason(exc)}", retryable=True)
        # s3fs reports unclassified service failures as errno-less OSErrors.
        return StorageError(f"{where}: {_reason(exc)}", retryable=kind == "s3" and exc.errno is None)
    return StorageError(f"{where}: {type(exc).__name__}: {_reason(exc)}", retryable=False)


def _s3_code(exc: BaseException) -> str | None:
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None and isinstance(exc, botocore.ClientError):
        error = exc.response.get("Error", {})
        return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return None


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None and isinstance(exc, botocore.HTTPClientError | botocore.ConnectionError):
        return True
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(exc, aiohttp.ClientError)


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise StorageError(f"storage: invalid object path {path!r} (want bucket/key)", retryable=False)
    return path.rstrip("/")


class FsspecStorage:
    """Objects ``bucket/key`` on a fsspec filesystem under ``root``."""

    def __init__(
        self,
        fs: Any,
        root: str,
        *,
        kind: Kind,
        attempts: int = 4,
        retry_initial: float = 0.2,
        fsync: bool = True,
    ) -> None:
        self._fs = fs
        self._root = root.rstrip("/")
        self.kind: Kind = kind
        self.attempts = attempts
        self.retry_initial = retry_initial
        self.fsync = fsync
        self.on_retry: Callable[[int, BaseException, float], None] | None = None
        """Called before each retry (attempt, error, wait); for logs and tests."""

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def local(cls, root: str | Path, **kwargs: Any) -> FsspecStorage:
        from fsspec.implementations.local import LocalFileSystem

        folder = Path(root).expanduser().resolve()
        return cls(LocalFileSystem(), str(folder), kind="local", **kwargs)

    @classmethod
    def memory(cls, **kwargs: Any) -> FsspecStorage:
        from fsspec.implementations.memory import MemoryFileSystem

        # MemoryFileSystem's store is process-wide: a unique root keeps instances apart.
        return cls(MemoryFileSystem(), f"/ssmd-{uuid.uuid4().hex[:12]}", kind="memory", **kwargs)

    @classmethod
    def s3(cls, endpoint: str | None = None, region: str | None = None, **kwargs: Any) -> FsspecStorage:
        import s3fs

        client_kwargs: dict[str, Any] = {}
        if region:
            client_kwargs["region_name"] = region
        fs = s3fs.S3FileSystem(
            endpoint_url=endpoint,
            client_kwargs=client_kwargs,
            config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 5, "read_timeout": 60},
            skip_instance_cache=True,
            use_listings_cache=False,
        )
        fs.retries = 1  # ssmd retries, with its own backoff, in ``_run``
        return cls(fs, "", kind="s3", **kwargs)

    # -- addressing --------------------------------------------------------------------
    @property
    def fs(self) -> Any:
        """The fsspec filesystem (not part of ``Storage``: benchmarks compare against it)."""
        return self._fs

    def _full(self, path: str) -> str:
        path = _check_path(path)
        return f"{self._root}/{path}" if self._root else path

    def _rel(self, full: str) -> str:
        full = full.removeprefix("s3://").removeprefix("memory://")
        if self._root and full.startswith(self._root + "/"):
            return full[len(self._root) + 1 :]
        return full.lstrip("/") if not self._root else full

    def url(self, path: str) -> str:
        full = self._full(path)
        if self.kind == "s3":
            return f"s3://{full}"
        if self.kind == "memory":
            return f"memory://{full}"
        return full

    def register_with(self, con: Any) -> None:
        if self.kind != "local":
            con.register_filesystem(self._fs)

    def open_read(self, path: str) -> BinaryIO:
        handle: BinaryIO = self._fs.open(self._full(path), "rb")
        return handle

    def glob(self, pattern: str) -> list[str]:
        return sorted(self._rel(full) for full in self._fs.glob(self._full(pattern)) if _TMP_MARK not in full)

    # -- the retry/translate wrapper ---------------------------------------------------
    async def _run(self, op: str, path: str, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()

        async def attempt() -> T:
            try:
                return await loop.run_in_executor(None, fn)
            except Exception as exc:
                raise _translate(exc, self.kind, op, path) from exc

        try:  # the common case: one try, no retry machinery
            return await loop.run_in_executor(None, fn)
        except Exception as exc:
            first = _translate(exc, self.kind, op, path)
            if not (isinstance(first, StorageError) and first.retryable and self.attempts > 1):
                raise first from exc

        def note(n: int, exc: BaseException, wait: float) -> None:
            _log.warning("storage call failed, retrying", op=op, path=path, attempt=n, wait=round(wait, 3),
                         error=str(exc))
            if self.on_retry is not None:
                self.on_retry(n, exc, wait)

        waits = backoff(initial=self.retry_initial, maximum=5.0)
        wait = next(waits)
        note(1, first, wait)
        await asyncio.sleep(wait)
        try:
            return await retry(attempt, attempts=self.attempts - 1, delays=waits,
                               on_retry=lambda n, exc, w: note(n + 1, exc, w))
        except StorageError as exc:
            if exc.retryable:
                raise StorageError(f"{exc} (gave up after {self.attempts} attempts)", retryable=True) from exc
            raise

    # -- operations --------------------------------------------------------------------
    async def create_bucket(self, bucket: str) -> None:
        if not bucket or "/" in bucket:
            raise StorageError(f"storage: invalid bucket name {bucket!r}", retryable=False)
        full = self._full(bucket)

        def make() -> None:
            if self.kind == "s3":
                if self._fs.exists(full):
                    return
                try:
                    self._fs.mkdir(full)
                except FileExistsError:
                    pass
            else:
                self._fs.makedirs(full, exist_ok=True)

        await self._run("create bucket", bucket, make)

    async def put(self, path: str, data: bytes) -> None:
        full = self._full(path)
        if self.kind == "local":
            await self._run("put", path, lambda: self._local_write(full, lambda f: f.write(data)))
        else:
            await self._run("put", path, lambda: self._fs.pipe_file(full, bytes(data)))

    @property
    def appends(self) -> bool:
        return self.kind == "local"

    async def append(self, path: str, data: bytes, offset: int) -> None:
        full = self._full(path)
        if self.kind == "local":
            await self._run("append to", path, lambda: self._local_append(full, path, data, offset))
            return
        head = b""
        if offset:
            size = (await self.head(path)).size
            if size < offset:
                raise StorageError(f"storage: cannot append to {path}: it holds {size} bytes, {offset} were "
                                   "written", retryable=False)
            head = await self.get_range(path, 0, offset)
        await self.put(path, head + data)

    def _local_append(self, full: str, path: str, data: bytes, offset: int) -> None:
        os.makedirs(os.path.dirname(full), exist_ok=True)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size < offset:
                raise StorageError(f"storage: cannot append to {path}: it holds {size} bytes, {offset} were "
                                   "written", retryable=False)
            if size > offset:  # the tail of a write cut short
                os.ftruncate(fd, offset)
            view, at = memoryview(data), offset
            while view:
                n = os.pwrite(fd, view, at)
                view, at = view[n:], at + n
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    async def put_file(self, path: str, local: Path) -> None:
        full = self._full(path)
        source = str(local)
        if self.kind == "local":
            def copy(f: Any) -> None:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, f, 1024 * 1024)

            await self._run("put", path, lambda: self._local_write(full, copy))
        else:
            await self._run("put", path, lambda: self._fs.put_file(source, full))

    def _local_write(self, full: str, write: Callable[[Any], object]) -> None:
        folder, name = os.path.split(full)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{name}{_TMP_MARK}{uuid.uuid4().hex[:8]}")
        try:
            try:
                f = open(tmp, "wb")  # noqa: SIM115
            except FileNotFoundError:  # a concurrent delete pruned the empty folder
                os.makedirs(folder, exist_ok=True)
                f = open(tmp, "wb")  # noqa: SIM115
            with f:
                write(f)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, full)
        except BaseException:
            with_suppress_unlink(tmp)
            raise

    async def get(self, path: str) -> bytes:
        full = self._full(path)
        return await self._run("get", path, lambda: bytes(self._fs.cat_file(full)))

    async def get_range(self, path: str, start: int, end: int) -> bytes:
        full = self._full(path)
        return await self._run("get", path, lambda: bytes(self._fs.cat_file(full, start=start, end=end)))

    async def exists(self, path: str) -> bool:
        full = self._full(path)
        return await self._run("check", path, lambda: bool(self._fs.isfile(full)))

    async def head(self, path: str) -> ObjectInfo:
        full = self._full(path)

        def info() -> ObjectInfo:
            meta = self._fs.info(full)
            if meta.get("type") == "directory":
                raise FileNotFoundError(full)
            return self._info(path, meta)

        return await self._run("head", path, info)

    async def list(self, prefix: str) -> list[ObjectInfo]:
        prefix = prefix.lstrip("/")
        folder = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = f"{self._root}/{folder}".rstrip("/") if self._root else folder.rstrip("/")

        def find() -> list[ObjectInfo]:
            if not base:  # every bucket
                tops = [self._rel(p) for p in self._fs.ls(self._root or "", detail=False)]
                found: dict[str, Any] = {}
                for top in tops:
                    top_full = f"{self._root}/{top}" if self._root else top
                    found.update(self._fs.find(top_full, detail=True))
            else:
                try:
                    found = self._fs.find(base, detail=True)
                except FileNotFoundError:
                    return []
            out = []
            for full, meta in found.items():
                rel = self._rel(full)
                if not rel.startswith(prefix) or meta.get("type") == "directory" or _TMP_MARK in rel:
                    continue
                out.append(self._info(rel, meta))
            return sorted(out, key=lambda o: o.path)

        return await self._run("list", prefix or "/", find)

    async def delete(self, path: str) -> None:
        full = self._full(path)

        def rm() -> None:
            try:
                self._fs.rm_file(full)
            except FileNotFoundError:
                pass
            if self.kind == "local":  # folders are not objects: drop the ones left empty
                bucket = f"{self._root}/{path.split('/', 1)[0]}"
                folder = os.path.dirname(full)
                while len(folder) > len(bucket):
                    try:
                        os.rmdir(folder)
                    except OSError:
                        break
                    folder = os.path.dirname(folder)

        await self._run("delete", path, rm)

    def _info(self, path: str, meta: dict[str, Any]) -> ObjectInfo:
        modified: Any = meta.get("mtime") or meta.get("LastModified") or meta.get("created")
        if hasattr(modified, "timestamp"):
            modified = modified.timestamp()
        return ObjectInfo(path=path, size=int(meta.get("size") or 0),
                          modified=float(modified) if modified is not None else None)


def with_suppress_unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
