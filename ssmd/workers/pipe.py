"""The archiver process's transport: messages from the parent, acks back to it.

``PipeTransport.deliver`` hands each message to the subscription whose filter selects its
subject; ``ack()`` queues the parent seq, and ``take_acks`` gives them to the frame writer.
A ``nak`` is left to the parent: what is never acked is delivered again after its
``ack_wait``, or to the next child.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from ssmd import codec
from ssmd.errors import TransportError
from ssmd.middleware.transport.base import Iteration, Payload, StartPosition
from ssmd.middleware.transport.subjects import Matcher
from ssmd.workers.wire import Delivery

_seq = attrgetter("seq")


class PipeSubscription(Iteration):
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.queue: deque[Delivery] = deque()
        self.closed = False
        self._ready = asyncio.Event()

    def wake(self) -> None:
        """Messages were appended to ``queue`` directly (``PipeTransport.deliver``)."""
        self._ready.set()

    async def next(self, timeout: float | None = None) -> Delivery:
        while not self.queue:
            if self.closed:
                raise TransportError("subscription closed")
            self._ready.clear()
            if timeout is None:
                await self._ready.wait()
            else:
                await asyncio.wait_for(self._ready.wait(), timeout)
        return self.queue.popleft()

    async def next_batch(self, max_n: int, timeout: float | None = None) -> list[Delivery]:
        first = await self.next(timeout)
        queue = self.queue
        out = [first]
        while queue and len(out) < max_n:
            out.append(queue.popleft())
        return out

    async def close(self) -> None:
        self.closed = True
        self._ready.set()


class PipeTransport:
    def __init__(self) -> None:
        self.subs: list[PipeSubscription] = []
        self.acks: list[int] = []
        self.published: list[tuple[str, bytes, dict[str, str]]] = []
        self._route: dict[str, PipeSubscription | None] = {}

    def deliver(self, parts: Sequence[list[Delivery]]) -> None:
        """Queue each message on its subscription, in stream order (woken once per call, not
        per message). ``parts`` holds one list per kind of data, each in stream order; a
        subscription that gets more than one kind gets them merged back by seq."""
        route, acks = self._route, self.acks
        got: dict[PipeSubscription, list[Delivery]] = {}
        kinds: dict[PipeSubscription, int] = {}
        for kind, msgs in enumerate(parts):
            last: str | None = None
            into: list[Delivery] | None = None
            for msg in msgs:
                msg.acks = acks
                subject = msg.subject
                if subject != last:
                    last = subject
                    if subject not in route:
                        route[subject] = next((s for s in self.subs if s.matcher(subject)), None)
                    sub = route[subject]
                    into = None if sub is None else got.setdefault(sub, [])
                    if sub is not None and kinds.setdefault(sub, kind) != kind:
                        kinds[sub] = -1  # more than one kind
                if into is None:
                    acks.append(msg.seq)  # nothing here wants it
                else:
                    into.append(msg)
        for sub, msgs in got.items():
            if kinds[sub] == -1:
                msgs.sort(key=_seq)
            sub.queue.extend(msgs)
            sub.wake()

    def take_acks(self) -> list[int]:
        out, self.acks[:] = list(self.acks), []
        return out

    # ---- the Transport methods the archiver uses --------------------------------------
    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        for sub in self.subs:
            await sub.close()

    async def ensure_stream(self) -> None:
        return None

    async def publish(self, subject: str, data: Payload, headers: dict[str, str] | None = None,
                      msg_id: str | None = None) -> int:
        data, headers = codec.wire(data, headers)
        self.published.append((subject, data, dict(headers or {})))
        return 0

    async def publish_many(self, items: Sequence[tuple[str, Payload, dict[str, str] | None, str | None]]) -> list[int]:
        for subject, data, headers, _ in items:
            wired, headers = codec.wire(data, headers)
            self.published.append((subject, wired, dict(headers or {})))
        return [0] * len(items)

    async def ack_many(self, messages: Sequence[Any]) -> None:
        self.acks.extend(m.seq for m in messages)

    async def subscribe(self, subject: str, *, durable: str | None = None, start: StartPosition = StartPosition(),
                        ack_wait: float = 30.0, max_ack_pending: int = 10_000) -> PipeSubscription:
        sub = PipeSubscription(Matcher(subject))
        self.subs.append(sub)
        self._route.clear()
        return sub

    async def subscribe_latest(self, subject: str, *, buffer: int = 1000) -> Any:
        raise TransportError("the archiver process has no live view", retryable=False)
