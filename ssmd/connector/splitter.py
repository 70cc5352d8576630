"""Whole data frames from a server's byte stream, without a parser per frame (pure).

A server's frames are not masked, and the connector negotiates no extension, so almost
every frame of a market-data feed is ``FIN + text`` (or binary) with a 7, 16 or 64-bit
length: its payload is a slice of the received bytes. ``split`` takes as many of those as
a chunk holds and stops at the first frame it leaves to websockets' own parser (a control
frame: ping, pong, close; a fragment; anything unusual, which websockets then refuses
with the right close code), or at an incomplete frame, whose bytes wait for the next chunk.
"""

from __future__ import annotations

_SIMPLE = (0x81, 0x82)
"""FIN + text, FIN + binary: whole messages in one frame."""
_CONTROL_MAX = 125
"""The longest payload of a control frame (RFC 6455, 5.5)."""

MORE = -1
"""``split`` stopped at an incomplete simple frame (or at the end): wait for more bytes."""


def split(data: bytes, start: int, max_size: int) -> tuple[list[bytes], int, int]:
    """Payloads of the whole simple frames in ``data[start:]`` (each at most ``max_size``).

    Returns ``(payloads, pos, end)``: parsing stopped at ``pos``. ``end`` is ``MORE`` when
    ``data[pos:]`` is the start of a simple frame (or empty); otherwise ``data[pos:]``
    starts a frame for websockets, which ends at ``end`` (possibly beyond ``len(data)``).
    """
    out: list[bytes] = []
    append = out.append
    n = len(data)
    pos = start
    while pos + 2 <= n:
        b0 = data[pos]
        b1 = data[pos + 1]
        length = b1 & 0x7F
        head = pos + 2
        if length == 126:
            if head + 2 > n:
                break
            length = int.from_bytes(data[head:head + 2], "big")
            head += 2
        elif length == 127:
            if head + 8 > n:
                break
            length = int.from_bytes(data[head:head + 8], "big")
            head += 8
        if b1 & 0x80:  # masked: a server must not; websockets fails the connection
            return out, pos, head + 4 + length
        end = head + length
        if (b0 != 0x81 and b0 != 0x82) or length > max_size:
            return out, pos, end
        if end > n:
            break
        append(data[head:end])
        pos = end
    return out, pos, MORE


def is_control(data: bytes, pos: int) -> bool:
    """Whether the frame at ``data[pos]`` is a whole control frame header (FIN, no RSV
    bits, unmasked, a payload of at most 125 bytes) that websockets can take on its own."""
    return (data[pos] & 0xF8) == 0x88 and (data[pos + 1] & 0x80) == 0 and (data[pos + 1] & 0x7F) <= _CONTROL_MAX \
        and (data[pos] & 0x0F) in (0x8, 0x9, 0xA)


def frame_size(data: bytes, pos: int) -> int:
    """The whole size (header + payload) of the frame starting at ``data[pos]``; 0 while
    its header is incomplete."""
    n = len(data)
    if pos + 2 > n:
        return 0
    length = data[pos + 1] & 0x7F
    head = 2
    if length == 126:
        if pos + 4 > n:
            return 0
        length, head = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
    elif length == 127:
        if pos + 10 > n:
            return 0
        length, head = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
    return head + (4 if data[pos + 1] & 0x80 else 0) + length
