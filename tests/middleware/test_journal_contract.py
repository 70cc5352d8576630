"""One contract for every journal: memory, JSONL files and JetStream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ssmd.clock import ManualClock
from ssmd.errors import JournalError
from ssmd.middleware.transport.base import StartPosition

OpenJournal = Callable[[], Awaitable[Any]]


@pytest.fixture(params=["memory", "file", "jetstream"])
async def journals(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, OpenJournal, ManualClock]]:
    """(env, factory of journal clients over the same data, the clock they stamp with)."""
    env = f"t{uuid.uuid4().hex[:8]}"
    clock = ManualClock()
    opened: list[Any] = []
    if request.param == "memory":
        from ssmd.middleware.journal.memory import MemoryJournal

        shared = MemoryJournal(clock)

        async def factory() -> Any:
            return shared
    elif request.param == "file":
        from ssmd.middleware.journal.file import FileJournal

        async def factory() -> Any:
            j = FileJournal(tmp_path / "journal", clock=clock, segment_entries=4)
            await j.connect()
            return j
    else:
        from ssmd.config.model import JetStreamConfig
        from ssmd.middleware.journal.jetstream import JetStreamJournal
        from ssmd.middleware.transport.nats import NatsTransport

        url = request.getfixturevalue("nats_server").url
        transport = NatsTransport(url, env, JetStreamConfig(stream=f"ssmd-{env}"))
        await transport.connect()
        await transport.ensure_stream()
        opened.append(transport)

        async def factory() -> Any:
            j = JetStreamJournal(url, f"ssmd-{env}", env, clock=clock)
            await j.connect()
            opened.append(j)
            return j

    yield env, factory, clock
    for item in opened:
        await item.close()


async def _all(journal: Any, topic: str, start: StartPosition = StartPosition()) -> list[Any]:
    return [e async for e in journal.read(topic, start)]


async def test_append_returns_sequences_per_topic(journals: tuple[str, OpenJournal, ManualClock]) -> None:
    env, factory, _ = journals
    j = await factory()
    assert await j.last_seq(f"{env}.day.events") == 0
    assert [await j.append(f"{env}.day.events", {"n": i}) for i in range(10)] == list(range(1, 11))
    assert await j.append(f"{env}.secmaster.changes", {"ticker": "KXBTCD-26JUL2317-T118999.99"}) == 1
    assert await j.last_seq(f"{env}.day.events") == 10
    entries = await _all(j, f"{env}.day.events")
    assert [(e.seq, e.data) for e in entries] == [(i + 1, {"n": i}) for i in range(10)]
    assert [e.data for e in await _all(j, f"{env}.secmaster.changes")] == [{"ticker": "KXBTCD-26JUL2317-T118999.99"}]
    assert await _all(j, f"{env}.audit") == []


async def test_read_from_positions(journals: tuple[str, OpenJournal, ManualClock]) -> None:
    env, factory, clock = journals
    j = await factory()
    topic = f"{env}.day.events"
    stamps = []
    for i in range(6):
        stamps.append(clock.now_ns())
        await j.append(topic, {"state": f"s{i}"})
        clock.advance(60)
    assert [e.seq for e in await _all(j, topic, StartPosition.at_seq(5))] == [5, 6]
    assert [e.seq for e in await _all(j, topic, StartPosition.at_time(stamps[3]))] == [4, 5, 6]
    assert [e.ts for e in await _all(j, topic)] == stamps
    assert await _all(j, topic, StartPosition.end()) == []


async def test_several_writers_share_one_sequence(journals: tuple[str, OpenJournal, ManualClock]) -> None:
    env, factory, _ = journals
    a, b = await factory(), await factory()
    topic = f"{env}.audit"
    seqs = []
    for i in range(5):
        seqs.append(await a.append(topic, {"w": "a", "i": i}))
        seqs.append(await b.append(topic, {"w": "b", "i": i}))
    assert seqs == list(range(1, 11))
    assert [e.seq for e in await _all(await factory(), topic)] == seqs


async def test_topics_listing_and_delete(journals: tuple[str, OpenJournal, ManualClock]) -> None:
    env, factory, _ = journals
    j = await factory()
    await j.append(f"{env}.day.events", {"x": 1})
    await j.append(f"{env}.day.events", {"x": 2})
    await j.append(f"{env}.audit", {"x": 3})
    assert await j.topics(f"{env}.") == [f"{env}.audit", f"{env}.day.events"]
    assert await j.delete_topic(f"{env}.day.events") == 2
    assert await j.topics(f"{env}.") == [f"{env}.audit"]
    assert await _all(j, f"{env}.day.events") == []


async def test_entries_must_be_json(journals: tuple[str, OpenJournal, ManualClock]) -> None:
    env, factory, _ = journals
    j = await factory()
    with pytest.raises(JournalError, match="not JSON"):
        await j.append(f"{env}.audit", {"bad": object()})


async def test_append_many_is_append_on_each(journals: tuple[str, OpenJournal, ManualClock]) -> None:
    env, factory, _ = journals
    j = await factory()
    topic = f"{env}.secmaster.changes"
    assert await j.append(topic, {"n": 0}) == 1
    assert await j.append_many(topic, [{"n": 1}, {"n": 2}, {"n": 3}]) == [2, 3, 4]
    assert await j.append_many(topic, []) == []
    with pytest.raises(JournalError, match="not JSON"):
        await j.append_many(topic, [{"n": 4}, {"bad": object()}])
    assert [(e.seq, e.data) for e in await _all(j, topic)] == [(i + 1, {"n": i}) for i in range(4)]
