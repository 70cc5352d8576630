"""One client connection: outbound buffer, writer, reader and heartbeat pinger."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ssmd.simulator import frames
from ssmd.simulator.protocol import CONTROL, Out, Session, command_id

if TYPE_CHECKING:
    from ssmd.simulator.simulator import Simulator

LOW_WATER = 2_000
BATCH = 64


class Conn:
    def __init__(self, sim: Simulator, ws: ServerConnection, cid: str, authenticated: bool) -> None:
        self.sim = sim
        self.ws = ws
        self.id = cid
        self.session = Session(sim, authenticated=authenticated, market_limit=sim.settings.market_limit)
        self.buf: deque[Out] = deque()
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.sent: dict[str, int] = {}
        self.stalled = False
        self.missed_pongs = 0
        self.pings = 0
        self.pongs = 0
        self.pong_seen = asyncio.Event()
        self.log: list[bytes] | None = [] if sim.record_frames else None

    # -- outbound ----------------------------------------------------------------------
    def push(self, outs: list[Out]) -> None:
        if not outs or self.stalled:
            return
        self.buf.extend(outs)
        if len(self.buf) > self.sim.settings.buffer_limit:
            self._overflow()
        self.wake.set()
        if len(self.buf) > LOW_WATER:
            self.drained.clear()

    def _overflow(self) -> None:
        """The client reads too slowly: drop queued data, error 25 on every subscription."""
        kept = [o for o in self.buf if o[0] == CONTROL]
        self.buf.clear()
        self.buf.extend(kept)
        for channel in list(self.session.by_channel):
            self.buf.extend(self.session.kill(channel, 25))

    async def writer(self) -> None:
        try:
            await self._write_loop()
        except ConnectionClosed:
            pass
        except Exception:
            self.sim.log.error("writer failed, closing the connection", exc=True, conn=self.id)
            await self.ws.close(1011, "internal error")

    async def _write_loop(self) -> None:
        """Send queued frames in order, many per socket write (one flow-control wait)."""
        ws, buf, sent, protocol = self.ws, self.buf, self.sent, self.ws.protocol
        while True:
            await self.wake.wait()
            self.wake.clear()
            while buf and not self.stalled:
                batch = [buf.popleft() for _ in range(min(len(buf), BATCH))]
                async with ws.send_context():
                    for _, frame in batch:
                        protocol.send_text(frame)
                    ws.transport.write(b"".join(protocol.data_to_send()))  # one write, not one per frame
                for channel, _ in batch:
                    sent[channel] = sent.get(channel, 0) + 1
                if self.log is not None:
                    self.log.extend(frame for _, frame in batch)
                if len(buf) <= LOW_WATER:
                    self.drained.set()
            self.drained.set()

    # -- inbound -----------------------------------------------------------------------
    async def reader(self) -> None:
        async for message in self.ws:
            self.sim.commands += 1
            if not self.sim.allow_command(self):
                self.push([(CONTROL, frames.error(27, command_id(message)))])
                continue
            if self.sim.settings.interleave and not self.sim.settings.replay and self.session.has_data_subs():
                self.sim.pump_now(1)
            before = self.session.next_sid
            self.push(self.session.handle(message))
            if self.session.next_sid != before:
                self.sim.subscribed.set()

    async def pinger(self) -> None:
        interval = self.sim.settings.ping_interval
        limit = self.sim.settings.max_missed_pongs
        while True:
            await asyncio.sleep(interval)
            if self.stalled:
                continue
            # Kalshi sends the same payload every time: forget the unanswered one first
            self.ws.pending_pings.pop(b"heartbeat", None)
            try:
                waiter = await self.ws.ping(b"heartbeat")
            except ConnectionClosed:
                return
            self.pings += 1
            try:
                await asyncio.wait_for(asyncio.shield(waiter), interval)
                self.missed_pongs = 0
                self.pongs += 1
                self.pong_seen.set()
            except TimeoutError:
                self.missed_pongs += 1
                if limit is not None and self.missed_pongs >= limit:
                    await self.ws.close(1011, "ping timeout")
                    return

    # -- faults ------------------------------------------------------------------------
    def stall(self, on: bool) -> None:
        self.stalled = on
        transport = self.ws.transport
        if on:
            self.buf.clear()
            transport.pause_reading()
        else:
            transport.resume_reading()
            self.wake.set()

    def reset(self) -> None:
        """Abort the TCP connection with a reset (SO_LINGER 0), no close frame."""
        sock = self.ws.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.ws.transport.abort()

    async def serve(self) -> None:
        tasks = [asyncio.create_task(self.writer()), asyncio.create_task(self.pinger())]
        try:
            await self.reader()
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
