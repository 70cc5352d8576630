"""Frames between the parent and the archiver process: length-prefixed msgpack (pure)."""

from __future__ import annotations

import asyncio
import struct

import msgspec

from ssmd.status import ComponentStatus

Item = tuple[int, str, bytes, dict[str, str], int, bool]
"""(parent stream seq, subject, data, headers, stored-at ns, redelivered): what the parent
sends of each bus message."""


class Delivery(msgspec.Struct, array_like=True, gc=False):
    """One ``Item`` as the child receives it: decoded straight into the message the
    archiver consumes (no tuple, no second object). ``acks`` is the transport's list that
    ``ack()`` appends the parent seq to (set on delivery)."""

    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    ts: int
    redelivered: bool
    acks: list[int] | None = None

    async def ack(self) -> None:
        if self.acks is not None:
            self.acks.append(self.seq)

    async def nak(self, delay: float = 0.0) -> None:
        return None


class Msgs(msgspec.Struct, tag="m", array_like=True):
    """Messages for the child, as it decodes them."""

    items: list[Delivery]


class Send(msgspec.Struct, tag="m", array_like=True):
    """Messages for the child, as the parent encodes them (the same bytes as ``Msgs``)."""

    items: list[Item]


class Acks(msgspec.Struct, tag="a", array_like=True):
    seqs: list[int]
    """Parent stream seqs now durably written (or dead-lettered) by the child."""


class Publish(msgspec.Struct, tag="p", array_like=True):
    subject: str
    data: bytes
    headers: dict[str, str]


class Status(msgspec.Struct, tag="t", array_like=True):
    status: ComponentStatus


class Stop(msgspec.Struct, tag="s", array_like=True):
    pass


Frame = Msgs | Acks | Publish | Status | Stop
OutFrame = Frame | Send
_HEADER = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Frame)


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
