"""Frames between the parent and the archiver process: length-prefixed msgpack (pure)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd.codec import RECORD_CLASSES
from ssmd.rawline import RawLine
from ssmd.status import ComponentStatus

Item = tuple[int, str, dict[str, str], int, bool, Any]
"""(parent stream seq, subject, headers, stored-at ns, redelivered, data): what the parent
sends of each bus message. ``data`` goes as it is on the bus (bytes, a ``RawLine``, a
record), encoded by msgpack, so the child gets the same object back without Cap'n Proto."""


class Delivery(msgspec.Struct, array_like=True, gc=False):
    """One ``Item`` as the child receives it: decoded straight into the message the
    archiver consumes (no tuple, no second object). Each kind of ``data`` has its subclass
    (``DELIVERIES``), which adds the typed ``data`` and ``acks``: the transport's list that
    ``ack()`` appends the parent seq to (set on delivery)."""

    seq: int
    subject: str
    headers: dict[str, str]
    ts: int
    redelivered: bool
    if TYPE_CHECKING:  # the fields of each kind's subclass
        data: Any
        acks: list[int] | None

    async def ack(self) -> None:
        if self.acks is not None:
            self.acks.append(self.seq)

    async def nak(self, delay: float = 0.0) -> None:
        return None


KINDS: tuple[type, ...] = (bytes, RawLine, *sorted(RECORD_CLASSES, key=lambda cls: cls.__name__))
"""What a bus message's data can be; a batch goes as one list per kind, in this order (the
same in every process: by name, not by a set's order)."""
KIND: dict[type, int] = {kind: i for i, kind in enumerate(KINDS)}


def _delivery(kind: type) -> type[Delivery]:
    """The ``Delivery`` of messages whose data is a ``kind``."""
    cls = msgspec.defstruct(f"{kind.__name__.capitalize()}Delivery", [("data", kind), ("acks", list[int] | None, None)],
                            bases=(Delivery,), array_like=True, gc=False)
    return cls  # type: ignore[return-value]


DELIVERIES: tuple[type[Delivery], ...] = tuple(_delivery(kind) for kind in KINDS)


if TYPE_CHECKING:
    class Msgs(msgspec.Struct, tag="m", array_like=True):
        """Messages for the child, as it decodes them: one list per kind (``KINDS``),
        each in stream order."""

        parts: tuple[list[Delivery], ...]
else:  # the same, with each list typed by its kind, so msgpack decodes each ``data`` as it was
    Msgs = msgspec.defstruct("Msgs", [("parts", tuple[tuple(list[d] for d in DELIVERIES)])], tag="m",
                             array_like=True)


class Send(msgspec.Struct, tag="m", array_like=True):
    """Messages for the child, as the parent encodes them (the same bytes as ``Msgs``)."""

    parts: list[list[Item]]


class Acks(msgspec.Struct, tag="a", array_like=True):
    seqs: list[int]
    """Parent stream seqs now durably written (or dead-lettered) by the child."""


class Publish(msgspec.Struct, tag="p", array_like=True):
    subject: str
    data: bytes
    headers: dict[str, str]


class Status(msgspec.Struct, tag="t", array_like=True):
    status: ComponentStatus


class Metrics(msgspec.Struct, tag="x", array_like=True):
    text: str
    """The child's metrics registry as Prometheus text (``relay.snapshot``)."""


class Stop(msgspec.Struct, tag="s", array_like=True):
    pass


Frame = Msgs | Acks | Publish | Status | Metrics | Stop
OutFrame = Frame | Send
_HEADER = struct.Struct(">I")
SOCKET_BUFFER = 4 << 20
"""Bytes the kernel holds for each direction of the socket pair (up to the system's
``net.core.wmem_max``/``rmem_max``): a whole batch (about 0.5 MB for 1,024 frames) goes in
one ``send``, so the child gets it at once instead of piece by piece whenever the parent's
busy event loop comes back to the socket."""
READ_LIMIT = 8 << 20
"""The stream reader's buffer: a batch is read in as few calls as the kernel allows."""
WRITE_HIGH = 16 << 20
"""The parent waits (``drain``) only when this much is queued in the process."""
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Frame)


def size_buffers(sock: socket.socket) -> None:
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)


def encode(frame: OutFrame) -> bytes:
    body = _encoder.encode(frame)
    return _HEADER.pack(len(body)) + body


async def read(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at the end of the stream."""
    try:
        head = await reader.readexactly(_HEADER.size)
        return _decoder.decode(await reader.readexactly(_HEADER.unpack(head)[0]))
    except asyncio.IncompleteReadError:
        return None
