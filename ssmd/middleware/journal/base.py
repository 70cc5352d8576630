"""The journal interface: append-only topics read from a position.

Topics are ``{env}.day.events``, ``{env}.secmaster.changes``, ``{env}.audit``. Append
returns the entry's sequence (1, 2, ... per topic). Entries are JSON objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec

from ssmd.middleware.transport.base import StartPosition


class Entry(msgspec.Struct, frozen=True):
    seq: int
    ts: int
    """Append time, ns since epoch."""
    data: dict[str, Any]


class Journal(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def append(self, topic: str, data: dict[str, Any]) -> int: ...
    def read(self, topic: str, start: StartPosition = StartPosition()) -> AsyncIterator[Entry]:
        """Entries from ``start`` up to the current end, then the iterator ends."""
        ...
    async def last_seq(self, topic: str) -> int:
        """0 for an empty topic."""
        ...
