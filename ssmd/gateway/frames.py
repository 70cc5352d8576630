"""WebSocket text frames built once per message (pure).

A server's frames are not masked, so the bytes of a text frame are the same for every
client: the gateway frames each message once and hands the same bytes to every
subscriber (see ``ssmd.gateway.wire``).
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81
_SHORT = tuple(bytes((_FIN_TEXT, n)) for n in range(126))
_MEDIUM = struct.Struct(">BBH").pack
_LONG = struct.Struct(">BBQ").pack


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame holding ``payload`` (UTF-8)."""
    n = len(payload)
    if n < 126:
        return _SHORT[n] + payload
    if n < 65536:
        return _MEDIUM(_FIN_TEXT, 126, n) + payload
    return _LONG(_FIN_TEXT, 127, n) + payload


def payload_of(frame: bytes) -> bytes:
    """The payload of a frame built by ``text_frame``."""
    n = frame[1]
    return frame[2 + (2 if n == 126 else 8 if n == 127 else 0):]
