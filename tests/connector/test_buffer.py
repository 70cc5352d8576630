"""FrameBuffer: the reader's hand-off never waits; it asks the reader to pause before it
fills, and a full buffer refuses and says how many."""

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


def test_reading_pauses_at_high_and_resumes_once_taken_down_to_low() -> None:
    async def run() -> None:
        calls: list[str] = []
        buffer = FrameBuffer(100, high=8, low=2, pause=lambda: calls.append("pause"),
                             resume=lambda: calls.append("resume"))
        clock = itertools.count()
        buffer.push_many([b"f"] * 7, lambda: next(clock))
        assert calls == [] and not buffer.paused
        buffer.push_many([b"f"] * 3, lambda: next(clock))  # 10 >= 8: stop reading, keep what came
        assert calls == ["pause"] and buffer.paused and len(buffer) == 10
        buffer.push(b"f", 0)  # a chunk already read still goes in; no second pause
        assert calls == ["pause"]
        await buffer.take(5)  # 6 left: above low
        assert calls == ["pause"]
        await buffer.take(4)  # 2 left: read again
        assert calls == ["pause", "resume"] and not buffer.paused and buffer.pauses == 1

    asyncio.run(run())
