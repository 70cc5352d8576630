"""A burst through ``ssmd up`` as a user runs it: every trade archived once, exactly, and
every one delivered to a gateway client on ``*`` (the e2e benchmark's path, untimed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_e2e import _ssmd_run, exchange

pytestmark = pytest.mark.slow
N = 20_000


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_burst_is_archived_exactly_and_reaches_a_gateway_client(workers: int) -> None:
    async with exchange() as (ex, rest):
        run = await _ssmd_run(ex, rest, N, gateway=True, workers=workers, timeout=120)
    assert run["problem"] == ""  # N rows, N distinct ids, exact prices, sizes and sides
    assert run["rows"] == N and run["gw"]["n"] == N  # the live client got every trade
