"""WebSocket text frames built once per message (pure).

A server's frames are not masked, so the bytes of a text frame are the same for every
client: the gateway frames each message once and hands the same bytes to every
subscriber (see ``ssmd.gateway.wire``).
"""

from __future__ import annotations

_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame holding ``payload`` (UTF-8)."""
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return bytes((_FIN_TEXT, 126)) + n.to_bytes(2, "big") + payload
    return bytes((_FIN_TEXT, 127)) + n.to_bytes(8, "big") + payload


def payload_of(frame: bytes) -> bytes:
    """The payload of a frame built by ``text_frame``."""
    n = frame[1]
    return frame[2 + (2 if n == 126 else 8 if n == 127 else 0):]
