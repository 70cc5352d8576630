"""Opening one WebSocket connection: fresh signed headers, timeouts, and what a refusal means.

A refused upgrade is logged with its status and body. 401/403 mean the credentials are
wrong (or missing): an ``AuthError`` that stops the connector instead of a retry loop.
Anything else (other statuses, network errors, timeouts) is ``DialRetry``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import State

from ssmd.clock import Clock
from ssmd.connector.endpoints import KEY_NAME, Credentials
from ssmd.connector.splitter import MORE, frame_size, is_control, split
from ssmd.errors import AuthError, ConfigError
from ssmd.log import get_logger

log = get_logger("connector")


class TimedConnection(ClientConnection):
    """A client connection that notes when bytes last came (pings included) and hands every
    data message, in stream order, to the sink given to ``attach``.

    After a ``101`` with no extension, whole unfragmented data frames are cut straight
    from each received chunk (``ssmd.connector.splitter``): no parser generator, frame
    object, assembler queue or future per frame. Control frames (ping, pong, close) go,
    one whole frame at a time, to websockets' own protocol, which answers pings and runs
    the closing handshake; its parser therefore always sits at a frame boundary. A
    fragment, an oversized or malformed frame, or a close frame hands the rest of the
    stream to websockets for good (fragments are joined in ``process_event``; errors
    close the connection with websockets' codes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_frame = time.monotonic()
        self._sink: Callable[[list[bytes]], None] | None = None
        self._early: list[bytes] = []
        """Messages received before ``attach``."""
        self._fragments: list[bytes] = []
        self._lean = False
        """Whether ``data_received`` splits frames itself (set once the handshake is done)."""
        self._tail = b""
        """The last bytes of the handshake response so far (its blank line may straddle chunks)."""
        self._rest = bytearray()
        """The start of an incomplete frame, waiting for the next chunks..."""
        self._need = 0
        """... until it holds this many bytes (0: its header is incomplete)."""

    def attach(self, sink: Callable[[list[bytes]], None]) -> None:
        """Deliver every data message to ``sink`` (lists of payloads, in stream order),
        first the ones that came before this call."""
        self._sink = sink
        if self._early:
            early, self._early = self._early, []
            sink(early)

    def _deliver(self, payloads: list[bytes]) -> None:
        if self._sink is None:
            self._early.extend(payloads)
        else:
            self._sink(payloads)

    def process_event(self, event: Any) -> None:
        self.last_frame = time.monotonic()
        if type(event) is Frame and event.opcode in DATA_OPCODES:
            data = bytes(event.data)
            if event.fin and not self._fragments:
                self._deliver([data])
                return
            self._fragments.append(data)  # websockets checked the order and the size
            if event.fin:
                message, self._fragments = b"".join(self._fragments), []
                self._deliver([message])
            return
        super().process_event(event)

    def data_received(self, data: bytes) -> None:
        self.last_frame = time.monotonic()
        if self._lean:
            rest = self._rest
            if not rest:
                self._split(data)
            elif len(rest) + len(data) < self._need:  # a large frame: collect its chunks
                rest += data
            else:
                rest += data
                self._split(bytes(rest))
        elif self.response is None and self.protocol.state is State.CONNECTING:
            self._handshake(data)
        else:
            super().data_received(data)

    def _handshake(self, data: bytes) -> None:
        """Feed websockets the response up to its blank line only; what follows it is
        frames, split here once websockets accepted the upgrade."""
        tail = self._tail
        end = (tail + data).find(b"\r\n\r\n")
        if end < 0:
            self._tail = (tail + data)[-3:]
            super().data_received(data)
            return
        cut = end + 4 - len(tail)
        super().data_received(data[:cut])
        self._tail = b""
        protocol = self.protocol
        if self.response is not None and protocol.state is State.OPEN and not protocol.extensions:
            self._lean = True
            self._split(data[cut:])
        elif cut < len(data):
            super().data_received(data[cut:])

    def _split(self, data: bytes) -> None:
        self._rest = bytearray()
        max_size = self.protocol.max_message_size or sys.maxsize
        pos = 0
        while True:
            payloads, pos, end = split(data, pos, max_size)
            if payloads:
                self._deliver(payloads)
            if end == MORE:
                if pos < len(data):
                    self._rest = bytearray(data[pos:])
                    self._need = frame_size(data, pos)
                return
            if not is_control(data, pos):  # a fragment, an oversized or a malformed frame
                self._lean = False
                super().data_received(data[pos:])
                return
            if end > len(data):
                self._rest = bytearray(data[pos:])
                self._need = end - pos
                return
            super().data_received(data[pos:end])  # one whole ping, pong or close
            pos = end
            protocol = self.protocol
            if protocol.close_rcvd is not None or protocol.parser_exc is not None:
                self._lean = False  # websockets now discards or fails what follows
                if pos < len(data):
                    super().data_received(data[pos:])
                return


class DialRetry(Exception):
    """A connection attempt failed in a way worth retrying; the message is the cause."""


async def dial(url: str, credentials: Credentials | None, clock: Clock, open_timeout: float) -> TimedConnection:
    headers = credentials.headers(url, clock.now_ns() // 1_000_000) if credentials else {}
    try:
        ws = await connect(
            url, additional_headers=headers, create_connection=TimedConnection,
            open_timeout=open_timeout, ping_interval=None, close_timeout=2,
            max_size=2**24, max_queue=1024, compression=None, user_agent_header="ssmd",
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        body = bytes(exc.response.body or b"")[:300].decode("utf-8", "replace").strip()
        log.warning("upgrade refused", url=url, status=status, body=body)
        if status in (401, 403):
            who = "no credentials were sent (the environment has no kalshi key)" if not credentials \
                else f"check the {KEY_NAME} key (api_key, api_secret) and the clock"
            raise AuthError(f"{url} refused the WebSocket upgrade with HTTP {status} "
                            f"{body or '(no body)'!r}: {who}") from None
        raise DialRetry(f"upgrade refused: HTTP {status} {body!r}") from None
    except InvalidURI as exc:
        raise ConfigError("connector", "endpoints.ws", str(exc)) from None
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
        raise DialRetry(f"connect failed: {type(exc).__name__}: {exc}") from None
    assert isinstance(ws, TimedConnection)
    return ws


async def dial_unless_stopped(url: str, credentials: Credentials | None, clock: Clock, open_timeout: float,
                              stopping: asyncio.Event) -> TimedConnection | None:
    """``dial``, abandoned (None) when ``stopping`` is set first."""
    opening = asyncio.ensure_future(dial(url, credentials, clock, open_timeout))
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((opening, stopped), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        opening.cancel()
        raise
    finally:
        stopped.cancel()
    if opening.done():
        return opening.result()
    opening.cancel()
    try:
        ws = await opening
    except (asyncio.CancelledError, DialRetry, AuthError):
        return None
    await ws.close()
    return None
