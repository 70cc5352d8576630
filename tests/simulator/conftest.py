"""Fixtures of the simulator tests: a started simulator and connected clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from ssmd.simulator import SimSettings, Simulator
from tests.simulator.client import Client


def quiet_settings(**overrides: Any) -> SimSettings:
    """No background data, no scripted lifecycle, no interleaving: tests drive everything."""
    base: dict[str, Any] = {"markets": 12, "rate": 0, "lifecycle_interval": 0, "interleave": False, "seed": 11}
    base.update(overrides)
    return SimSettings(**base)


@pytest.fixture
def make_sim() -> Callable[..., AbstractAsyncContextManager[Simulator]]:
    @asynccontextmanager
    async def factory(record: bool = False, **overrides: Any) -> AsyncIterator[Simulator]:
        async with Simulator(quiet_settings(**overrides), record_frames=record) as sim:
            yield sim

    return factory


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(quiet_settings(), record_frames=True) as s:
        yield s


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[Client]:
    c = await Client.open(sim.ws_url)
    yield c
    await c.close()
