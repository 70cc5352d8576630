"""A silent freeze (socket open, pings answered, no data) is found per channel and replaced."""

from __future__ import annotations

from ssmd.codec import decode as capnp_decode
from ssmd.connector import ConnectorSettings
from ssmd.connector.staleness import FreezePolicy
from ssmd.simulator import SimSettings
from tests.connector.harness import make_env, running, until

POLICY = FreezePolicy(floor=1.0, factor=10.0, cap=5.0, min_observations=5, interval=0.05)
SETTINGS = ConnectorSettings(stale_after=5.0, backoff_initial=0.02, backoff_max=0.1, open_timeout=5, stop_timeout=5,
                             freeze=POLICY)


async def test_a_silent_freeze_is_detected_per_channel_reconnected_and_recorded_as_a_gap() -> None:
    sim_settings = SimSettings(markets=6, rate=300, lifecycle_interval=0, ping_interval=0.1)
    async with running(make_env(["ticker", "trade", "market_lifecycle_v2"]), sim_settings=sim_settings,
                       settings=SETTINGS) as h:
        await h.live()
        conn = h.connector.connections[0]
        await until(lambda: all(ch in conn.watch.limits() and conn.watch.channels[ch].observations >= 5
                                for ch in ("trade", "ticker")), what="the channels' rhythm learnt")
        assert conn.reconnects == 0
        h.sim.freeze(60)
        await until(lambda: conn.freezes.get("trade", 0) >= 1, what="the freeze detected")
        freeze = conn.last_freeze
        assert freeze is not None and freeze.channel in ("trade", "ticker")
        assert freeze.silence <= freeze.limit + 4 * POLICY.interval + 1.0  # the bound, with slack for a loaded box
        await until(lambda: conn.last_cause.startswith("frozen"), what="the cause")  # not the ping watchdog
        h.sim.end_freeze()
        await until(lambda: conn.live.is_set() and not h.connector.gaps.open, what="recovery")
        before = h.processed
        await until(lambda: h.processed > before + 50, what="data after the freeze")
        gaps = [g for g in await h.gaps() if g.kind == "outage"]
        trade_gaps = [g for g in gaps if g.channel == "trade"]
        assert trade_gaps and all(g.cause.startswith("frozen: no ") and g.end_ns is not None for g in trade_gaps)
        first = min(trade_gaps, key=lambda g: g.start_ns)
        assert first.end_ns is not None
        trades = [m.data if not isinstance(m.data, bytes) else capnp_decode("trade", m.data)
                  for m in await h.messages("t.kalshi.trade.>")]
        before_gap = [t for t in trades if t.received_at <= first.start_ns]
        after_gap = [t for t in trades if t.received_at > first.start_ns]
        assert before_gap and after_gap
        # the gap starts no later than the last trade received before the freeze
        last_before = max(t.received_at for t in trades
                          if t.received_at < first.end_ns)
        assert first.start_ns <= last_before + int(POLICY.interval * 1e9)
        status = h.connector.status().details["connections"][0]
        assert status["freezes"]["trade"] >= 1 and status["last_cause"].startswith("frozen")


async def test_a_quiet_channel_that_never_delivered_is_not_a_freeze() -> None:
    sim_settings = SimSettings(markets=4, rate=300, lifecycle_interval=0, ping_interval=0.1)
    async with running(make_env(["trade", "market_lifecycle_v2"]), sim_settings=sim_settings, settings=SETTINGS) as h:
        await h.live()
        conn = h.connector.connections[0]
        await until(lambda: h.connector.stats.received.get("trade", 0) > 40, 30, what="trades")
        await until(lambda: conn.watch.channels["trade"].observations >= 10, 30, what="the trades' rhythm learnt")
        assert conn.freezes == {} and conn.reconnects == 0
        assert "market_lifecycle_v2" not in conn.watch.limits()
