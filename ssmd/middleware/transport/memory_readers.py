"""The reading side of the in-process bus: stored messages, durable and latest-only
consumers, and the subscriptions handed to components.

These work hand in hand with ``MemoryTransport`` (``memory.py``), which owns the stream
and calls into them; they read the stream through its ``_get``/``_scan`` and register as
sleepers to be woken by publishes.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from typing import TYPE_CHECKING

import msgspec

from ssmd.errors import TransportError
from ssmd.middleware.transport.base import Iteration, Payload
from ssmd.middleware.transport.subjects import Matcher

if TYPE_CHECKING:
    from ssmd.middleware.transport.memory import MemoryTransport

class _Stored(msgspec.Struct, gc=False):
    """One stored message. A Struct is about three times cheaper to create than a slotted
    class; ``gc=False`` keeps the (possibly millions of) retained messages out of the
    garbage collector's scans, which is safe because they hold only bytes, str, int, a
    dict of str and records (frozen Structs of numbers, str and lists of level tuples):
    nothing that can form a reference cycle."""

    seq: int
    subject: str
    data: Payload
    """Bytes, or the record itself (``MemoryTransport.publish_many``)."""
    headers: dict[str, str]
    ts: int


class MemoryMessage(msgspec.Struct, gc=False):
    """A delivered message; ``ack``/``nak`` go to the consumer that delivered it.

    A ``gc=False`` Struct, like ``_Stored``: cheap to create, and the many held until their
    flush are not scanned by the garbage collector. Reference counting frees them: the
    consumer refers to no message, except through a reader sleeping on it, and a sleeper
    always wakes or is cancelled, and then lets go.
    """

    subject: str
    data: Payload
    headers: dict[str, str]
    seq: int
    ts: int
    redelivered: bool
    _consumer: _Consumer | None
    _attempt: int

    async def ack(self) -> None:
        if self._consumer is not None:
            self._consumer.ack(self.seq)

    async def nak(self, delay: float = 0.0) -> None:
        if self._consumer is not None:
            self._consumer.nak(self.seq, self._attempt, delay)


def _deliver(stored: _Stored, consumer: _Consumer | None, attempt: int) -> MemoryMessage:
    return MemoryMessage(stored.subject, stored.data, stored.headers, stored.seq, stored.ts, attempt > 1, consumer,
                         attempt)


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
    messages in flight, not the message rate. ``check_at`` is a lower bound of the head's
    deadline (deadlines only grow), so a delivery peeks at the head only once that time has
    come: acks delete from the front of ``pending``, and walking to the first live entry of
    a dict costs one step per entry deleted since its last resize.
    """

    def __init__(self, bus: MemoryTransport, matcher: Matcher, cursor: int, ack_wait: float, max_pending: int) -> None:
        super().__init__(bus)
        self.match = matcher
        self.cursor = cursor
        self.ack_wait = ack_wait
        self.max_pending = max_pending
        self.pending: dict[int, tuple[int, float]] = {}
        self.check_at = math.inf
        """No deadline in ``pending`` is earlier than this."""
        self.waiting: dict[int, int] = {}
        """seq -> attempt of unacked messages due for redelivery, in order."""
        self.delayed: list[tuple[float, int, int]] = []
        """heap of (when, seq, attempt) of messages nak-ed with a delay."""
        self.delayed_live: dict[int, int] = {}

    def wants(self, subject: str) -> bool:
        return self.match(subject)

    def needed(self) -> int:
        """The lowest seq this consumer may still deliver: its cursor, or an unacked one."""
        return min(self.cursor, min(self.pending, default=self.cursor), min(self.waiting, default=self.cursor),
                   min(self.delayed_live, default=self.cursor))

    def reconfigure(self, ack_wait: float, max_pending: int) -> None:
        """A new ``subscribe`` of this durable. A shorter ``ack_wait`` also caps the deadlines
        of messages in flight, which keeps ``pending`` in deadline order."""
        if ack_wait < self.ack_wait and self.pending:
            cap = asyncio.get_running_loop().time() + ack_wait
            self.pending = {seq: (attempt, min(deadline, cap)) for seq, (attempt, deadline) in self.pending.items()}
            self.check_at = -math.inf
        self.ack_wait = ack_wait
        self.max_pending = max_pending

    def ack(self, seq: int) -> None:
        if (
            self.pending.pop(seq, None) is not None
            or self.waiting.pop(seq, None) is not None
            or self.delayed_live.pop(seq, None) is not None
        ) and self.waiters:
            self.wake()

    def ack_many(self, seqs: list[int]) -> None:
        """``ack`` of each seq, waking readers once."""
        pending, waiting, delayed = self.pending, self.waiting, self.delayed_live
        settled = False
        for seq in seqs:
            if pending.pop(seq, None) is not None or waiting.pop(seq, None) is not None or (
                    delayed.pop(seq, None) is not None):
                settled = True
        if settled and self.waiters:
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
        """When to look again at most: the (lower bound of the) head deadline or the first
        delayed nak; waking early only costs one more look."""
        first = self.check_at if self.pending else None
        if self.delayed:
            when = self.delayed[0][0]
            return when if first is None else min(first, when)
        return first

    def _expire(self, now: float) -> None:
        """Move pending messages whose deadline has passed to ``waiting``; note the new head."""
        pending = self.pending
        expired = []
        head = math.inf
        for seq, (attempt, deadline) in pending.items():
            if deadline > now:
                head = deadline
                break
            expired.append((seq, attempt))
        for seq, attempt in expired:
            del pending[seq]
            self.waiting[seq] = attempt
        self.check_at = head

    def _release(self, now: float) -> None:
        delayed = self.delayed
        while delayed and delayed[0][0] <= now:
            _, seq, attempt = heapq.heappop(delayed)
            if self.delayed_live.get(seq) == attempt:
                del self.delayed_live[seq]
                self.waiting[seq] = attempt

    def take(self, now: float) -> MemoryMessage | None:
        """The next message to deliver, or None when there is none (or too many unacked)."""
        got = self.take_batch(now, 1)
        return got[0] if got else None

    def take_batch(self, now: float, limit: int) -> list[MemoryMessage]:
        """Up to ``limit`` messages to deliver now, redeliveries first (empty when there is
        none, or too many unacked)."""
        if now >= self.check_at:
            self._expire(now)
        if self.delayed and self.delayed[0][0] <= now:
            self._release(now)
        pending = self.pending
        deadline = now + self.ack_wait
        out: list[MemoryMessage] = []
        waiting = self.waiting
        while waiting and len(out) < limit:
            seq = next(iter(waiting))
            attempt = waiting.pop(seq) + 1
            stored = self.bus._get(seq)
            if stored is None:  # aged out of the stream while unacked
                continue
            pending[seq] = (attempt, deadline)
            out.append(_deliver(stored, self, attempt))
        room = min(limit - len(out), self.max_pending - len(pending) - len(self.delayed_live))
        if room > 0:
            first = (1, deadline)
            append = out.append
            for s in self.bus._scan(self, room):
                pending[s.seq] = first
                append(MemoryMessage(s.subject, s.data, s.headers, s.seq, s.ts, False, self, 1))
        if out and deadline < self.check_at:
            self.check_at = deadline
        return out


