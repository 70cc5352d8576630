"""Subscription planning: global where allowed, sharded where tickers are needed, nothing dropped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssmd.kalshi.subscriptions import Change, Limits, Planner, SubKey

CHANNELS = ["ticker", "trade", "orderbook_delta", "market_lifecycle_v2"]


def test_all_markets_uses_global_subscriptions_and_orderbook_waits_for_tickers() -> None:
    p = Planner(CHANNELS, "all", Limits())
    assert p.global_channels == ["ticker", "trade", "market_lifecycle_v2"]
    assert p.market_channels == ["orderbook_delta"]
    assert p.subscriptions(0) == [(SubKey(0, c, -1), None) for c in p.global_channels]
    changes = p.add(["A", "B"])
    assert changes == [Change(SubKey(0, "orderbook_delta", 0), "subscribe", ("A", "B"))]
    assert p.add(["C", "A"]) == [Change(SubKey(0, "orderbook_delta", 0), "add_markets", ("C",))]


def test_explicit_markets_shard_by_subscription_and_connection() -> None:
    tickers = [f"M{i}" for i in range(7)]
    p = Planner(["trade", "orderbook_delta", "market_lifecycle_v2"], tickers,
                Limits(markets_per_subscription=2, markets_per_connection=3, max_connections=3))
    assert p.global_channels == ["market_lifecycle_v2"]
    assert p.connection_count == 3
    conn0 = p.subscriptions(0)
    assert conn0[0] == (SubKey(0, "market_lifecycle_v2", -1), None)
    assert (SubKey(0, "orderbook_delta", 0), ("M0", "M1")) in conn0
    assert (SubKey(0, "orderbook_delta", 1), ("M2",)) in conn0
    assert p.subscriptions(2) == [(SubKey(2, "trade", 0), ("M6",)), (SubKey(2, "orderbook_delta", 0), ("M6",))]
    assert p.overflow == {}


def test_overflow_is_counted_and_placed_when_room_frees() -> None:
    p = Planner(["orderbook_delta"], ["A", "B"], Limits(markets_per_subscription=5, markets_per_connection=2,
                                                        max_connections=1))
    assert p.add(["C", "D"]) == []
    assert list(p.overflow) == ["C", "D"] and p.overflowed_total == 2
    changes = p.remove(["A"])
    assert changes == [Change(SubKey(0, "orderbook_delta", 0), "delete_markets", ("A",)),
                       Change(SubKey(0, "orderbook_delta", 0), "add_markets", ("C",))]
    assert list(p.overflow) == ["D"] and p.overflowed_total == 2
    p.remove(["D"])
    assert p.overflow == {}


def test_emptied_subscription_is_unsubscribed() -> None:
    p = Planner(["orderbook_delta"], ["A"], Limits())
    assert p.remove(["A", "missing"]) == [Change(SubKey(0, "orderbook_delta", 0), "unsubscribe", ("A",))]
    assert p.subscriptions(0) == []
    assert p.add(["B"]) == [Change(SubKey(0, "orderbook_delta", 1), "subscribe", ("B",))]


@given(st.lists(st.tuples(st.booleans(), st.lists(st.sampled_from([f"T{i}" for i in range(12)]), max_size=5)),
                max_size=20),
       st.integers(1, 3), st.integers(1, 4), st.integers(1, 3))
def test_every_market_is_placed_or_overflowed_within_limits(
    ops: list[tuple[bool, list[str]]], per_sub: int, per_conn: int, max_conn: int
) -> None:
    p = Planner(["trade", "orderbook_delta"], [], Limits(markets_per_subscription=per_sub,
                                                         markets_per_connection=per_conn, max_connections=max_conn))
    wanted: set[str] = set()
    for is_add, tickers in ops:
        if is_add:
            p.add(tickers)
            wanted |= set(tickers)
        else:
            p.remove(tickers)
            wanted -= set(tickers)
    placed = set(p.markets)
    assert placed | set(p.overflow) == wanted and not placed & set(p.overflow)
    for conn in range(p.connection_count):
        per_channel: dict[str, list[str]] = {}
        for key, markets in p.subscriptions(conn):
            assert markets is not None and 0 < len(markets) <= per_sub
            per_channel.setdefault(key.channel, []).extend(markets)
        for markets in per_channel.values():
            assert len(markets) <= per_conn and len(set(markets)) == len(markets)
    for channel in ("trade", "orderbook_delta"):
        covered = [m for c in range(p.connection_count) for k, ms in p.subscriptions(c) if k.channel == channel
                   for m in ms or ()]
        assert sorted(covered) == sorted(placed)
    if p.overflow:
        assert len(placed) == per_conn * max_conn
