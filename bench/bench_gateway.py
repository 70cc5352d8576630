"""Gateway: bus → client latency, fan-out throughput, a stalled client, bounded memory.

The gateway runs in this process on the memory bus; clients run in a child process (the
machine's other core), connected over loopback:

* latency: one websockets client subscribed to one market; trades are published at
  5,000 msg/s, each carrying its publish time (``time.monotonic_ns``, system-wide) as
  ``trade_id``; the client's receive time minus it gives p50/p99.
* fan-out: N lean clients (a real WebSocket handshake, then frames counted and time-stamped
  without a full client library, so that the client process is not the bottleneck) all
  subscribed to ``*``: delivered msg/s in total.
* stalled client: N lean clients on one market, p99 in alternating phases without and
  with one more client subscribed to ``*`` that never reads (its socket and buffer filled
  first, so it is dropping); medians over the rounds.
* memory: the stalled client's buffer stays within ``gateway.buffer_bytes``.
* ceiling: a bare websockets server sending pre-encoded ~200 B frames to one client as
  fast as it can, measured the same way.

Run as a child: ``python bench/bench_gateway.py --client MODE URL N STALLED``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEM_BOUND = 64 * 1024
TICKER = "KXBTCD-26JUL2317-T118999.99"
_HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
_TID = b'"trade_id":"'


# ---- client side (child process) -------------------------------------------------------
class _Lean:
    """Counts text frames and records latency from ``trade_id`` (publish monotonic ns)."""

    def __init__(self, samples: list[int], done: asyncio.Event, expect_end: int) -> None:
        self.samples = samples
        self.done = done
        self.count = 0
        self.subscribed = asyncio.Event()
        self.expect_end = expect_end
        self.first: int | None = None
        self.last = 0

    def frame(self, payload: bytes, now: int) -> None:
        i = payload.find(_TID)
        if i < 0:
            if b'"subscribed"' in payload:
                self.subscribed.set()
            return
        j = payload.index(b'"', i + len(_TID))
        tid = payload[i + len(_TID):j]
        if tid == b"end":
            self.done.set()
            return
        self.count += 1
        if self.first is None:
            self.first = now
        self.last = now
        self.samples.append(now - int(tid))


class _LeanProtocol(asyncio.Protocol):
    """A WebSocket client reduced to what the benchmark needs: the opening handshake, then
    server frames split and handed to ``_Lean`` from ``data_received`` (no task per read)."""

    def __init__(self, request: bytes, lean: _Lean | None) -> None:
        self.request = request
        self.lean = lean
        self.buf = bytearray()
        self.open = False
        self.opened = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            opened = self.opened
            if b" 101 " not in bytes(buf[:end]).split(b"\r\n", 1)[0]:
                if not opened.done():  # done: the caller gave up waiting (cancelled)
                    opened.set_exception(RuntimeError(f"handshake refused: {bytes(buf[:80])!r}"))
                return
            del buf[:end + 4]
            self.open = True
            if not opened.done():
                opened.set_result(None)
        lean = self.lean
        if lean is None:
            buf.clear()
            return
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            hdr = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                hdr = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                hdr = 10
            if n - pos < hdr + length:
                break
            lean.frame(bytes(buf[pos + hdr:pos + hdr + length]), now)
            pos += hdr + length
        del buf[:pos]


async def _lean_client(host: str, port: int, path: str, lean: _Lean | None) -> Any:
    """Connect one lean client; a ``lean`` of None is a stalled client (tiny window, and
    it stops reading once the handshake is done)."""
    sock = socket.socket()
    if lean is None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.setblocking(False)
    request = _HANDSHAKE.format(path=path, host=f"{host}:{port}").encode()
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_connection(lambda: _LeanProtocol(request, lean), sock=sock)
    await proto.opened
    if lean is None:
        transport.pause_reading()
    return transport


async def _client_main(mode: str, url: str, n: int, stalled: int) -> None:
    hostport, _, rest = url.removeprefix("ws://").partition("/")
    host, port = hostport.split(":")
    path = "/" + rest
    samples: list[int] = []
    if mode == "ws":  # one full websockets client
        from websockets.asyncio.client import connect

        async with connect(url, compression=None, max_queue=None) as ws:
            ready = False
            print("ready", flush=True)
            async for message in ws:
                now = time.monotonic_ns()
                text = message if isinstance(message, str) else message.decode()
                if '"subscribed"' in text and not ready:
                    ready = True
                    continue
                m = json.loads(text)
                tid = m.get("trade_id")
                if tid == "end":
                    break
                if tid is not None:
                    samples.append(now - int(tid))
        print(json.dumps({"count": len(samples), "samples": _summary(samples)}), flush=True)
        return
    if mode == "ab":
        await _client_ab(host, int(port), path, n)
        return
    leans = [_Lean(samples, asyncio.Event(), 1) for _ in range(n)]
    transports = []
    for lean in leans:
        transports.append(await _lean_client(host, int(port), path, lean))
    for _ in range(stalled):
        transports.append(await _lean_client(host, int(port), path, None))
    await asyncio.wait_for(asyncio.gather(*(lean.subscribed.wait() for lean in leans)), 120)
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.gather(*(lean.done.wait() for lean in leans)), 300)
    firsts = [lean.first for lean in leans if lean.first is not None]
    elapsed = (max(lean.last for lean in leans) - min(firsts)) / 1e9 if firsts else float("nan")
    for t in transports:
        t.close()
    print(json.dumps({"count": sum(x.count for x in leans), "elapsed": elapsed, "samples": _summary(samples)}),
          flush=True)


async def report_round(leans: list[Any], samples: list[int]) -> None:
    """A ``mark`` command: once every lean client saw the round's last trade, print the
    round's latencies as one JSON line and start the next round."""
    await asyncio.wait_for(asyncio.gather(*(lean.done.wait() for lean in leans)), 300)
    print(json.dumps({"count": len(samples), "samples": _summary(samples)}), flush=True)
    samples.clear()
    for lean in leans:
        lean.done.clear()


