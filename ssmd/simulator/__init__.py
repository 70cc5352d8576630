"""A faithful local Kalshi exchange: WebSocket v2 and REST v2 on one 127.0.0.1 port.

``Simulator(SimSettings(...))`` is deterministic from its seed. Pure parts: ``universe``
(listings), ``book`` and ``engine`` (market activity, lifecycle), ``frames`` (Kalshi JSON),
``protocol`` (commands, sids, seqs), ``rest`` (REST answers), ``tape`` (every
trade made, for REST and tests), ``history`` (the simulated past across the historical
cutoff), ``candles`` and ``rest_data`` (trades, books, candles, history, exchange). Shell:
``simulator`` (the service), ``connection``, ``http`` (auth + REST on the same port),
``control`` (fault switches, lifecycle drivers, counters), ``replay``.
May import: ssmd core modules and ``ssmd.kalshi.auth``; never the connector, archiver,
gateway or TUI.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ssmd.simulator.settings import SimSettings
from ssmd.simulator.simulator import Simulator

if TYPE_CHECKING:
    from ssmd.config.model import Environment

__all__ = ["SimSettings", "Simulator", "endpoints", "ensure_running"]


def endpoints(env: Environment) -> tuple[str, str]:
    """(ws, rest) URLs of the exchange for ``env``: overrides first, then the feed file."""
    ws, rest = env.endpoints.ws, env.endpoints.rest
    if ws is None or rest is None:
        from ssmd.config.load import load_feed

        version = load_feed(env.feed, env.name).current()
        chosen = version.endpoints.get("prod") or next(iter(version.endpoints.values()))
        ws, rest = ws or chosen.ws, rest or chosen.rest
    return ws, rest


@contextlib.asynccontextmanager
async def ensure_running(env: Environment) -> AsyncIterator[tuple[str, str]]:
    """Yield (ws_url, rest_url) of the exchange for ``env``.

    When the environment enables the simulator and gives no endpoint override, a
    simulator is started here and stopped on exit. The caller passes the URLs on (as
    ``endpoints`` of the environment it hands to components): nothing finds a simulator
    any other way, so an environment that already carries them passes them through.
    """
    if not env.simulator.enabled or env.endpoints.ws is not None:
        yield endpoints(env)
        return
    async with Simulator(SimSettings.from_env(env)) as sim:
        yield sim.ws_url, sim.rest_url
