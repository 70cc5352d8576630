"""Starting, failing to connect, and stopping at any moment."""

from __future__ import annotations

import asyncio
import socket

from ssmd.connector import Connector, ConnectorSettings
from ssmd.middleware.factory import open_backends
from tests.connector.harness import FAST, make_env, until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_exchange_is_an_open_outage_until_stop() -> None:
    env = make_env(["trade"])
    backends = await open_backends(env)
    connector = Connector(env, backends, ws_url=f"ws://127.0.0.1:{_free_port()}/trade-api/ws/v2", settings=FAST)
    task = asyncio.create_task(connector.run())
    try:
        await until(lambda: bool(connector.connections) and connector.connections[0].reconnects >= 2, what="retries")
        status = connector.status()
        assert status.state == "running"
        conn = status.details["connections"][0]
        assert conn["state"] in ("backoff", "connecting") and "connect failed" in conn["last_cause"]
        assert status.details["gaps"]["open"] == 1
    finally:
        await connector.stop()
        await asyncio.wait_for(task, 10)
    gaps = connector.gaps.recent
    assert [g.kind for g in gaps] == ["outage"] and gaps[0].end_ns is not None
    assert connector.status().state == "stopped"
    await backends.close()


async def test_stop_while_the_upgrade_hangs() -> None:
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers the upgrade
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = make_env(["trade"])
    backends = await open_backends(env)
    settings = ConnectorSettings(stale_after=30, open_timeout=60)
    connector = Connector(env, backends, ws_url=f"ws://127.0.0.1:{port}/trade-api/ws/v2", settings=settings)
    task = asyncio.create_task(connector.run())
    try:
        await asyncio.wait_for(accepted.wait(), 10)
        await asyncio.wait_for(connector.stop(), 10)
        await asyncio.wait_for(task, 10)
        assert connector.status().state == "stopped"
    finally:
        server.close()
        await backends.close()


async def test_server_pings_are_answered_and_keep_a_quiet_connection_alive() -> None:
    from tests.connector.harness import running

    async with running(make_env(["market_lifecycle_v2"])) as h:
        await h.live()
        conn = next(iter(h.sim.conns.values()))
        await until(lambda: conn.pongs >= 8, what="pongs")  # 8 x 0.1 s: longer than stale_after (0.6 s)
        assert h.connector.connections[0].reconnects == 0 and not h.connector.gaps.recent
