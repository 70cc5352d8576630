"""The transport interface: publish to subjects, consume with durable, acked replay.

Semantics every implementation keeps (proven by tests/middleware/test_transport_contract.py):

* Subjects are dot-separated tokens; filters take ``*`` (one token) and ``>`` (the rest).
* ``publish`` returns the stream sequence. A ``msg_id`` seen within the duplicate window is
  not stored again (JetStream ``Nats-Msg-Id``); the earlier sequence is returned.
* Messages are delivered in stream order per subject.
* A durable consumer (``durable=name``) remembers its position across ``subscribe`` calls;
  a message not acked within ``ack_wait`` seconds (or ``nak``-ed) is redelivered with
  ``redelivered=True``. At most ``max_ack_pending`` unacked messages are in flight: a slow
  consumer holds itself back, never the publisher.
* ``next_batch`` hands out the messages ready now (at least one), and ``ack_many`` acks
  many at once: the same deliveries and the same redelivery as ``next`` and ``ack`` one by one.
* ``subscribe_latest`` is an ephemeral, unacked live view that keeps only the newest
  ``buffer`` messages when the reader falls behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol, Self

import msgspec

from ssmd.errors import TransportError
from ssmd.rawline import RawLine
from ssmd.records import Record

Payload = bytes | Record | RawLine
"""A message's data: bytes, or (``publish_many``) a normalized record or a raw line,
which a transport leaving the process sends as bytes (and headers) with ``codec.wire``."""


class StartPosition(msgspec.Struct, frozen=True):
    """Where a new consumer starts: ``all`` (beginning), ``new`` (end), a sequence, or a
    time (ns since epoch)."""

    kind: Literal["all", "new", "seq", "time"] = "all"
    value: int = 0

    @classmethod
    def beginning(cls) -> StartPosition:
        return cls("all")

    @classmethod
    def end(cls) -> StartPosition:
        return cls("new")

    @classmethod
    def at_seq(cls, seq: int) -> StartPosition:
        return cls("seq", seq)

    @classmethod
    def at_time(cls, ns: int) -> StartPosition:
        return cls("time", ns)


class Message(Protocol):
    """A delivered message."""

    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> Payload:
        """The bytes published, or, on the memory bus, the record or raw line published as
        it is (``ssmd.codec.decode`` reads a record in both forms, ``ssmd.rawline.line_of`` a
        raw line; ``ssmd.codec.wire`` gives the bytes and headers)."""
        ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def seq(self) -> int:
        """Stream sequence (0 for ``subscribe_latest`` deliveries without one)."""
        ...
    @property
    def ts(self) -> int:
        """Time the stream stored it, ns since epoch."""
        ...
    @property
    def redelivered(self) -> bool: ...

    async def ack(self) -> None: ...
    async def nak(self, delay: float = 0.0) -> None: ...


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Message]: ...
    async def next(self, timeout: float | None = None) -> Message:
        """The next message; ``TimeoutError`` after ``timeout`` seconds."""
        ...
    async def next_batch(self, max_n: int, timeout: float | None = None) -> Sequence[Message]:
        """The messages ready now, in order, at most ``max_n`` and at least one: waits for
        the first like ``next``. Each is acked (or not) on its own, as from ``next``."""
        ...
    async def close(self) -> None:
        """Stop delivery. A durable consumer keeps its position for the next subscribe."""
        ...


class Iteration:
    """``async for message in subscription``: messages until the subscription is closed.

    Mixed into the implementations, which provide ``next()`` and ``closed``.
    """

    closed: bool

    async def next(self, timeout: float | None = None) -> Any:
        raise NotImplementedError

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.next()
        except TransportError:
            if self.closed:
                raise StopAsyncIteration from None
            raise


class Transport(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...

    async def ensure_stream(self) -> None:
        """Create the environment's stream (``{env}.>``) if missing; idempotent."""
        ...

    async def publish(
        self,
        subject: str,
        data: Payload,
        headers: dict[str, str] | None = None,
        msg_id: str | None = None,
    ) -> int: ...

    async def publish_many(
        self, items: Sequence[tuple[str, Payload, dict[str, str] | None, str | None]]
    ) -> list[int]:
        """Publish ``(subject, data, headers, msg_id)`` items in order (pipelined where the
        backend can); returns their sequences, as ``publish`` one by one would. On an error
        the items before the failing one may be stored: their ids make a retry harmless.
        The header dicts are handed over: the caller never changes them afterwards, and
        one dict may serve several items.

        ``data`` may be a record or a ``RawLine`` itself: a transport that crosses a process
        boundary sends a record Cap'n Proto encoded and a raw line as its frame with its
        facts as headers (``ssmd.codec.wire``); the memory bus hands either to its consumers
        as it is, saving an encode and a decode per consumer. Either way consumers read a
        record with ``ssmd.codec.decode`` and a raw line with ``ssmd.rawline.line_of``."""
        ...

    async def ack_many(self, messages: Sequence[Message]) -> None:
        """Ack messages this transport delivered, at once where it can. Same outcome as
        ``ack`` on each; a failed ack only means that message is redelivered."""
        ...

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str | None = None,
        start: StartPosition = StartPosition(),
        ack_wait: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> Subscription: ...

    async def subscribe_latest(self, subject: str, *, buffer: int = 1000) -> Subscription: ...
