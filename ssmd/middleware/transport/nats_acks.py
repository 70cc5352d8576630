"""JetStream publish acks for a pipelined batch, collected through one subscription.

``publish_many`` publishes each message with the reply subject ``{inbox}.{batch}.{i}``;
JetStream answers each with a JSON ack (``{"stream": .., "seq": N}``, or ``{"error": ..}``).
One wildcard subscription hands every ack to ``Acks.on_ack``, which files its sequence
under its batch and index: no future per message, and the ack decoded by msgspec
(nats-py's ``publish_async`` keeps a future per message and builds each ack with a
dataclass).
"""

from __future__ import annotations

import asyncio
import itertools

import msgspec


class _Ack(msgspec.Struct):
    seq: int | None = None
    error: dict[str, object] | None = None


_decode = msgspec.json.Decoder(_Ack).decode


class Batch:
    """The acks of one ``publish_many``: ``seqs[i]`` is the stream sequence of item ``i``,
    or None until a good ack came (an error ack leaves it None too)."""

    def __init__(self, n: int) -> None:
        self.seqs: list[int | None] = [None] * n
        self.waiting = n
        self.done = asyncio.Event()
        if not n:
            self.done.set()

    def answered(self, i: int, seq: int | None) -> None:
        if 0 <= i < len(self.seqs) and self.seqs[i] is None:
            self.seqs[i] = seq
            self.waiting -= 1
            if self.waiting <= 0:
                self.done.set()

    def skipped(self, i: int) -> None:
        """Item ``i`` never went out (the connection was down): nothing will answer it."""
        self.answered(i, None)


class Acks:
    def __init__(self, inbox: str) -> None:
        self.prefix = inbox
        self.batches: dict[int, Batch] = {}
        self._ids = itertools.count(1)

    def open(self, n: int) -> tuple[int, Batch]:
        bid = next(self._ids)
        batch = self.batches[bid] = Batch(n)
        return bid, batch

    def close(self, bid: int) -> None:
        self.batches.pop(bid, None)

    def reply(self, bid: int, i: int) -> str:
        return f"{self.prefix}.{bid}.{i}"

    async def on_ack(self, msg: object) -> None:
        subject: str = msg.subject  # type: ignore[attr-defined]
        _, bid, i = subject.rsplit(".", 2)
        batch = self.batches.get(int(bid))
        if batch is None:
            return  # a batch given up on: its stragglers are published again by publish()
        try:
            ack = _decode(msg.data)  # type: ignore[attr-defined]
        except msgspec.DecodeError:
            ack = _Ack()
        batch.answered(int(i), ack.seq if ack.error is None else None)
