"""In-process bus with the JetStream semantics components rely on.

One stream of every published message (sequence 1, 2, ...), kept for ``max_age`` (and
``max_bytes``), discarding the oldest. Consumers read the stream from a start position
through a subject filter; a durable consumer keeps its position, its unacked messages and
its redelivery timers across ``subscribe`` calls. Publishing appends and wakes sleeping
readers: it never waits, never creates a task, and a slow consumer holds back only itself.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from ssmd.clock import Clock, SystemClock
from ssmd.codec import RECORD_CLASSES
from ssmd.errors import TransportError
from ssmd.middleware.transport.base import Payload, StartPosition
from ssmd.middleware.transport.memory_readers import (
    MemorySubscription,
    _Consumer,
    _Latest,
    _Stored,
    _Waitable,
)
from ssmd.middleware.transport.subjects import Matcher, check_subject
from ssmd.rawline import RawLine

Publish = tuple[str, Payload, dict[str, str] | None, str | None]
"""(subject, data, headers, msg_id), as ``publish_many`` takes them: a record is stored as
it is, and handed to consumers without an encode and a decode."""
RECORD_BYTES = 96
"""What a stored record counts toward ``max_bytes``: about its encoded size."""
_COMPACT_AT = 4096
_PURGED = ""
"""Subject of a purged slot; no filter matches it (see ``Matcher``)."""


def size_of(data: Payload) -> int:
    if type(data) is bytes:
        return len(data)
    return len(data.frame) if type(data) is RawLine else RECORD_BYTES


class MemoryTransport:
    """The embedded transport: one in-process stream for the environment's subjects.

    Header dicts: ``publish`` and ``publish_nowait`` store a copy, so the caller may reuse
    its dict; ``publish_many`` and ``publish_batch_nowait`` (the connector's hot path) store
    the dicts they are given, which the caller must not change afterwards. Readers get the
    stored dict and must not change it either.
    """

    def __init__(
        self,
        env: str = "",
        *,
        max_age: float = 24 * 3600.0,
        max_bytes: int = -1,
        duplicate_window: float = 120.0,
        keep_acked: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.env = env
        self._prefix = f"{env}." if env else ""
        self._max_age_ns = int(max_age * 1e9) if max_age > 0 else 0
        self._max_bytes = max_bytes
        self._window_ns = int(duplicate_window * 1e9)
        self._clock = clock or SystemClock()
        self._now = time.time_ns if type(self._clock) is SystemClock else self._clock.now_ns
        self._keep_ns = int(keep_acked * 1e9) if keep_acked > 0 else 0
        """With ``keep_acked``, a message every consumer is done with goes once it is that old."""
        self._floor = 0
        self._floor_at = -(10**18)
        self._limited = bool(self._max_age_ns) or max_bytes > 0 or bool(self._keep_ns)
        self._msgs: list[_Stored] = []
        self._head = 0
        """Index in ``_msgs`` of the first retained message; ``_msgs[0]`` has seq ``_base``."""
        self._base = 1
        self._bytes = 0
        self._dedup: dict[str, int] = {}
        self._dedup_order: deque[tuple[int, tuple[str, ...]]] = deque()
        """The ids in ``_dedup`` by store time: one entry per publish or per batch (tuples of
        str, which the garbage collector stops tracking)."""
        self._durables: dict[str, _Consumer] = {}
        self._latest: list[_Latest] = []
        self._routes: dict[str, list[_Latest]] = {}
        """subject -> the live views it feeds (rebuilt when a view comes or goes)."""
        self._subs: set[MemorySubscription] = set()
        self._sleepers: set[_Waitable] = set()
        self._valid: set[str] = set()
        """Subjects already checked (the hot path publishes to few distinct subjects)."""

    # -- lifecycle ---------------------------------------------------------------------
    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.close()

    async def ensure_stream(self) -> None:
        return None

    # -- publishing --------------------------------------------------------------------
    async def publish(
        self,
        subject: str,
        data: Payload,
        headers: dict[str, str] | None = None,
        msg_id: str | None = None,
    ) -> int:
        return self.publish_nowait(subject, data, headers, msg_id)

    async def publish_many(self, items: Sequence[Publish]) -> list[int]:
        """Publish a batch at once; returns the sequences. This is ``publish_batch_nowait``:
        the header dicts are stored as given, and a batch with an invalid subject raises
        ``TransportError`` and stores nothing."""
        return self.publish_batch_nowait(items)

    def publish_nowait(
        self,
        subject: str,
        data: Payload,
        headers: dict[str, str] | None = None,
        msg_id: str | None = None,
    ) -> int:
        """``publish`` without the coroutine: a batch of one (the header dict is copied)."""
        return self.publish_batch_nowait([(subject, data, dict(headers) if headers else None, msg_id)])[0]

    def publish_batch_nowait(self, items: Sequence[Publish]) -> list[int]:
        """Publish ``(subject, data, headers, msg_id)`` items in order; returns their sequences.

        Same outcome as ``publish_nowait`` item by item (order, de-duplication, also within
        the batch, retention, live views), with the cost paid once per batch: one clock read
        (every item gets the same ``ts``), one expiry of the duplicate window, readers woken
        once at the end. All subjects are checked first: an invalid one raises
        ``TransportError`` and nothing is stored.

        Ownership: the header dicts are stored as given, not copied (``publish`` and
        ``publish_nowait`` copy them), so the caller hands them over and must not change
        them afterwards; one dict may be shared by several items.
        """
        valid = self._valid
        for item in items:
            if item[0] not in valid:
                self._check(item[0])
        now = self._now()
        self._forget_ids(now)
        dedup = self._dedup
        ids: list[str] = []
        msgs = self._msgs
        store = msgs.append
        first = len(msgs)
        next_seq = self._base + first
        latest = self._latest
        routes = self._routes
        seqs: list[int] = []
        for subject, data, headers, msg_id in items:
            if msg_id is not None:
                seen = dedup.setdefault(msg_id, next_seq)
                if seen != next_seq:
                    seqs.append(seen)
                    continue
                ids.append(msg_id)
            if type(data) is not bytes and type(data) is not RawLine and type(data) not in RECORD_CLASSES:
                data = bytes(data)  # type: ignore[arg-type]  # a bytearray or memoryview
            stored = _Stored(next_seq, subject, data, headers or {}, now)
            store(stored)
            seqs.append(next_seq)
            next_seq += 1
            if latest:
                views = routes.get(subject)
                if views is None:
                    views = self._route(subject)
                for view in views:
                    view.queue.append(stored)
        if ids:
            self._dedup_order.append((now, tuple(ids)))
        if self._limited and len(msgs) > first:
            self._retain(now, sum(size_of(m.data) for m in msgs[first:]) if self._max_bytes > 0 else 0)
        if self._sleepers:
            subjects = {item[0] for item in items}
            woken = [s for s in self._sleepers if any(s.wants(subject) for subject in subjects)]
            for sleeper in woken:
                sleeper.wake()
                self._sleepers.discard(sleeper)
        return seqs

    def _check(self, subject: str) -> None:
        """Validate a subject once; the hot path publishes to few distinct subjects."""
        if not subject.startswith(self._prefix):
            raise TransportError(f"subject {subject!r} is outside the stream ({self._prefix}>)", retryable=False)
        check_subject(subject)
        if len(self._valid) >= 100_000:
            self._valid.clear()
        self._valid.add(subject)

    def _route(self, subject: str) -> list[_Latest]:
        """The live views ``subject`` feeds, remembered (the hot path sees few subjects)."""
        if len(self._routes) >= 100_000:
            self._routes.clear()
        views = self._routes[subject] = [view for view in self._latest if view.match(subject)]
        return views

    def _forget_ids(self, now: int) -> None:
        """Drop the message ids stored before the duplicate window, a store time at a time."""
        order = self._dedup_order
        if order and order[0][0] < now - self._window_ns:
            horizon = now - self._window_ns
            dedup = self._dedup
            while order and order[0][0] < horizon:
                for msg_id in order.popleft()[1]:
                    dedup.pop(msg_id, None)

    def _retain(self, now: int, added_bytes: int) -> None:
        """Apply ``max_age``/``max_bytes`` (and ``keep_acked``) after storing ``added_bytes`` at ``now``."""
        if self._max_bytes > 0:
            self._bytes += added_bytes
        too_old = self._max_age_ns and self._msgs[self._head].ts < now - self._max_age_ns
        if too_old or (self._max_bytes > 0 and self._bytes > self._max_bytes):
            self._trim(now)
        if self._keep_ns and self._msgs[self._head].ts < now - self._keep_ns:
            self._trim_done(now)

    def _done_below(self, now: int) -> int:
        """The lowest seq some consumer still needs (its next, or one unacked or due again);
        recomputed at most once a second: it only grows, so an older value is a safe bound."""
        if now - self._floor_at >= 1_000_000_000:
            consumers = [*self._durables.values()]
            consumers += [s.consumer for s in self._subs if s.consumer is not None and not s.closed]
            for consumer in consumers:
                self._skip_unwanted(consumer)
            self._floor = min((c.needed() for c in consumers), default=self._base + len(self._msgs))
            self._floor_at = now
        return self._floor

    def _skip_unwanted(self, consumer: _Consumer) -> None:
        """Move a consumer's cursor past the messages its filter does not select (a reader
        moves it only when it reads, and one whose subjects are rare seldom reads)."""
        msgs, match = self._msgs, consumer.match
        i = max(consumer.cursor - self._base, self._head)
        n = len(msgs)
        while i < n and not match(msgs[i].subject):
            i += 1
        consumer.cursor = self._base + i

    def _trim_done(self, now: int) -> None:
        """Drop the oldest messages that are older than ``keep_acked`` and that no consumer
        needs any more (never one a consumer has not acked)."""
        msgs, floor, horizon = self._msgs, self._done_below(now), now - self._keep_ns
        head = self._head
        while head < len(msgs) - 1 and self._base + head < floor and msgs[head].ts < horizon:
            if self._max_bytes > 0:
                self._bytes -= size_of(msgs[head].data)
            head += 1
        self._drop_before(head)

    def _drop_before(self, head: int) -> None:
        """Make ``head`` (an index in ``_msgs``) the first retained message; the list is
        compacted once half of it is dropped."""
        msgs = self._msgs
        if head >= _COMPACT_AT and head * 2 >= len(msgs):
            del msgs[:head]
            self._base += head
            head = 0
        self._head = head

    def _trim(self, now: int) -> None:
        msgs = self._msgs
        horizon = now - self._max_age_ns if self._max_age_ns else None
        head = self._head
        while head < len(msgs) - 1:
            first = msgs[head]
            too_old = horizon is not None and first.ts < horizon
            too_big = self._max_bytes > 0 and self._bytes > self._max_bytes
            if not (too_old or too_big):
                break
            if self._max_bytes > 0:
                self._bytes -= size_of(first.data)
            head += 1
        self._drop_before(head)

    # -- reading -----------------------------------------------------------------------
    @property
    def first_seq(self) -> int:
        return self._base + self._head

    @property
    def last_seq(self) -> int:
        return self._base + len(self._msgs) - 1

    def _get(self, seq: int) -> _Stored | None:
        i = seq - self._base
        if i < self._head or i >= len(self._msgs):
            return None
        stored = self._msgs[i]
        return None if stored.subject is _PURGED else stored

    def _scan(self, consumer: _Consumer, limit: int) -> list[_Stored]:
        """Up to ``limit`` messages from the consumer's cursor that match its filter; moves
        the cursor past them (past everything scanned)."""
        msgs = self._msgs
        i = max(consumer.cursor - self._base, self._head)
        n = len(msgs)
        match = consumer.match
        out: list[_Stored] = []
        while i < n:
            stored = msgs[i]
            i += 1
            if match(stored.subject):
                out.append(stored)
                if len(out) >= limit:
                    break
        consumer.cursor = self._base + i
        return out

    async def ack_many(self, messages: Sequence[Any]) -> None:
        """Ack messages delivered by this bus: one pass per run of one consumer's messages."""
        consumer: _Consumer | None = None
        seqs: list[int] = []
        for msg in messages:
            owner = msg._consumer
            if owner is not consumer:
                if consumer is not None and seqs:
                    consumer.ack_many(seqs)
                consumer, seqs = owner, []
            seqs.append(msg.seq)
        if consumer is not None and seqs:
            consumer.ack_many(seqs)

    def _start_seq(self, start: StartPosition) -> int:
        if start.kind == "all":
            return self.first_seq
        if start.kind == "new":
            return self.last_seq + 1
        if start.kind == "seq":
            return max(start.value, 1)
        live = self._msgs[self._head :]
        return self.first_seq + bisect.bisect_left(live, start.value, key=lambda m: m.ts)

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str | None = None,
        start: StartPosition = StartPosition(),
        ack_wait: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> MemorySubscription:
        consumer = self._durables.get(durable) if durable else None
        if consumer is None:
            consumer = _Consumer(self, Matcher(subject), self._start_seq(start), ack_wait, max(1, max_ack_pending))
            if durable:
                self._durables[durable] = consumer
        else:
            if consumer.match.pattern != subject:
                consumer.match = Matcher(subject)
            consumer.reconfigure(ack_wait, max(1, max_ack_pending))
        sub = MemorySubscription(self, consumer, durable)
        self._subs.add(sub)
        return sub

    async def subscribe_latest(self, subject: str, *, buffer: int = 1000) -> MemorySubscription:
        latest = _Latest(self, Matcher(subject), buffer)
        self._latest.append(latest)
        self._routes.clear()
        sub = MemorySubscription(self, latest, None)
        self._subs.add(sub)
        return sub

    def _detach(self, sub: MemorySubscription) -> None:
        self._subs.discard(sub)
        source = sub._source
        if isinstance(source, _Latest) and source in self._latest:
            self._latest.remove(source)
            self._routes.clear()

    # -- administration (teardown, inspection) -----------------------------------------
    def purge(self, subject: str = ">") -> int:
        """Forget stored messages matching ``subject``; returns how many. Sequences stay."""
        matcher = Matcher(subject)
        msgs = self._msgs
        removed = 0
        for i in range(self._head, len(msgs)):
            stored = msgs[i]
            if stored.subject and matcher(stored.subject):
                self._bytes -= size_of(stored.data) if self._max_bytes > 0 else 0
                msgs[i] = _Stored(stored.seq, _PURGED, b"", {}, stored.ts)
                removed += 1
        return removed

    def count(self, subject: str = ">") -> int:
        matcher = Matcher(subject)
        return sum(1 for m in self._iter() if m.subject and matcher(m.subject))

    def _iter(self) -> Iterator[_Stored]:
        return iter(self._msgs[self._head :])
