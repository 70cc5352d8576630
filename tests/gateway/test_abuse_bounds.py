"""What one abusive request may cost: thousands of unknown symbols answer one short error,
and the lookups leave room for everyone else's fan-out."""

from __future__ import annotations

from tests.gateway.conftest import Harness, recv, send


async def test_thousands_of_unknown_symbols_get_one_short_error(gw: Harness) -> None:
    symbols = [f"S{i:05d}" for i in range(5000)]
    async with gw.client() as ws:
        await send(ws, {"action": "subscribe", "symbols": symbols})
        err = await recv(ws)
        assert err["type"] == "error"
        assert err["error"] == "unknown symbol(s): " + ", ".join(symbols[:20]) + " and 4980 more"
