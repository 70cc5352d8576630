"""Frames between the parent and the archiver process: length-prefixed msgpack (pure)."""

from __future__ import annotations

import asyncio
import struct

import msgspec

from ssmd.status import ComponentStatus

Item = tuple[int, str, bytes, dict[str, str], int, bool]
"""(parent stream seq, subject, data, headers, stored-at ns, redelivered)."""


class Msgs(msgspec.Struct, tag="m", array_like=True):
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
_HEADER = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Frame)


def encode(frame: Frame) -> bytes:
    body = _encoder.encode(frame)
    return _HEADER.pack(len(body)) + body


async def read(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at the end of the stream."""
    try:
        head = await reader.readexactly(_HEADER.size)
        return _decoder.decode(await reader.readexactly(_HEADER.unpack(head)[0]))
    except asyncio.IncompleteReadError:
        return None
