"""Replay through the gateway: archived records → the live message shapes, paced.

Records come from the catalog (``ssmd.catalog.replay.replay_records``, read in a worker
thread in chunks) and go through a private ``LiveState(replay=True)``, so a replayed
message has exactly the live shape plus ``"replay": true`` (order books rebuilt from the
archived snapshot + deltas; a replay with ``from`` starts with the full books as of
that time). Messages are paced in exchange time divided by ``speed`` and
wait for room in the client's buffer: a replay is never dropped, it slows to the client.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator

from ssmd.clock import Clock, parse_moment
from ssmd.errors import SsmdError
from ssmd.gateway import protocol as proto
from ssmd.gateway.buffer import Entry
from ssmd.gateway.session import Session
from ssmd.gateway.state import LiveState
from ssmd.records import Record

CHUNK = 2000
"""Records read from the archive per worker-thread call."""


def parse_bound(value: str | int | None, date: str, field: str) -> int | None:
    """A ``from``/``to`` bound: ns since epoch, RFC 3339 text, or ``HH:MM[:SS]`` on ``date`` (UTC)."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_moment(value, date)
    except ValueError:
        raise proto.BadRequest(f"replay: {field} must be RFC 3339, HH:MM:SS or ns, got {value!r}") from None


OpenRecords = Callable[[proto.Replay, int | None, int | None], Awaitable[Iterator[Record]]]


async def stream_replay(session: Session, request: proto.Request, open_records: OpenRecords, clock: Clock,
                        room: Callable[[], Awaitable[None]]) -> int:
    """Stream one replay to ``session``; returns the number of messages queued."""
    action = request.action
    assert isinstance(action, proto.Replay)
    start = parse_bound(action.start, action.date, "from")
    end = parse_bound(action.end, action.date, "to")
    if start is not None and end is not None and end <= start:
        raise proto.BadRequest("replay: to must be after from")
    records = await open_records(action, None, end)  # from the day's start: books need their history
    session.send_control(proto.reply("replay_started", request), clock.monotonic())
    state = LiveState(replay=True)
    count = 0
    first_ts: int | None = None
    t0 = 0.0
    while True:
        chunk: list[Record] = await asyncio.to_thread(lambda: list(itertools.islice(records, CHUNK)))
        if not chunk:
            break
        for record in chunk:
            if session.state != "open":
                return count
            if start is not None:
                if record.ts < start:
                    state.apply(record)  # rebuild the books up to the window, silently
                    continue
                start = None
                for ticker, market in sorted(state.markets.items()):
                    if market.book is not None:
                        await _queue(session, state.book_message(ticker), "orderbook", ticker, clock, room)
                        count += 1
            if action.speed > 0:
                if first_ts is None:
                    first_ts, t0 = record.ts, clock.monotonic()
                wait = (record.ts - first_ts) / 1e9 / action.speed - (clock.monotonic() - t0)
                if wait > 0:
                    await asyncio.sleep(wait)
            update = state.apply(record)
            await _queue(session, update.data, update.kind, update.ticker, clock, room)
            count += 1
    session.send_control(proto.reply("replay_finished", request, messages=count), clock.monotonic())
    return count


async def _queue(session: Session, data: bytes, kind: str, ticker: str, clock: Clock,
                 room: Callable[[], Awaitable[None]]) -> None:
    """Queue one replayed message, waiting while the client's buffer is half full."""
    while session.buffer.utilisation >= 0.5 and session.state == "open":
        await room()
    session.buffer.push(Entry(data, kind, ticker, clock.monotonic(), forced=True))
    session.notify()


async def run_replay(session: Session, request: proto.Request, open_records: OpenRecords, clock: Clock,
                     room: Callable[[], Awaitable[None]]) -> None:
    """``stream_replay`` with errors answered to the client as ``error`` messages."""
    try:
        await stream_replay(session, request, open_records, clock, room)
    except proto.BadRequest as exc:
        session.send_control(proto.error(exc.reason, request.raw), clock.monotonic())
    except SsmdError as exc:
        session.send_control(proto.error(f"replay: {exc}", request.raw), clock.monotonic())

