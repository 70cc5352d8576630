"""Simulator throughput: frames/s served to one WebSocket client.

Next to it, in the same run and process, the bare websockets ceiling: a server sending a
prebuilt frame of the same size in a loop to one client, with one ``send()`` per frame and
with 64 frames per socket write (how the simulator writes); the higher is the ceiling.
Every client only counts frames. Client and server share the process (and a core).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
from common import Result, best_rate
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ssmd.simulator import SimSettings, Simulator
from ssmd.simulator.engine import MarketEngine

CLIENT = {"ping_interval": None, "compression": None, "max_queue": 1024}


async def _count(url: str, seconds: float, subscribe: list[str]) -> tuple[int, int, float]:
    """(frames, bytes, elapsed) received after a short warm-up."""
    ws = await connect(url, **CLIENT)
    try:
        for text in subscribe:
            await ws.send(text)
        deadline_warm = time.perf_counter() + 0.3
        while time.perf_counter() < deadline_warm:
            await ws.recv(decode=False)
        frames = size = 0
        start = time.perf_counter()
        end = start + seconds
        while True:
            data = await ws.recv(decode=False)
            frames += 1
            size += len(data)
            if frames % 256 == 0 and time.perf_counter() >= end:
                return frames, size, time.perf_counter() - start
    finally:
        ws.transport.abort()  # the server is mid-stream; no closing handshake needed


async def _simulator(seconds: float) -> tuple[float, int]:
    settings = SimSettings(markets=200, rate=float("inf"), lifecycle_interval=0, seed=1, interleave=False)
    async with Simulator(settings) as sim:
        books = sim.trading_tickers()
        cmds = [
            '{"id":1,"cmd":"subscribe","params":{"channels":["ticker"]}}',
            '{"id":2,"cmd":"subscribe","params":{"channels":["trade"]}}',
            '{"id":3,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"market_tickers":['
            + ",".join(f'"{t}"' for t in books) + "]}}",
        ]
        frames, size, elapsed = await _count(sim.ws_url, seconds, cmds)
    return frames / elapsed, size // max(frames, 1)


async def _bare(seconds: float, frame_size: int, batched: bool) -> float:
    """A prebuilt frame sent in a loop: one ``send()`` per frame, or 64 frames per write."""
    frame = b'{"type":"orderbook_delta","sid":3,"seq":1,"msg":{"x":"' + b"a" * max(0, frame_size - 60) + b'"}}'
    stop = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while not stop.is_set():
                if batched:
                    async with ws.send_context():
                        for _ in range(64):
                            ws.protocol.send_text(frame)
                        ws.transport.write(b"".join(ws.protocol.data_to_send()))
                else:
                    await ws.send(frame, text=True)

    async with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        frames, _, elapsed = await _count(f"ws://127.0.0.1:{port}/", seconds, [])
        stop.set()
    return frames / elapsed


def _generation(n: int) -> tuple[float, float]:
    """(engine messages/s, msgspec-encode-only messages/s) for the same number of messages."""
    engine = MarketEngine(1, 200, time.time_ns())

    def generate() -> int:
        made = 0
        while made < n:
            made += len(engine.generate(1000, time.time_ns()))
        return made

    delta = {"market_ticker": "KXBTCD-26JUL2317-T118999.99", "market_id": "0f6f2c1e-52a4-4e55-9d1b-2c7b0e0a3f11",
             "price_dollars": "0.6300", "delta_fp": "-15.50", "side": "yes", "ts": "2026-07-23T21:00:10.123000Z",
             "ts_ms": 1784840410123}
    encode = msgspec.json.Encoder().encode

    def encode_only() -> int:
        for _ in range(n):
            encode(delta)
        return n

    return best_rate(generate), best_rate(encode_only)


def run(quick: bool = False) -> list[Result]:
    seconds = 1.0 if quick else 3.0
    generated, encoded = _generation(50_000 if quick else 200_000)

    async def all_three() -> tuple[float, int, float, float]:
        rate, size = await _simulator(seconds)
        plain = await _bare(seconds, size, batched=False)
        batched = await _bare(seconds, size, batched=True)
        return rate, size, plain, batched

    rate, size, plain, batched = asyncio.run(all_three())
    ceiling = max(plain, batched)
    return [
        Result(f"simulator -> 1 client (~{size} B frames)", rate, "frames/s", ceiling,
               "bare websockets, prebuilt frame", goal="well above Kalshi's real rate"),
        Result("bare websockets send() per frame", plain, "frames/s", ceiling, "bare websockets, prebuilt frame"),
        Result("market activity generation (engine only)", generated, "msg/s", encoded,
               "msgspec encode of one prebuilt message", goal=">= 100k msg/s"),
    ]
