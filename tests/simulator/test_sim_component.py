"""The simulator as a Component and from an environment file (keys, auth, rate)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from ssmd.errors import ConfigError
from ssmd.kalshi.auth import generate_key, private_pem, sign_headers
from ssmd.simulator import SimSettings, Simulator
from tests.simulator.client import Client
from tests.simulator.conftest import quiet_settings


async def test_component_run_status_stop() -> None:
    sim = Simulator(quiet_settings())
    assert sim.name == "simulator" and sim.status().state == "stopped"
    task = asyncio.create_task(sim.run())
    await asyncio.wait_for(sim.ready.wait(), 5)
    client = await Client.open(sim.ws_url)
    await client.subscribe(["trade"])
    status = sim.status()
    assert status.state == "running"
    assert status.details["connections"] == 1 and status.details["ws_url"] == sim.ws_url
    assert status.counters["trade"] == 1  # the ack counts under its channel
    await sim.stop()
    await asyncio.wait_for(task, 5)
    assert sim.status().state == "stopped"
    with pytest.raises(OSError):
        await Client.open(sim.ws_url)


async def test_background_rate_sends_data_without_pumping() -> None:
    async with Simulator(quiet_settings(rate=2000)) as sim:
        client = await Client.open(sim.ws_url)
        await client.subscribe(["ticker", "trade"])
        frames = await client.until(lambda f: f["type"] == "trade")
        assert frames[-1]["msg"]["market_ticker"] in sim.engine.books
        await client.close()


async def test_from_env_requires_signed_upgrades(make_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = generate_key()
    folder = tmp_path / "creds"
    folder.mkdir()
    (folder / "api_key").write_text("key-123")
    (folder / "api_secret").write_text(private_pem(key, pkcs1=True))
    env = make_env(
        keys={"kalshi": {"type": "api_key", "fields": ["api_key", "api_secret"], "source": f"file:{folder}"}},
        simulator={"enabled": True, "require_auth": True, "markets": 6, "rate": 0, "seed": 4},
    )
    settings = SimSettings.from_env(env)
    assert (settings.auth, settings.markets, settings.seed, settings.rate) == ("required", 6, 4, 0)
    assert list(settings.public_keys) == ["key-123"]
    settings.lifecycle_interval = 0
    async with Simulator(settings) as sim:
        headers = sign_headers("key-123", key, "GET", "/trade-api/ws/v2", time.time_ns() // 1_000_000)
        client = await Client.open(sim.ws_url, additional_headers=headers)
        assert await client.subscribe(["orderbook_delta"], market_tickers=sim.trading_tickers()[:2]) == [1]
        await client.close()
        with pytest.raises(InvalidStatus):
            await Client.open(sim.ws_url)


def test_from_env_defaults_and_missing_key(make_env) -> None:  # type: ignore[no-untyped-def]
    settings = SimSettings.from_env(make_env(simulator={"enabled": True}))
    assert settings.auth == "open" and settings.public_keys == {}
    with pytest.raises(ConfigError, match=r"simulator\.require_auth"):
        SimSettings.from_env(make_env(simulator={"enabled": True, "require_auth": True}))


async def test_port_in_use_is_one_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await Simulator(quiet_settings(port=port)).start()
