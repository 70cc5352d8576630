"""The bounded hand-off between a socket reader and its publisher.

The reader never waits: ``push`` appends or, when full, refuses (the caller counts it).
Before it comes to that, the buffer asks the reader to stop reading (``pause``, called once
it holds ``high`` frames) and to read again (``resume``) once the publisher has taken it
down to ``low``: in a burst the publisher cannot keep up with, the socket's kernel buffers
fill and TCP slows the exchange down, instead of received frames being dropped here. The
publisher takes everything buffered at once (up to a batch), so one wake-up serves many
frames.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


def _nothing() -> None:
    return None


class FrameBuffer:
    __slots__ = ("_closed", "_event", "_items", "capacity", "high", "low", "pause", "paused", "pauses", "resume")

    def __init__(self, capacity: int, *, high: int | None = None, low: int | None = None,
                 pause: Callable[[], None] = _nothing, resume: Callable[[], None] = _nothing) -> None:
        self.capacity = capacity
        self.high = capacity if high is None else min(high, capacity)
        self.low = self.high // 4 if low is None else min(low, self.high)
        self.pause = pause
        self.resume = resume
        self.paused = False
        """Whether the reader was asked to stop reading (and not yet to read again)."""
        self.pauses = 0
        """How many times it was."""
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
        self._check_high()
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
        self._check_high()
        return t, dropped

    def _check_high(self) -> None:
        if not self.paused and len(self._items) >= self.high:
            self.paused = True
            self.pauses += 1
            self.pause()

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
        else:
            batch = [items.popleft() for _ in range(limit)]
        if self.paused and len(items) <= self.low:
            self.paused = False
            self.resume()
        return batch
