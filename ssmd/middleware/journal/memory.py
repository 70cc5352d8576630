"""In-memory journal for tests and single-process runs."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator
from typing import Any

from ssmd.clock import Clock, SystemClock
from ssmd.middleware.journal.base import Entry, checked_data
from ssmd.middleware.transport.base import StartPosition


def select(entries: list[Entry], start: StartPosition) -> list[Entry]:
    """The entries a reader starting at ``start`` sees (entries are in sequence order)."""
    if start.kind == "new":
        return []
    if start.kind == "seq":
        return entries[bisect.bisect_left(entries, start.value, key=lambda e: e.seq):]
    if start.kind == "time":
        return [e for e in entries if e.ts >= start.value]
    return list(entries)


class MemoryJournal:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._topics: dict[str, list[Entry]] = {}

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def append(self, topic: str, data: dict[str, Any]) -> int:
        (seq,) = await self.append_many(topic, [data])
        return seq

    async def append_many(self, topic: str, items: list[dict[str, Any]]) -> list[int]:
        checked = [checked_data(topic, data) for data in items]
        if not checked:
            return []
        entries = self._topics.setdefault(topic, [])
        seqs = []
        for data in checked:
            seq = len(entries) + 1 if not entries else entries[-1].seq + 1
            entries.append(Entry(seq=seq, ts=self._clock.now_ns(), data=data))
            seqs.append(seq)
        return seqs

    async def read(self, topic: str, start: StartPosition = StartPosition()) -> AsyncIterator[Entry]:
        for entry in select(self._topics.get(topic, []), start):
            yield entry

    async def last_seq(self, topic: str) -> int:
        entries = self._topics.get(topic)
        return entries[-1].seq if entries else 0

    async def topics(self, prefix: str = "") -> list[str]:
        return sorted(t for t, e in self._topics.items() if t.startswith(prefix) and e)

    async def delete_topic(self, topic: str) -> int:
        return len(self._topics.pop(topic, []))
