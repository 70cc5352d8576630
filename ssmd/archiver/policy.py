"""Batching, flush, rotation, retry and de-duplication decisions (pure; time passed in)."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

from ssmd.config.model import ArchiverConfig
from ssmd.retry import backoff


class FlushPolicy:
    """When a buffer must be written, and when an open raw file is closed."""

    def __init__(self, config: ArchiverConfig) -> None:
        self.interval = config.flush_interval_seconds
        self.rows = config.flush_rows
        self.rotate_seconds = config.raw_rotate_seconds
        self.rotate_bytes = config.raw_rotate_bytes

    def due(self, buffered: int, oldest: float | None, now: float) -> bool:
        """A buffer of ``buffered`` rows whose oldest row arrived at ``oldest`` (monotonic s)."""
        if buffered <= 0 or oldest is None:
            return False
        return buffered >= self.rows or now - oldest >= self.interval

    def next_due(self, oldest: float | None) -> float | None:
        """Monotonic time at which a buffer with this oldest row becomes due."""
        return None if oldest is None else oldest + self.interval

    def rotate(self, file_bytes: int, opened: float, now: float) -> bool:
        return file_bytes >= self.rotate_bytes or now - opened >= self.rotate_seconds


class RetryGate:
    """Backoff between failed writes: ``ready(now)`` says whether to try again."""

    def __init__(self, initial: float = 0.2, maximum: float = 30.0) -> None:
        self._initial = initial
        self._maximum = maximum
        self._delays: Iterator[float] | None = None
        self.not_before = 0.0
        self.failures = 0
        self.last_error: str | None = None

    def ready(self, now: float) -> bool:
        return now >= self.not_before

    def failed(self, now: float, error: str) -> float:
        if self._delays is None:
            self._delays = backoff(self._initial, self._maximum)
        delay = next(self._delays)
        self.not_before = now + delay
        self.failures += 1
        self.last_error = error
        return delay

    def succeeded(self) -> None:
        self._delays = None
        self.not_before = 0.0
        self.failures = 0
        self.last_error = None

    @property
    def failing(self) -> bool:
        return self.failures > 0


class Deduper:
    """Which deliveries are already archived (or buffered).

    First deliveries are new by construction (the transport de-duplicates publishes by
    msg_id). A redelivery is a duplicate if its stream sequence was seen in this run, if it
    is at or below ``watermark`` (the highest sequence durably written by an earlier run:
    delivery is in stream order and writes follow it), or if its content key is among
    ``known`` keys read back from the newest files at start-up.
    """

    def __init__(self, window: int = 1_000_000, watermark: int = 0, known: set[Hashable] | None = None) -> None:
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._window = window
        self.watermark = watermark
        self.known: set[Hashable] = known or set()
        self.duplicates = 0

    def first_deliveries(self, msgs: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """``is_duplicate`` for each of a batch of first deliveries (``redelivered`` false),
        in order: (new, duplicates)."""
        seen, order, window = self._seen, self._order, self._window
        new: list[Any] = []
        dups: list[Any] = []
        for msg in msgs:
            seq = msg.seq
            if seq:
                if seq in seen:
                    dups.append(msg)
                    continue
                seen.add(seq)
                order.append(seq)
                if len(order) > window:
                    seen.discard(order.popleft())
            new.append(msg)
        self.duplicates += len(dups)
        return new, dups

    def is_duplicate(self, seq: int, redelivered: bool, key: Hashable | None = None) -> bool:
        dup = seq in self._seen if seq else False
        if not dup and redelivered:
            dup = (0 < seq <= self.watermark) or (key is not None and key in self.known)
        if dup:
            self.duplicates += 1
            return True
        if seq:
            self._seen.add(seq)
            self._order.append(seq)
            if len(self._order) > self._window:
                self._seen.discard(self._order.popleft())
        return False