class _Latest(_Waitable):
    """An unacked live view keeping the newest ``buffer`` messages."""

    def __init__(self, bus: MemoryTransport, matcher: Matcher, buffer: int) -> None:
        super().__init__(bus)
        self.match = matcher
        self.queue: deque[_Stored] = deque(maxlen=max(1, buffer))

    def wants(self, subject: str) -> bool:
        return self.match(subject)

    def take(self, now: float) -> MemoryMessage | None:
        return _deliver(self.queue.popleft(), None, 1) if self.queue else None

    def take_batch(self, now: float, limit: int) -> list[MemoryMessage]:
        queue = self.queue
        return [_deliver(queue.popleft(), None, 1) for _ in range(min(limit, len(queue)))]

    def next_deadline(self) -> float | None:
        return None


class MemorySubscription(Iteration):
    def __init__(self, bus: MemoryTransport, source: _Consumer | _Latest, durable: str | None) -> None:
        self._bus = bus
        self._source = source
        self._durable = durable
        self.closed = False

    @property
    def consumer(self) -> _Consumer | None:
        """The consumer reading the stream (None for a live view)."""
        return self._source if isinstance(self._source, _Consumer) else None

    async def next(self, timeout: float | None = None) -> MemoryMessage:
        loop = asyncio.get_running_loop()
        if not self.closed:  # fast path: something is ready
            msg = self._source.take(loop.time())
            if msg is not None:
                return msg
        return (await self._wait(1, timeout))[0]

    async def next_batch(self, max_n: int, timeout: float | None = None) -> list[MemoryMessage]:
        loop = asyncio.get_running_loop()
        if not self.closed:
            got = self._source.take_batch(loop.time(), max(1, max_n))
            if got:
                return got
        return await self._wait(max(1, max_n), timeout)

    async def _wait(self, limit: int, timeout: float | None) -> list[MemoryMessage]:
        loop = asyncio.get_running_loop()
        source = self._source
        end = None if timeout is None else loop.time() + timeout
        while True:
            if self.closed:
                raise TransportError("subscription closed", retryable=False)
            now = loop.time()
            got = source.take_batch(now, limit)
            if got:
                return got
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
