"""``python -m ssmd.workers.child FD``: the archiver process of ``ssmd up --workers 2``.

Reads the environment (JSON) on stdin, the parent's frames on socket FD; runs the
``Archiver`` on a ``PipeTransport`` and sends back acks, dead letters and its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
import sys

import msgspec

from ssmd.config.model import Environment
from ssmd.log import configure, get_logger
from ssmd.workers import wire
from ssmd.workers.pipe import PipeTransport
from ssmd.workers.relay import snapshot

log = get_logger("archiver")
_TICK = 0.05
_METRICS_EVERY = 20
"""Ticks between two metrics snapshots (one a second; Prometheus scrapes every 15 s or so)."""


async def serve(env: Environment, sock: socket.socket) -> None:
    from ssmd.archiver import Archiver
    from ssmd.middleware.cache.degrading import DegradingCache
    from ssmd.middleware.cache.memory import MemoryCache
    from ssmd.middleware.factory import Backends, make_storage
    from ssmd.middleware.journal.memory import MemoryJournal

    transport = PipeTransport()
    # The archiver reads the bus (the parent's frames) and writes storage; it uses no cache
    # or journal, so memory ones stand in.
    backends = Backends(env, transport, make_storage(env), DegradingCache(MemoryCache()), MemoryJournal())
    archiver = Archiver(env, backends)
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=wire.READ_LIMIT)

    async def send(with_metrics: bool = False) -> None:
        acks = transport.take_acks()
        if acks:
            writer.write(wire.encode(wire.Acks(acks)))
        while transport.published:
            subject, data, headers = transport.published.pop(0)
            writer.write(wire.encode(wire.Publish(subject, data, headers)))
        writer.write(wire.encode(wire.Status(archiver.status())))
        if with_metrics:
            writer.write(wire.encode(wire.Metrics(snapshot())))
        await writer.drain()

    async def report() -> None:
        for tick in itertools.count(1):
            await asyncio.sleep(_TICK)
            await send(with_metrics=tick % _METRICS_EVERY == 0)

    async def receive() -> None:
        while (frame := await wire.read(reader)) is not None:
            if isinstance(frame, wire.Msgs):
                transport.deliver(frame.parts)
            elif isinstance(frame, wire.Stop):
                break
        await archiver.stop()  # a stop, or the parent is gone: flush what is buffered

    task = asyncio.create_task(archiver.run())
    reporter = asyncio.create_task(report())
    try:
        await receive()
        await task
    finally:
        reporter.cancel()
        with contextlib.suppress(Exception):
            await send(with_metrics=True)
            writer.close()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the parent's to handle
    configure(stream=sys.stderr)
    env = msgspec.json.decode(sys.stdin.buffer.read(), type=Environment)
    sock = socket.socket(fileno=int(argv[0]))
    asyncio.run(serve(env, sock))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
