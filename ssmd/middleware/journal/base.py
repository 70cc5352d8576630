"""The journal interface: append-only topics read from a position.

Topics are ``{env}.day.events``, ``{env}.secmaster.changes``, ``{env}.audit``. Append
returns the entry's sequence (1, 2, ... per topic). Entries are JSON objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec

from ssmd.errors import JournalError
from ssmd.middleware.transport.base import StartPosition

_json = msgspec.json.Encoder()


def checked_data(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` that is known to encode as JSON; ``JournalError`` otherwise."""
    try:
        copy = dict(data)
        _json.encode(copy)
    except (TypeError, msgspec.EncodeError) as exc:
        raise JournalError(f"journal: {topic}: entry is not JSON: {exc}", retryable=False) from None
    return copy


class Entry(msgspec.Struct, frozen=True):
    seq: int
    ts: int
    """Append time, ns since epoch."""
    data: dict[str, Any]


class Journal(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def append(self, topic: str, data: dict[str, Any]) -> int: ...
    async def append_many(self, topic: str, items: list[dict[str, Any]]) -> list[int]:
        """Append in order; the sequences, as ``append`` on each would give them (under one
        lock and one fsync where the journal can). An entry that is not JSON appends none."""
        ...
    def read(self, topic: str, start: StartPosition = StartPosition()) -> AsyncIterator[Entry]:
        """Entries from ``start`` up to the current end, then the iterator ends."""
        ...
    async def last_seq(self, topic: str) -> int:
        """0 for an empty topic."""
        ...
    async def topics(self, prefix: str = "") -> list[str]:
        """Non-empty topics starting with ``prefix`` (for teardown and inspection)."""
        ...
    async def delete_topic(self, topic: str) -> int:
        """Remove a topic's entries (teardown); returns how many were removed."""
        ...
