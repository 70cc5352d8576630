"""Slow clients: a client that stops reading is detected and handled per the drop policy,
its memory stays bounded, and the other clients are not affected."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from ssmd import metrics
from ssmd.records import OrderbookSnapshot, Trade
from tests.gateway.conftest import Harness, make_env, recv, running
from tests.gateway.records import T0

BIG = "KX-DEEP-BOOK"
BUFFER_MESSAGES = 40
BUFFER_BYTES = 256 * 1024


def deep_book(n: int) -> OrderbookSnapshot:
    """~15 kB as a client message: 400 levels a side; the top bid's size is n + 1 contracts."""
    levels = tuple((p, 100 * (n + 1)) for p in range(1, 401))
    return OrderbookSnapshot(ts=T0 + n, received_at=T0 + n, ticker=BIG, yes=levels, no=levels, sid=1, seq=n)


def end_trade(n: int) -> Trade:
    return Trade(ts=T0, received_at=T0, ticker=BIG, trade_id=f"end-{n}", price=1, size=1, side="yes", sid=1, seq=n)


def stalled_socket(url: str) -> socket.socket:
    """A client socket with a tiny receive window (the client will not read)."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


def shrink_send_buffer(h: Harness, client_id: str) -> None:
    """Keep the kernel from absorbing megabytes for the stalled client (fast test)."""
    sock = h.gateway.connections[client_id].ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


async def read_all(ws: Any, until_ts: int, got: list[int]) -> None:
    while True:
        msg = await recv(ws)
        if msg["type"] == "orderbook":
            got.append(int(msg["bids"][0][1].split(".")[0]) - 1)
        if msg["type"] == "trade" and msg["trade_id"] == f"end-{until_ts}":
            return


async def flood_until(h: Harness, healthy: Any, cond: Any, limit: int = 2000, step: int = 8) -> list[int]:
    """Publish deep books in steps (the healthy client reads each step) until ``cond()``."""
    got: list[int] = []
    n = 0
    while n < limit and not cond():
        await h.publish(*[deep_book(n + i) for i in range(step)])
        n += step
        await h.publish(end_trade(n))
        await read_all(healthy, n, got)
    assert cond(), f"condition not reached after {n} messages"
    assert got == list(range(n)), "the healthy client lost or reordered messages"
    return got


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
async def test_stalled_client_drops_is_detected_and_others_get_everything(tmp_path: Path, policy: str) -> None:
    env = make_env(tmp_path, buffer_messages=BUFFER_MESSAGES, buffer_bytes=BUFFER_BYTES, drop_policy=policy)
    before = metrics.REGISTRY.get_sample_value("ssmd_gateway_messages_dropped_total", {"reason": policy}) or 0
    async with running(env) as h:
        await h.known(end_trade(0))
        async with h.client("?symbols=*", sock=stalled_socket(h.url), max_queue=1, close_timeout=0.5) as stalled, \
                h.client("?symbols=*") as healthy:
            assert (await recv(healthy))["type"] == "subscribed"
            sessions = {i.id: i for i in h.gateway.clients()}
            stalled_id = min(sessions)  # connected first
            session = h.gateway.router.sessions[stalled_id]
            shrink_send_buffer(h, stalled_id)
            peak = 0

            def dropped() -> bool:
                nonlocal peak
                peak = max(peak, session.buffer.bytes + 0)
                return session.buffer.dropped > 0

            await flood_until(h, healthy, dropped)
            assert session.buffer.bytes <= BUFFER_BYTES and len(session.buffer.queue) <= BUFFER_MESSAGES
            assert peak <= BUFFER_BYTES
            info = {i.id: i for i in h.gateway.clients()}
            assert info[stalled_id].slow and info[stalled_id].dropped > 0
            assert not [i for k, i in info.items() if k != stalled_id and (i.slow or i.dropped)]
            assert metrics.REGISTRY.get_sample_value("ssmd_gateway_slow_consumers") == 1
            after = metrics.REGISTRY.get_sample_value("ssmd_gateway_messages_dropped_total", {"reason": policy})
            assert after is not None and after > before
            del stalled


async def test_disconnect_policy_cuts_off_the_stalled_client_only(tmp_path: Path) -> None:
    env = make_env(tmp_path, buffer_messages=BUFFER_MESSAGES, buffer_bytes=BUFFER_BYTES, drop_policy="disconnect")
    async with running(env) as h:
        await h.known(end_trade(0))
        async with h.client("?symbols=*", sock=stalled_socket(h.url), max_queue=1, close_timeout=0.5), \
                h.client("?symbols=*") as healthy:
            assert (await recv(healthy))["type"] == "subscribed"
            first = min(i.id for i in h.gateway.clients())
            shrink_send_buffer(h, first)
            await flood_until(h, healthy, lambda: first not in h.gateway.connections)
            remaining = h.gateway.clients()
            assert len(remaining) == 1 and remaining[0].id != first and remaining[0].dropped == 0
    assert (metrics.REGISTRY.get_sample_value("ssmd_gateway_disconnects_total", {"reason": "slow"}) or 0) >= 1
