"""The lean frame splitter (pure) and the connection that uses it against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from ssmd.connector.dial import TimedConnection
from ssmd.connector.splitter import MORE, frame_size, is_control, split

TIMEOUT = 10.0


def frame(payload: bytes, first: int = 0x81) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return bytes((first, 126)) + n.to_bytes(2, "big") + payload
    return bytes((first, 127)) + n.to_bytes(8, "big") + payload


_SIZES = st.one_of(st.integers(0, 300), st.sampled_from([125, 126, 127, 65535, 65536, 70000]))
_PAYLOADS = st.lists(_SIZES.map(lambda n: bytes([n % 251]) * n), max_size=12)


@given(_PAYLOADS, st.lists(st.integers(1, 70_000), max_size=20))
def test_any_chunking_gives_every_payload_once_in_order(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p, 0x81 if i % 2 else 0x82) for i, p in enumerate(payloads))
    got: list[bytes] = []
    rest, at = b"", 0
    for size in [*cuts, len(stream)]:
        chunk, at = stream[at:at + size], at + size
        data = rest + chunk
        out, pos, end = split(data, 0, 1 << 24)
        assert end == MORE
        got += out
        rest = data[pos:]
        if rest and frame_size(rest, 0):
            assert frame_size(rest, 0) > len(rest)
    assert got == payloads and rest == b""


def test_control_frames_and_the_unusual_stop_the_split() -> None:
    ping = bytes((0x89, 2)) + b"hi"
    data = frame(b"a") + ping + frame(b"b")
    out, pos, end = split(data, 0, 100)
    assert (out, pos, end) == ([b"a"], 3, 7) and is_control(data, pos)
    assert split(data, end, 100) == ([b"b"], len(data), MORE)
    fragment = bytes((0x01, 1)) + b"x"  # text, no FIN
    assert split(fragment, 0, 100) == ([], 0, 3) and not is_control(fragment, 0)
    big = frame(b"y" * 200)
    assert split(big, 0, 100) == ([], 0, len(big))  # over max_size: for websockets to refuse
    masked = bytes((0x81, 0x81)) + b"\0\0\0\0" + b"z"
    assert split(masked, 0, 100)[2] == len(masked) and not is_control(masked, 0)


# ---- TimedConnection against a websockets server -------------------------------------------
async def _serve_and_read(handler: Callable[[ServerConnection], Awaitable[None]],
                          **client: Any) -> tuple[list[bytes], TimedConnection]:
    got: list[bytes] = []
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", create_connection=TimedConnection, compression=None,
                           ping_interval=None, open_timeout=TIMEOUT, **client)
        assert isinstance(ws, TimedConnection)
        ws.attach(got.extend)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    return got, ws


async def test_messages_pings_fragments_and_close_from_a_real_server() -> None:
    sent: list[bytes] = []
    pongs: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        for i in range(2000):
            message = f'{{"n":{i},"pad":"{"x" * (i % 300)}"}}'
            sent.append(message.encode())
            await ws.send(message)
            if i % 500 == 250:
                pongs.append(await asyncio.wait_for(await ws.ping(), TIMEOUT))  # answered by the client
        big = b"B" * 300_000  # spans many reads
        sent.append(big)
        await ws.send(big)
        await ws.send([b"frag", b"men", b"ted"])  # one message in three frames
        sent.append(b"fragmented")
        await ws.send("after the fragments")
        sent.append(b"after the fragments")
        await ws.close(4000, "bye")

    got, ws = await _serve_and_read(handler)
    assert got == sent
    assert len(pongs) == 4
    assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000
    assert ws.protocol.close_rcvd.reason == "bye"


async def test_an_oversized_message_closes_with_1009_and_what_came_before_is_kept() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("small")
        await ws.send("x" * 5000)
        await ws.wait_closed()

    got, ws = await _serve_and_read(handler, max_size=1000)
    assert got == [b"small"]
    assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1009


@pytest.mark.parametrize("early", [True, False])
async def test_messages_before_attach_come_first(early: bool) -> None:
    async def handler(ws: ServerConnection) -> None:
        for i in range(50):
            await ws.send(str(i))
        await ws.close()

    got: list[bytes] = []
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", create_connection=TimedConnection, compression=None)
        assert isinstance(ws, TimedConnection)
        if not early:
            await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        ws.attach(got.extend)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    assert got == [str(i).encode() for i in range(50)]
