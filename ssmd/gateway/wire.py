"""Server → client frames, built once and written in batches.

A server's WebSocket frames are not masked, so the bytes of a text frame are the same for
every client: ``text_frame(payload)`` builds them once per message and the fan-out hands
the same bytes object to every subscriber. ``send_batch`` writes a client's waiting frames
with one transport write and then waits for the write buffer to drain below its
high-water mark (websockets' own flow control). This is only valid without extensions:
the gateway's server negotiates none (``compression=None``), and ``send_batch`` falls back
to websockets' framing if a connection ever has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ssmd.gateway.frames import payload_of


async def send_batch(connection: Any, frames: Sequence[bytes]) -> None:
    """Write ``frames`` (from ``text_frame``) in order. Raises ``ConnectionClosed`` when
    the connection is no longer open."""
    protocol = connection.protocol
    if protocol.state is not State.OPEN:
        raise _closed(protocol)
    if protocol.extensions:  # never with the gateway's server settings
        for frame in frames:
            protocol.send_text(payload_of(frame))
        connection.send_data()
    else:
        connection.transport.writelines(frames)
    await connection.drain()


def _closed(protocol: Any) -> ConnectionClosed:
    """The ``ConnectionClosed`` of a connection that is closing or closed. Built from all
    three close fields: once both close frames passed, websockets requires their order
    (``rcvd_then_sent``), and ``protocol.close_exc`` is only valid once fully closed."""
    return ConnectionClosed(protocol.close_rcvd, protocol.close_sent, protocol.close_rcvd_then_sent)
