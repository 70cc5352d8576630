"""Signed upgrades: good keys connect, bad credentials stop with one clear error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from ssmd.config.model import Endpoints, KeySpec, SimulatorConfig
from ssmd.connector import Connector
from ssmd.connector.endpoints import Credentials
from ssmd.errors import AuthError
from ssmd.kalshi.auth import generate_key, private_pem, public_pem
from ssmd.middleware.factory import open_backends
from ssmd.simulator import SimSettings, Simulator
from tests.connector.harness import FAST, make_env, running, until

KEY = generate_key()
KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


def auth_sim(**kw: object) -> SimSettings:
    return SimSettings(markets=3, rate=0, lifecycle_interval=0, ping_interval=0.1, auth="required",
                       public_keys={KEY_ID: public_pem(KEY)}, **kw)  # type: ignore[arg-type]


async def run_to_error(sim: Simulator, credentials: Credentials | None) -> AuthError:
    backends = await open_backends(make_env(["trade"]))
    connector = Connector(make_env(["trade"]), backends, ws_url=sim.ws_url, settings=FAST, credentials=credentials)
    try:
        with pytest.raises(AuthError) as info:
            await asyncio.wait_for(connector.run(), 10)
    finally:
        await backends.close()
    assert connector.status().state == "failed"
    assert connector.connections[0].attempts == 1  # no retry loop
    return info.value


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_stop_with_one_clear_line(status: int) -> None:
    async with Simulator(auth_sim(refuse_status=status)) as sim:
        err = await run_to_error(sim, None)
        assert f"HTTP {status}" in str(err) and "no credentials" in str(err) and "\n" not in str(err)
        wrong = Credentials(KEY_ID, generate_key())
        err = await run_to_error(sim, wrong)
        assert "check the kalshi key" in str(err)
        assert "BEGIN" not in str(err) and KEY_ID not in str(err)
        assert sim.refused == 2


async def test_signed_connection_from_the_environment_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "api_key").write_text(KEY_ID)
    (tmp_path / "api_secret").write_text(private_pem(KEY))
    env = make_env(["trade", "orderbook_delta"], markets="all")
    env.keys["kalshi"] = KeySpec(type="api_key", fields=["api_key", "api_secret"], source=f"file:{tmp_path}")
    env.simulator = SimulatorConfig(enabled=True, require_auth=True, rate=0, markets=4)
    sim = Simulator(SimSettings.from_env(env))  # as the runtime starts it, passing its URLs in
    await sim.start()
    env = msgspec.structs.replace(env, endpoints=Endpoints(ws=sim.ws_url, rest=sim.rest_url))
    backends = await open_backends(env)
    connector = Connector(env, backends, settings=FAST)
    task = asyncio.create_task(connector.run())
    try:
        await until(lambda: bool(connector.connections) and connector.connections[0].live.is_set(), what="live")
        assert sim.refused == 0
        await connector.add_markets(sim.trading_tickers()[:2])  # a private channel: needs the signed upgrade
        await until(lambda: connector.stats.received.get("orderbook_snapshot", 0) == 2, what="snapshots")
        assert connector.credentials is not None and "****" in repr(connector.credentials)
    finally:
        await connector.stop()
        await asyncio.wait_for(task, 10)
        await backends.close()
        await sim.stop()


async def test_other_refusals_are_retried_with_backoff() -> None:
    sim_settings = SimSettings(markets=2, rate=0, lifecycle_interval=0, ping_interval=0.1, refuse_status=503)
    async with running(make_env(["trade"]), sim_settings=sim_settings) as h:
        await h.live()
        h.sim.refuse_auth(True)
        await h.sim.drop_connections(1001)
        await until(lambda: h.connector.connections[0].reconnects >= 3, what="retries")
        assert "HTTP 503" in h.connector.connections[0].last_cause
        h.sim.refuse_auth(False)
        await until(lambda: h.connector.connections[0].live.is_set() and not h.connector.gaps.open, what="back")
        (gap,) = [g for g in await h.gaps() if g.kind == "outage"]
        assert gap.end_ns is not None


async def test_private_channel_refused_without_credentials_others_keep_flowing() -> None:
    sim_settings = SimSettings(markets=3, rate=0, lifecycle_interval=0, ping_interval=0.1, auth="optional")
    async with running(sim_settings=sim_settings, markets=2) as h:
        await h.live()
        details = h.connector.status().details["connections"][0]
        assert details["refused"] == ["orderbook_delta: error 9: Authentication required"]
        assert details["subscriptions"] == 3
        await h.sim.pump(100)
        await h.settle()
        assert await h.messages("t.kalshi.trade.>") and not await h.messages("t.kalshi.orderbook.>")
        assert h.connector.status().counters["errors.exchange_error_9"] == 1
