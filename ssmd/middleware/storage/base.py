"""The storage interface: objects addressed ``bucket/key``.

``put`` is atomic: a reader sees the old object or the whole new one, never a part.
Library errors are translated to ``ssmd.errors.StorageError`` in one place; transient
ones are retried with backoff before they surface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

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
    @property
    def fs(self) -> Any:
        """The fsspec filesystem, for pyarrow and DuckDB (``con.register_filesystem``)."""
        ...

    def url(self, path: str) -> str:
        """A URL DuckDB/pyarrow can open through ``fs`` (e.g. ``s3://b/k`` or a local path)."""
        ...

    async def create_bucket(self, bucket: str) -> None: ...
    async def put(self, path: str, data: bytes) -> None: ...
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
