"""``ArchiverProcess``: the archiver of ``ssmd up --workers 2``, run in a child process.

To the supervisor it is the archiver component: ``run()`` starts the child and bridges
the bus to it until the child exits (a crash is an error, and the supervisor restarts
it), ``stop()`` asks the child to flush and exit, ``status()`` is the child archiver's
own status, with counters of what is durably written. The bridge reads ``{env}.{feed}.>``
with one durable consumer, sends
messages in batches, and acks each on the bus only when the child says it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections import Counter
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.errors import SsmdError, TransportError
from ssmd.log import get_logger
from ssmd.status import ComponentStatus
from ssmd.workers import wire
from ssmd.workers.relay import Relay, relayed

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("archiver")
_seq = attrgetter("seq")
BATCH = 1024
STOP_TIMEOUT = 60.0


class ArchiverProcess:
    name = "archiver"

    def __init__(self, env: Environment, backends: Backends, *, clock: Clock = SystemClock(),
                 durable: str = "archiver-process", ack_wait: float = 60.0) -> None:
        self.env = env
        self.backends = backends
        self.clock = clock
        self.durable = durable
        self.ack_wait = ack_wait
        self.pid: int | None = None
        self._status = ComponentStatus(name=self.name)
        self._pending: dict[int, Any] = {}
        self._archived: dict[str, int] = {}
        """Messages the children wrote (acked on the bus), by kind, over every child: the
        status counters, so a restarted child does not make the shutdown stop waiting."""
        self._writer: asyncio.StreamWriter | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._relay = Relay()

    async def run(self) -> None:
        self._relay.restarted()
        with relayed(self._relay):  # /metrics shows the child's archiver metrics meanwhile
            await self._run_child()

    async def _run_child(self) -> None:
        self._stopping = False
        self._pending.clear()  # what an earlier child held unacked comes again from the bus
        self._status = ComponentStatus(name=self.name, counters=dict(self._archived))  # starting
        env = self.env
        parent, child = socket.socketpair()
        for end in (parent, child):
            wire.size_buffers(end)
        try:
            self._proc = proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ssmd.workers.child", str(child.fileno()), stdin=asyncio.subprocess.PIPE,
                pass_fds=(child.fileno(),))
        finally:
            child.close()
        self.pid = proc.pid
        assert proc.stdin is not None
        proc.stdin.write(msgspec.json.encode(env))
        proc.stdin.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=parent, limit=wire.READ_LIMIT)
        self._writer.transport.set_write_buffer_limits(high=wire.WRITE_HIGH)
        sub = await self.backends.transport.subscribe(
            f"{env.name}.{env.feed}.>", durable=self.durable, ack_wait=self.ack_wait,
            max_ack_pending=max(100_000, 8 * env.archiver.flush_rows))
        log.info("archiver process started", pid=proc.pid)
        try:
            async with asyncio.TaskGroup() as tg:
                sending = tg.create_task(self._send(sub))
                await self._receive(reader)
                sending.cancel()
        finally:
            with contextlib.suppress(Exception):
                await sub.close()
            self._writer.close()
            code = await _wait(proc)
            self._status = msgspec.structs.replace(self._status, state="stopped")
        if code != 0 or not self._stopping:
            raise SsmdError(f"the archiver process (pid {proc.pid}) exited with code {code}")

    async def _send(self, sub: Any) -> None:
        writer = self._writer
        assert writer is not None
        pending = self._pending
        while True:
            try:
                batch = await sub.next_batch(BATCH)
            except TransportError:
                if self._stopping:
                    return
                raise
            pending.update(zip(map(_seq, batch), batch, strict=True))
            writer.write(wire.encode(wire.Send(_parts(batch))))
            await writer.drain()

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        pending, transport, archived = self._pending, self.backends.transport, self._archived
        while (frame := await wire.read(reader)) is not None:
            if isinstance(frame, wire.Acks):
                done = [m for seq in frame.seqs if (m := pending.pop(seq, None)) is not None]
                if done:
                    await transport.ack_many(done)
                    for subject, n in Counter(m.subject for m in done).items():
                        kind = subject.split(".", 3)[2]
                        archived[kind] = archived.get(kind, 0) + n
            elif isinstance(frame, wire.Status):
                details = {**frame.status.details, "pid": self.pid, "in_flight": len(pending),
                           "process_counters": frame.status.counters}
                self._status = msgspec.structs.replace(frame.status, counters=dict(archived), details=details)
            elif isinstance(frame, wire.Metrics):
                self._relay.update(frame.text)
            elif isinstance(frame, wire.Publish):
                await transport.publish(frame.subject, frame.data, headers=frame.headers)

    async def stop(self) -> None:
        """Ask the child to write what it holds and exit; wait for it."""
        self._stopping = True
        self._status = msgspec.structs.replace(self._status, state="stopping")
        if self._writer is not None and not self._writer.is_closing():
            with contextlib.suppress(ConnectionError):
                self._writer.write(wire.encode(wire.Stop()))
                await self._writer.drain()
        if self._proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), STOP_TIMEOUT)

    def status(self) -> ComponentStatus:
        return self._status


async def _wait(proc: asyncio.subprocess.Process) -> int:
    try:
        return await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        proc.kill()
        return await proc.wait()


def _parts(batch: list[Any]) -> list[list[wire.Item]]:
    """A batch as the pipe carries it: one list per kind of data (``wire.KINDS``), each
    message's data as it is on the bus."""
    parts: list[list[wire.Item]] = [[] for _ in wire.KINDS]
    kind = wire.KIND
    for m in batch:
        data = m.data
        parts[kind[type(data)]].append((m.seq, m.subject, m.headers, m.ts, m.redelivered, data))
    return parts