async def _client_ab(host: str, port: int, path: str, n: int) -> None:
    """Commands on stdin, one per line: ``mark`` (wait for every client to see the
    ``end`` trade, print the latency summary since the last mark), ``stall`` (connect a
    client to ``*`` that never reads), ``unstall`` (close it), ``quit``."""
    samples: list[int] = []
    leans = [_Lean(samples, asyncio.Event(), 1) for _ in range(n)]
    transports = [await _lean_client(host, port, path, lean) for lean in leans]
    await asyncio.wait_for(asyncio.gather(*(lean.subscribed.wait() for lean in leans)), 120)
    print("ready", flush=True)
    stalled: list[Any] = []
    while True:
        command = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if command == "mark":
            await report_round(leans, samples)
        elif command == "stall":
            stalled.append(await _lean_client(host, port, "/v1/stream?symbols=*", None))
            print("ok", flush=True)
        elif command == "unstall":
            for t in stalled:
                t.abort()
            stalled.clear()
            print("ok", flush=True)
        else:
            break
    for t in transports:
        t.close()


def _summary(samples: list[int]) -> dict[str, float]:
    if not samples:
        return {"p50": float("nan"), "p99": float("nan")}
    s = sorted(samples)
    return {"p50": s[len(s) // 2] / 1e6, "p99": s[min(len(s) - 1, int(len(s) * 0.99))] / 1e6}


# ---- gateway side ----------------------------------------------------------------------
def _env(buffer_messages: int = 10_000, buffer_bytes: int = 8 * 1024 * 1024) -> Any:
    import msgspec

    from ssmd.config.model import Environment

    return msgspec.convert({
        "name": "bench", "feed": "kalshi", "schema": "trade:v1",
        "transport": {"type": "memory"}, "storage": {"type": "memory"},
        "cache": {"type": "memory"}, "journal": {"type": "memory"},
        "gateway": {"port": 0, "buffer_messages": buffer_messages, "buffer_bytes": buffer_bytes},
    }, Environment)


class _Child:
    def __init__(self, mode: str, url: str, n: int = 1, stalled: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--client", mode, url, str(n), str(stalled)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)})

    async def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return await self.line()

    async def line(self, timeout: float = 180) -> str:
        assert self.proc.stdout is not None
        out = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        if not out:
            raise RuntimeError("client process ended early")
        return out.strip()

    async def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await self.line())
        await asyncio.to_thread(self.proc.wait, 30)
        return data

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def _publish_paced(publish: Any, rate: float, seconds: float, *, one_by_one: bool = False) -> int:
    """Publish ``rate`` trades per second for ``seconds``. ``one_by_one`` yields to the
    event loop after each (as a connector does between frames) instead of publishing
    what is due in a burst."""
    from ssmd.records import Trade

    sent = 0
    start = time.perf_counter()
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            await publish(Trade(ts=0, received_at=0, ticker=TICKER, trade_id=str(time.monotonic_ns()), price=5500,
                                size=1000, side="yes", sid=1, seq=sent))
            sent += 1
            if one_by_one:
                await asyncio.sleep(0)
        await asyncio.sleep(0.0005)
    return sent


async def _with_gateway(env: Any, body: Any) -> Any:
    from ssmd import codec
    from ssmd.gateway import Gateway
    from ssmd.middleware.factory import open_backends
    from ssmd.records import Trade
    from ssmd.subjects import record_subject

    backends = await open_backends(env)
    gw = Gateway(env, backends)
    task = asyncio.create_task(gw.run())
    subject = record_subject(env.name, env.feed, "trade", TICKER)

    async def publish(record: Trade) -> None:
        await backends.transport.publish(subject, codec.encode(record))

    try:
        url = await asyncio.wait_for(gw.ready(), 10)
        await publish(Trade(ts=0, received_at=0, ticker=TICKER, trade_id="0", price=1, size=1, side="yes", sid=1,
                            seq=0))
        return await body(gw, url, publish)
    finally:
        await gw.stop()
        await task
        await backends.close()


async def _latency(quick: bool) -> dict[str, Any]:
    from ssmd.records import Trade

    async def body(gw: Any, url: str, publish: Any) -> dict[str, Any]:
        child = _Child("ws", url + f"?symbols={TICKER}")
        try:
            await child.line()
            await asyncio.sleep(0.3)
            await _publish_paced(publish, 5000, 1.0 if quick else 4.0, one_by_one=True)
            await publish(Trade(ts=0, received_at=0, ticker=TICKER, trade_id="end", price=1, size=1, side="yes",
                                sid=1, seq=0))
            return await child.result()
        finally:
            child.kill()

    return await _with_gateway(_env(), body)  # type: ignore[no-any-return]


async def _fanout(clients: int, stalled: int, rate: float, seconds: float, buffer_messages: int = 2000,
                  buffer_bytes: int = 512 * 1024) -> dict[str, Any]:
    from ssmd.records import Trade

    async def body(gw: Any, url: str, publish: Any) -> dict[str, Any]:
        child = _Child("lean", url + "?symbols=*", clients, stalled)
        try:
            await child.line()
            await asyncio.sleep(0.5)
            peak = 0

            dropped = 0

            async def watch() -> None:
                nonlocal peak, dropped
                while True:
                    peak = max([peak, *(s.buffer.bytes for s in gw.router.sessions.values())])
                    dropped = max(dropped, sum(s.buffer.dropped for s in gw.router.sessions.values()))
                    await asyncio.sleep(0.01)

            watcher = asyncio.create_task(watch())
            t0 = time.perf_counter()
            sent = await _publish_paced(publish, rate, seconds)
            await publish(Trade(ts=0, received_at=0, ticker=TICKER, trade_id="end", price=1, size=1, side="yes",
                                sid=1, seq=0))
            slow = sum(1 for i in gw.clients() if i.slow)
            out = await child.result()
            watcher.cancel()
            out.update(sent=sent, wall=time.perf_counter() - t0, peak_buffer_bytes=peak, dropped=dropped, slow=slow)
            return out
        finally:
            child.kill()

    env = _env(buffer_messages=buffer_messages, buffer_bytes=buffer_bytes)
    return await _with_gateway(env, body)  # type: ignore[no-any-return]


def _deep_book(n: int) -> Any:
    from ssmd.records import OrderbookSnapshot

    levels = tuple((p, 100 * (n + 1)) for p in range(1, 401))
    return OrderbookSnapshot(ts=n, received_at=n, ticker="KX-FILL", yes=levels, no=levels, sid=1, seq=n + 1)


async def _stall_compare(clients: int, rate: float, seconds: float, rounds: int) -> dict[str, Any]:
    """p99 of ``clients`` clients subscribed to one market, alternating phases without and
    with one stalled client subscribed to ``*`` whose socket and buffer are full (filled
    with deep books of another market first); the same connections throughout."""
    from ssmd.records import Trade

    end = Trade(ts=0, received_at=0, ticker=TICKER, trade_id="end", price=1, size=1, side="yes", sid=1, seq=0)

    async def body(gw: Any, url: str, publish: Any) -> dict[str, Any]:
        from ssmd import codec
        from ssmd.subjects import record_subject

        child = _Child("ab", url + f"?symbols={TICKER}", clients)
        fill_subject = record_subject(gw.env.name, gw.env.feed, "orderbook", "KX-FILL")
        base: list[float] = []
        stalled: list[float] = []
        drops = 0
        try:
            await child.line()
            for _ in range(rounds):
                await _publish_paced(publish, rate, seconds)
                await publish(end)
                base.append(json.loads(await child.ask("mark"))["samples"]["p99"])
                await child.ask("stall")
                stuck = [s for s in gw.router.sessions.values() if "*" in s.symbols]
                for n in range(2000):  # until its socket and buffer are full and it drops
                    if stuck and stuck[0].buffer.dropped:
                        break
                    await gw.backends.transport.publish(fill_subject, codec.encode(_deep_book(n)))
                    await asyncio.sleep(0)
                    stuck = [s for s in gw.router.sessions.values() if "*" in s.symbols]
                await _publish_paced(publish, rate, seconds)
                await publish(end)
                stalled.append(json.loads(await child.ask("mark"))["samples"]["p99"])
                drops += sum(s.buffer.dropped for s in stuck)
                await child.ask("unstall")
            await asyncio.to_thread(child.proc.communicate, "quit\n", 30)
        finally:
            child.kill()
        return {"base": base, "stalled": stalled, "drops": drops}

    return await _with_gateway(_env(buffer_messages=2000, buffer_bytes=512 * 1024), body)  # type: ignore[no-any-return]


async def _ceiling(quick: bool) -> float:
    """Bare websockets: pre-encoded trade frames to one lean client, as fast as it can."""
    from websockets.asyncio.server import serve

    n = 50_000 if quick else 200_000
    frame = json.dumps({"type": "trade", "ticker": TICKER, "price": "0.5500", "size": "10.00", "side": "yes",
                        "ts": "2026-07-19T15:45:00.000Z", "trade_id": "0", "received_at": "2026-07-19T15:45:00.000Z"},
                       separators=(",", ":"))
    go = asyncio.Event()

    async def handler(ws: Any) -> None:
        await ws.send('{"type":"subscribed"}')
        await go.wait()
        for _ in range(n):
            await ws.send(frame.replace('"trade_id":"0"', f'"trade_id":"{time.monotonic_ns()}"'))
        await ws.send(frame.replace('"trade_id":"0"', '"trade_id":"end"'))
        await asyncio.sleep(5)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        child = _Child("lean", f"ws://127.0.0.1:{port}/", 1, 0)
        try:
            await child.line()
            go.set()
            out = await child.result()
        finally:
            child.kill()
    return float(out["count"] / out["elapsed"])


def run(quick: bool = False) -> list[Any]:
    from common import Result

    clients = 100 if quick else 1000
    seconds = 2.0 if quick else 5.0
    rate = 1500.0 if quick else 200.0  # offered per client... x clients = 150k / 200k msg/s
    gentle = 200.0 if quick else 30.0  # a load well inside capacity
    rounds = 3 if quick else 4

    async def main() -> list[Result]:
        ceiling = await _ceiling(quick)
        lat = await _latency(quick)
        full = await _fanout(clients, 0, rate, seconds)
        ab = await _stall_compare(clients, gentle, seconds / 2, rounds)  # alternating: the machine is shared
        mem = await _fanout(1, 1, 20_000.0, seconds, buffer_messages=500, buffer_bytes=MEM_BOUND)
        delivered = full["count"] / full["elapsed"]
        base = {"samples": {"p99": statistics.median(ab["base"])}}
        stall = {"samples": {"p99": statistics.median(ab["stalled"])}}
        change = (stall["samples"]["p99"] - base["samples"]["p99"]) / base["samples"]["p99"]
        return [
            Result("gateway bus→client latency p50 @5k msg/s", lat["samples"]["p50"], "ms", higher_is_better=False),
            Result("gateway bus→client latency p99 @5k msg/s", lat["samples"]["p99"], "ms", goal="p99 < 1 ms",
                   higher_is_better=False),
            Result(f"gateway fan-out delivered ({clients} clients)", delivered, "msg/s", ceiling,
                   "bare websockets → 1 client", goal="≥ 100k msg/s"),
            Result(f"fan-out p99, {clients} clients, {gentle * clients:,.0f} msg/s", base["samples"]["p99"], "ms",
                   higher_is_better=False),
            Result(f"  same + 1 stalled client ({ab['drops']:,} drops)", stall["samples"]["p99"], "ms",
                   higher_is_better=False),
            Result("  p99 change from the stalled client", change * 100, "%", goal="< 10 %", higher_is_better=False),
            Result(f"stalled client buffer peak (20k msg/s offered, {mem['dropped']:,} drops)",
                   mem["peak_buffer_bytes"] / 1024, "KiB", goal=f"≤ {MEM_BOUND // 1024} KiB bound",
                   higher_is_better=False),
        ]

    return asyncio.run(main())


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--client":
    asyncio.run(_client_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
elif __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    for r in run(quick="--quick" in sys.argv):
        print(r)
