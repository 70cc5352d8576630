"""Replay a recorded raw archive (or a fixture) through the simulator's protocol.

Lines are the raw archive format (``received_at``, ``conn``, ``channel``, ``type``,
``sid``, ``seq``, ``frame``), plain ``.jsonl`` or zstd ``.jsonl.zst``. Data frames go to
every subscription of their channel (market filters apply) with that subscription's own
sid and seq; the payload bytes are the recorded ones. Frames that do not parse, or whose
channel is ``unknown``, are sent as is. Command responses are not replayed.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ssmd.errors import DataError
from ssmd.simulator.engine import Event
from ssmd.simulator.protocol import CHANNELS

if TYPE_CHECKING:
    from ssmd.simulator.simulator import Simulator

CONTROL_TYPES = frozenset({"subscribed", "ok", "unsubscribed", "error"})


class Line(msgspec.Struct):
    received_at: int
    channel: str
    type: str
    frame: str
    conn: str = ""
    sid: int | None = None
    seq: int | None = None


class _Envelope(msgspec.Struct):
    type: str = ""
    msg: msgspec.Raw = msgspec.Raw(b"null")


class _Msg(msgspec.Struct):
    market_ticker: str = ""
    event_ticker: str = ""


_line = msgspec.json.Decoder(Line)
_env = msgspec.json.Decoder(_Envelope)
_msg = msgspec.json.Decoder(_Msg)


def read_lines(path: str | Path) -> Iterator[Line]:
    """The archive's lines in order; a bad line raises DataError naming file and line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc.strerror}") from None
    if p.suffix == ".zst":
        import zstandard

        try:
            # an archive file is a concatenation of zstd frames (one per flush)
            raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True).read()
        except zstandard.ZstdError as exc:
            raise DataError(f"{p}: not a zstd file: {exc}") from None
    for number, text in enumerate(raw.splitlines(), 1):
        if not text.strip():
            continue
        try:
            yield _line.decode(text)
        except msgspec.DecodeError as exc:
            raise DataError(f"{p}:{number}: not a raw archive line: {exc}") from None


def to_event(line: Line) -> Event | None:
    """The replayable event of a line (None for command responses)."""
    if line.type in CONTROL_TYPES:
        return None
    data = line.frame.encode()
    if line.channel not in CHANNELS:
        return Event("unknown", "unknown", "", data)
    try:
        env = _env.decode(data)
        inner = _msg.decode(env.msg) if env.msg != b"null" else _Msg()
    except msgspec.DecodeError:
        return Event("unknown", "unknown", "", data)
    return Event(line.channel, env.type or line.type, inner.market_ticker or inner.event_ticker, bytes(env.msg))


async def _wait_for_subscribers(sim: Simulator, channels: set[str]) -> None:
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    while True:
        subscribed = {ch for c in sim.conns.values() for ch in c.session.by_channel if c.session.by_channel[ch]}
        if subscribed:
            if channels <= subscribed:
                return
            deadline = deadline or loop.time() + sim.settings.replay_wait
            if loop.time() >= deadline:
                return
        sim.subscribed.clear()
        timeout = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            await asyncio.wait_for(sim.subscribed.wait(), timeout)
        except TimeoutError:
            return


async def replay_loop(sim: Simulator, lines: list[Line]) -> None:
    """Send the archive's frames to the subscribers, paced by their receive times."""
    path = sim.settings.replay
    events = [(line.received_at, to_event(line)) for line in lines]
    wanted = {e.channel for _, e in events if e is not None and e.channel in CHANNELS}
    await _wait_for_subscribers(sim, wanted)
    speed = sim.settings.replay_speed
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = events[0][0] if events else 0
    for at, event in events:
        if event is None:
            continue
        if speed > 0:
            delay = (at - first) / 1e9 / speed - (loop.time() - start)
            if delay > 0:
                await asyncio.sleep(delay)
        if event.channel == "unknown":
            sim.send_raw(event.body)
        else:
            sim.dispatch([event])
        if speed <= 0:
            await asyncio.sleep(0)
    sim.replay_done.set()
    sim.log.info("replay finished", file=str(path), frames=len(events))
