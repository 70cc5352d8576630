"""The exchange and the readers of the end-to-end benchmark (``bench_e2e.py``).

* ``BurstExchange``: a minimal exchange speaking Kalshi's WebSocket protocol. It answers
  ``subscribe`` with one ``subscribed`` ack per channel (``ok`` / ``unsubscribed`` for the
  other commands) and, when told, writes N ``trade`` frames with per-sid ``seq`` to one
  subscriber. The frames are built, WebSocket-framed and joined into 64 KiB blobs before
  the clock starts, so sending is a few hundred ``transport.write`` calls, never the
  bottleneck.
* Readers, each run as a child process (the machine's other core) and printing JSON lines:
  ``client URL N`` (bare websockets, ``decode=False``: the ceiling), ``sink URL`` (handshake,
  subscribe, then raw bytes counted until the exchange's close frame: what the exchange alone can
  push) and ``gateway URL N`` (one ssmd gateway client subscribed to ``*``).

Times are ``time.monotonic()``, which is system-wide on Linux, so the parent compares them
with its own.

    python bench/e2e_exchange.py client|sink|gateway URL [N]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ssmd.simulator.frames import envelope, trade_msg

SUBSCRIBE = b'{"id":1,"cmd":"subscribe","params":{"channels":["trade"]}}'
BLOB = 64 * 1024


def ws_frame(payload: bytes) -> bytes:
    """An unmasked server text frame (what a server sends), without websockets' help."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def trade_blobs(sid: int, n: int, tickers: list[str], prefix: str, ts_ms: int) -> list[bytes]:
    """N framed trade messages (trade ids ``{prefix}-{i}``, seq 1..N on ``sid``) in blobs."""
    blobs, part, size = [], [], 0
    for i in range(n):
        body = trade_msg(f"{prefix}-{i}", tickers[i % len(tickers)], 100 + i % 9800, 100 + i % 5000,
                         "yes" if i % 2 else "no", ts_ms + i // 1000)
        frame = ws_frame(envelope("trade", sid, i + 1, body))
        part.append(frame)
        size += len(frame)
        if size >= BLOB:
            blobs.append(b"".join(part))
            part, size = [], 0
    if part:
        blobs.append(b"".join(part))
    return blobs


class Subscriber:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.trade_sid: int | None = None


class BurstExchange:
    def __init__(self, tickers: list[str]) -> None:
        self.tickers = tickers
        self.subscribers: asyncio.Queue[Subscriber] = asyncio.Queue()
        self.bursts = 0
        self._server: Any = None

    @property
    def ws_url(self) -> str:
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/trade-api/ws/v2"

    async def __aenter__(self) -> BurstExchange:
        from websockets.asyncio.server import serve

        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None, max_queue=None,
                                   write_limit=2**20, compression=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        sub, sids = Subscriber(ws), itertools.count(1)
        try:
            async for message in ws:
                cmd = json.loads(message)
                id_, params = cmd.get("id"), cmd.get("params") or {}
                if cmd.get("cmd") == "subscribe":
                    for channel in params.get("channels", []):
                        sid = next(sids)
                        await ws.send(msgspec.json.encode(
                            {"id": id_, "type": "subscribed", "msg": {"channel": channel, "sid": sid}}), text=True)
                        if channel == "trade":
                            sub.trade_sid = sid
                            self.subscribers.put_nowait(sub)
                elif cmd.get("cmd") == "unsubscribe":
                    for sid in params.get("sids", []):
                        await ws.send(msgspec.json.encode({"id": id_, "sid": sid, "seq": 1, "type": "unsubscribed"}),
                                      text=True)
                else:
                    await ws.send(msgspec.json.encode({"id": id_, "type": "ok", "msg": {}}), text=True)
        except ConnectionClosed:
            pass

    async def burst(self, sub: Subscriber, n: int) -> tuple[float, float]:
        """Write N trades to ``sub``; (first write, last write) monotonic seconds."""
        assert sub.trade_sid is not None
        self.bursts += 1
        blobs = trade_blobs(sub.trade_sid, n, self.tickers, f"b{self.bursts}", time.time_ns() // 1_000_000)
        ws, start = sub.ws, time.monotonic()
        for blob in blobs:
            ws.transport.write(blob)
            await ws.drain()
        return start, time.monotonic()


# ---- readers (child processes) ---------------------------------------------------------
def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def _client(url: str, n: int) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, ping_interval=None, max_size=2**24, max_queue=1024, compression=None) as ws:
        await ws.send(SUBSCRIBE, text=True)
        await ws.recv(decode=False)
        _say(ready=True)
        first = None
        for _ in range(n):
            await ws.recv(decode=False)
            if first is None:
                first = time.monotonic()
        _say(first=first, last=time.monotonic(), n=n)


async def _sink(url: str) -> None:
    from websockets.frames import Close, Frame, Opcode

    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    writer.write(Frame(Opcode.TEXT, SUBSCRIBE).serialize(mask=True, extensions=[]))
    _say(ready=True)
    total = 0
    while chunk := await reader.read(2**20):  # until the exchange's close frame (1000) ends the stream
        total += len(chunk)
        if chunk.endswith(b"\x88\x02\x03\xe8"):
            break
    _say(last=time.monotonic(), bytes=total)
    writer.write(Frame(Opcode.CLOSE, Close(1000, "").serialize()).serialize(mask=True, extensions=[]))
    await writer.drain()
    writer.close()


async def _gateway(url: str, n: int, idle: float = 10.0) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(url, ping_interval=None, max_size=2**24, max_queue=1024, compression=None) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": ["*"], "mode": "realtime", "id": 1}))
        while b'"subscribed"' not in await ws.recv(decode=False):
            pass
        _say(ready=True)
        first, last, trades, other = None, 0.0, 0, 0
        started = time.monotonic()

        async def watchdog() -> None:  # ends the read once the trades stop coming (no timer per message)
            while True:
                await asyncio.sleep(0.2)
                if time.monotonic() - (last or started) >= (idle if first else 120):
                    break
            await ws.close()

        guard = asyncio.create_task(watchdog())
        try:
            while trades < n:
                try:
                    data = await ws.recv(decode=False)
                except ConnectionClosed:
                    break
                if b'"type":"trade"' in data:
                    trades += 1
                    last = time.monotonic()
                    first = first or last
                else:
                    other += 1
        finally:
            guard.cancel()
        _say(first=first, last=last, n=trades, other=other)


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    main = {"client": lambda: _client(target, count), "sink": lambda: _sink(target),
            "gateway": lambda: _gateway(target, count)}[mode]
    asyncio.run(main())
