"""FrameBuffer: the reader's hand-off never waits; a full buffer refuses and says how many."""

from __future__ import annotations

import asyncio
import itertools

from ssmd.connector.buffer import FrameBuffer


def test_push_many_stamps_each_frame_in_order() -> None:
    async def run() -> None:
        buffer = FrameBuffer(10)
        clock = itertools.count(100)
        last, dropped = buffer.push_many([b"a", b"b", b"c"], lambda: next(clock))
        assert (last, dropped) == (102, 0)
        assert await buffer.take(10) == [(b"a", 100), (b"b", 101), (b"c", 102)]

    asyncio.run(run())


def test_push_many_refuses_what_does_not_fit() -> None:
    async def run() -> None:
        buffer = FrameBuffer(3)
        clock = itertools.count(1)
        assert buffer.push(b"x", 0)
        last, dropped = buffer.push_many([b"a", b"b", b"c", b"d"], lambda: next(clock))
        assert dropped == 2 and last == 3  # two stored (stamps 1, 2), then the time of the refusal
        assert await buffer.take(10) == [(b"x", 0), (b"a", 1), (b"b", 2)]
        assert buffer.push_many([], lambda: next(clock)) == (0, 0)
        full = FrameBuffer(1)
        full.push(b"x", 0)
        assert full.push_many([b"a"], lambda: 7) == (7, 1)

    asyncio.run(run())
