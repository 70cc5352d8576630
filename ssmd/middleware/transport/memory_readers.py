"""The reading side of the in-process bus: stored messages, durable and latest-only
consumers, and the subscriptions handed to components.

These work hand in hand with ``MemoryTransport`` (``memory.py``), which owns the stream
and calls into them; they read the stream through its ``_get``/``_scan`` and register as
sleepers to be woken by publishes.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from typing import TYPE_CHECKING

import msgspec

from ssmd.errors import TransportError
from ssmd.middleware.transport.base import Iteration
from ssmd.middleware.transport.subjects import Matcher

if TYPE_CHECKING:
    from ssmd.middleware.transport.memory import MemoryTransport

class _Stored(msgspec.Struct, gc=False):
    """One stored message. A Struct is about three times cheaper to create than a slotted
    class; ``gc=False`` keeps the (possibly millions of) retained messages out of the
    garbage collector's scans, which is safe because they hold only bytes, str, int and a
    dict of str: nothing that can form a reference cycle."""

    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    ts: int


class MemoryMessage:
    """A delivered message; ``ack``/``nak`` go to the consumer that delivered it."""

    __slots__ = ("_attempt", "_consumer", "data", "headers", "redelivered", "seq", "subject", "ts")

    def __init__(self, stored: _Stored, consumer: _Consumer | None, attempt: int) -> None:
        self.subject = stored.subject
        self.data = stored.data
        self.headers = stored.headers
        self.seq = stored.seq
        self.ts = stored.ts
        self.redelivered = attempt > 1
        self._consumer = consumer
        self._attempt = attempt

    async def ack(self) -> None:
        if self._consumer is not None:
            self._consumer.ack(self.seq)

    async def nak(self, delay: float = 0.0) -> None:
        if self._consumer is not None:
            self._consumer.nak(self.seq, self._attempt, delay)


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Waitable:
    """Something readers sleep on until a publish, an ack or a timer wakes them."""

    def __init__(self, bus: MemoryTransport) -> None:
        self.bus = bus
        self.waiters: list[asyncio.Future[None]] = []

    def wake(self) -> None:
        for fut in self.waiters:
            _wake(fut)

    async def sleep(self, wake_at: float | None) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.waiters.append(fut)
        self.bus._sleepers.add(self)
        handle = loop.call_at(wake_at, _wake, fut) if wake_at is not None else None
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            self.waiters.remove(fut)
            if not self.waiters:
                self.bus._sleepers.discard(self)

    def wants(self, subject: str) -> bool:
        raise NotImplementedError


class _Consumer(_Waitable):
    """Position, pending acks and redelivery timers of one (durable or ephemeral) consumer.

    ``pending`` maps each delivered, unacked seq to (attempt, deadline) in delivery order,
    which is deadline order, so expiry looks only at its head: memory and work follow the
    messages in flight, not the message rate.
    """

    def __init__(self, bus: MemoryTransport, matcher: Matcher, cursor: int, ack_wait: float, max_pending: int) -> None:
        super().__init__(bus)
        self.match = matcher
        self.cursor = cursor
        self.ack_wait = ack_wait
        self.max_pending = max_pending
        self.pending: dict[int, tuple[int, float]] = {}
        self.waiting: dict[int, int] = {}
        """seq -> attempt of unacked messages due for redelivery, in order."""
        self.delayed: list[tuple[float, int, int]] = []
        """heap of (when, seq, attempt) of messages nak-ed with a delay."""
        self.delayed_live: dict[int, int] = {}

    def wants(self, subject: str) -> bool:
        return self.match(subject)

    def ack(self, seq: int) -> None:
        if (
            self.pending.pop(seq, None) is not None
            or self.waiting.pop(seq, None) is not None
            or self.delayed_live.pop(seq, None) is not None
        ) and self.waiters:
            self.wake()

    def nak(self, seq: int, attempt: int, delay: float) -> None:
        entry = self.pending.get(seq)
        if entry is None or entry[0] != attempt:
            return
        del self.pending[seq]
        if delay <= 0:
            self.waiting[seq] = attempt
        else:
            when = asyncio.get_running_loop().time() + delay
            self.delayed_live[seq] = attempt
            heapq.heappush(self.delayed, (when, seq, attempt))
        self.wake()

    def next_deadline(self) -> float | None:
        first = next(iter(self.pending.values()))[1] if self.pending else None
        if self.delayed:
            when = self.delayed[0][0]
            return when if first is None else min(first, when)
        return first

    def _expire(self, now: float) -> None:
        pending = self.pending
        expired = []
        for seq, (attempt, deadline) in pending.items():
            if deadline > now:
                break
            expired.append((seq, attempt))
        for seq, attempt in expired:
            del pending[seq]
            self.waiting[seq] = attempt
        delayed = self.delayed
        while delayed and delayed[0][0] <= now:
            _, seq, attempt = heapq.heappop(delayed)
            if self.delayed_live.get(seq) == attempt:
                del self.delayed_live[seq]
                self.waiting[seq] = attempt

    def take(self, now: float) -> MemoryMessage | None:
        """The next message to deliver, or None when there is none (or too many unacked)."""
        pending = self.pending
        if (pending and next(iter(pending.values()))[1] <= now) or self.delayed:
            self._expire(now)
        waiting = self.waiting
        while waiting:  # redeliveries first
            seq = next(iter(waiting))
            attempt = waiting.pop(seq) + 1
            stored = self.bus._get(seq)
            if stored is None:  # aged out of the stream while unacked
                continue
            pending[seq] = (attempt, now + self.ack_wait)
            return MemoryMessage(stored, self, attempt)
        if len(pending) + len(self.delayed_live) >= self.max_pending:
            return None
        stored = self.bus._scan(self)
        if stored is None:
            return None
        pending[stored.seq] = (1, now + self.ack_wait)
        return MemoryMessage(stored, self, 1)


class _Latest(_Waitable):
    """An unacked live view keeping the newest ``buffer`` messages."""

    def __init__(self, bus: MemoryTransport, matcher: Matcher, buffer: int) -> None:
        super().__init__(bus)
        self.match = matcher
        self.queue: deque[_Stored] = deque(maxlen=max(1, buffer))

    def wants(self, subject: str) -> bool:
        return self.match(subject)

    def take(self, now: float) -> MemoryMessage | None:
        return MemoryMessage(self.queue.popleft(), None, 1) if self.queue else None

    def next_deadline(self) -> float | None:
        return None


class MemorySubscription(Iteration):
    def __init__(self, bus: MemoryTransport, source: _Consumer | _Latest, durable: str | None) -> None:
        self._bus = bus
        self._source = source
        self._durable = durable
        self.closed = False

    async def next(self, timeout: float | None = None) -> MemoryMessage:
        loop = asyncio.get_running_loop()
        source = self._source
        if not self.closed:  # fast path: something is ready
            msg = source.take(loop.time())
            if msg is not None:
                return msg
        end = None if timeout is None else loop.time() + timeout
        while True:
            if self.closed:
                raise TransportError("subscription closed", retryable=False)
            now = loop.time()
            msg = source.take(now)
            if msg is not None:
                return msg
            if end is not None and now >= end:
                raise TimeoutError(f"no message within {timeout} s")
            wake_at = source.next_deadline()
            if end is not None:
                wake_at = end if wake_at is None else min(wake_at, end)
            await source.sleep(wake_at)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._source.wake()
        self._bus._detach(self)
