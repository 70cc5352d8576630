"""Batching, flush, rotation, retry and de-duplication decisions (pure; time passed in)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

from ssmd.config.model import ArchiverConfig
from ssmd.retry import backoff


class FlushPolicy:
    """When a buffer must be written, and when an open raw file is closed."""

    def __init__(self, config: ArchiverConfig, *, appends: bool = True) -> None:
        self.interval = config.flush_interval_seconds
        self.raw_interval = min(config.raw_flush_interval_seconds, self.interval) if appends else self.interval
        """Raw lines are appended on their own, shorter timer where storage appends."""
        self.rows = config.flush_rows
        self.rotate_seconds = config.raw_rotate_seconds
        self.rotate_bytes = config.raw_rotate_bytes

    def due(self, buffered: int, oldest: float | None, now: float, *, raw: bool = False) -> bool:
        """A buffer of ``buffered`` rows (raw lines with ``raw``) whose oldest row arrived at
        ``oldest`` (monotonic s)."""
        if buffered <= 0 or oldest is None:
            return False
        return buffered >= self.rows or now - oldest >= (self.raw_interval if raw else self.interval)

    def next_due(self, oldest: float | None, *, raw: bool = False) -> float | None:
        """Monotonic time at which a buffer with this oldest row becomes due."""
        return None if oldest is None else oldest + (self.raw_interval if raw else self.interval)

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
    msg_id) and come in stream order, so the first deliveries of this run are one range of
    stream sequences, ``[first, last]``: a redelivery inside it was seen, whatever the rate
    (no per-message memory); the few redeliveries taken as new are remembered one by one.
    Any other redelivery is a duplicate if it is at or below ``watermark`` (the highest
    sequence durably written by an earlier run: delivery is in stream order and writes
    follow it), or if its content key is among ``known`` keys read back from the newest
    files at start-up.
    """

    def __init__(self, watermark: int = 0, known: set[Hashable] | None = None) -> None:
        self.first = 0
        """The lowest sequence delivered in this run (0: none yet)."""
        self.last = 0
        """The highest sequence delivered in this run."""
        self.redelivered: set[int] = set()
        """Redeliveries taken as new in this run (they come outside the first-delivery order)."""
        self.watermark = watermark
        self.known: set[Hashable] = known or set()
        self.duplicates = 0

    def _seen(self, seq: int) -> bool:
        return (0 < self.first <= seq <= self.last) or seq in self.redelivered

    def _add(self, seq: int, redelivered: bool) -> None:
        if redelivered:
            self.redelivered.add(seq)
            return
        if not self.first or seq < self.first:
            self.first = seq
        if seq > self.last:
            self.last = seq

    def first_deliveries(self, msgs: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """``is_duplicate`` for each of a batch of first deliveries (``redelivered`` false),
        in order: (new, duplicates)."""
        new: list[Any] = []
        dups: list[Any] = []
        first, last, redelivered = self.first, self.last, self.redelivered
        for msg in msgs:  # _seen and _add, inline: this runs for every message
            seq = msg.seq
            if seq:
                if (0 < first <= seq <= last) or seq in redelivered:
                    dups.append(msg)
                    continue
                if not first or seq < first:
                    first = seq
                if seq > last:
                    last = seq
            new.append(msg)
        self.first, self.last = first, last
        self.duplicates += len(dups)
        return new, dups

    def is_duplicate(self, seq: int, redelivered: bool, key: Hashable | None = None) -> bool:
        dup = self._seen(seq) if seq else False
        if not dup and redelivered:
            dup = (0 < seq <= self.watermark) or (key is not None and key in self.known)
        if dup:
            self.duplicates += 1
            return True
        if seq:
            self._add(seq, redelivered)
        return False
