"""The storage interface: objects addressed ``bucket/key``.

``put`` is atomic: a reader sees the old object or the whole new one, never a part.
Library errors are translated to ``ssmd.errors.StorageError`` in one place; transient
ones are retried with backoff before they surface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Protocol

import msgspec

from ssmd.errors import NotFoundError, StorageError


class ObjectNotFoundError(NotFoundError, StorageError):
    """The object does not exist (never retried)."""

    def __init__(self, message: str) -> None:
        StorageError.__init__(self, message, retryable=False)


class ObjectInfo(msgspec.Struct, frozen=True):
    path: str
    """``bucket/key``."""
    size: int
    modified: float | None = None
    """Unix seconds, when the backend knows it."""


class Storage(Protocol):
    def url(self, path: str) -> str:
        """A URL DuckDB can read (``s3://b/k``, ``memory://...`` or a local path); one that
        is not a local path only on a connection given to ``register_with``."""
        ...

    def register_with(self, con: Any) -> None:
        """Let the DuckDB connection ``con`` read this storage's ``url``s (registers the
        filesystem behind them; nothing to do for local paths). DuckDB's errors pass
        through."""
        ...

    def open_read(self, path: str) -> BinaryIO:
        """Blocking: the object as a seekable binary file (for pyarrow readers, e.g. a
        Parquet footer). Call it in a worker thread from async code."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Blocking: the ``bucket/key`` paths matching ``pattern`` (``*`` within a part),
        sorted. Call it in a worker thread from async code."""
        ...

    async def create_bucket(self, bucket: str) -> None: ...
    async def put(self, path: str, data: bytes) -> None: ...

    @property
    def appends(self) -> bool:
        """Whether ``append`` writes only the new bytes (local files). On object stores it
        rewrites the object, so a writer that appends often keeps the content and ``put``s
        it whole instead."""
        ...

    async def append(self, path: str, data: bytes, offset: int) -> None:
        """Durably write ``data`` at byte ``offset`` of ``path`` (created when ``offset`` is
        0), replacing what lies at or after ``offset`` (the tail of a write cut short). An
        object shorter than ``offset`` is an error that names it: its committed bytes are gone."""
        ...

    async def put_file(self, path: str, local: Path) -> None:
        """Upload a local file, streaming; atomic like ``put``."""
        ...
    async def get(self, path: str) -> bytes: ...
    async def get_range(self, path: str, start: int, end: int) -> bytes: ...
    async def exists(self, path: str) -> bool: ...
    async def head(self, path: str) -> ObjectInfo: ...
    async def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object under ``prefix`` (recursive), sorted by path."""
        ...
    async def delete(self, path: str) -> None: ...
