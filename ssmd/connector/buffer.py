"""The bounded hand-off between a socket reader and its publisher.

The reader never waits: ``push`` appends or, when full, refuses (the caller counts it).
The publisher takes everything buffered at once (up to a batch), so one wake-up serves
many frames.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


class FrameBuffer:
    __slots__ = ("_closed", "_event", "_items", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[tuple[bytes, int]] = deque()
        self._event = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def push(self, frame: bytes, received_at: int) -> bool:
        """Append a frame; False (and nothing stored) when the buffer is full."""
        items = self._items
        if len(items) >= self.capacity:
            return False
        items.append((frame, received_at))
        if not self._event.is_set():
            self._event.set()
        return True

    def push_many(self, frames: list[bytes], now: Callable[[], int]) -> tuple[int, int]:
        """Append frames in order, each stamped with ``now()`` as it is appended; those that
        find the buffer full are not stored. Returns (the last stamp, how many were refused)."""
        items = self._items
        room = self.capacity - len(items)
        t = 0
        append = items.append
        for frame in frames if room >= len(frames) else frames[:max(room, 0)]:
            t = now()
            append((frame, t))
        dropped = len(frames) - max(room, 0) if room < len(frames) else 0
        if dropped:
            t = now()
        if items and not self._event.is_set():
            self._event.set()
        return t, dropped

    def close(self) -> None:
        """No more frames will come; ``take`` returns what is left, then ``[]``."""
        self._closed = True
        self._event.set()

    async def take(self, limit: int) -> list[tuple[bytes, int]]:
        """Up to ``limit`` frames, waiting for at least one; ``[]`` once closed and empty."""
        items = self._items
        while not items:
            if self._closed:
                return []
            self._event.clear()
            await self._event.wait()
        if len(items) <= limit:
            batch = list(items)
            items.clear()
            return batch
        return [items.popleft() for _ in range(limit)]
