"""Commands carry incrementing ids and the exact shapes of the reference."""

from __future__ import annotations

import json

from ssmd.kalshi.commands import Commands


def test_ids_increment_and_shapes() -> None:
    c = Commands()
    sub = c.subscribe("orderbook_delta", ["A", "B.5"])
    assert json.loads(sub.text()) == {"id": 1, "cmd": "subscribe",
                                      "params": {"channels": ["orderbook_delta"], "market_tickers": ["A", "B.5"]}}
    assert json.loads(c.subscribe("ticker").text()) == {"id": 2, "cmd": "subscribe", "params": {"channels": ["ticker"]}}
    upd = c.update_subscription(4, "get_snapshot", ["A"])
    assert json.loads(upd.text()) == {"id": 3, "cmd": "update_subscription",
                                      "params": {"sids": [4], "market_tickers": ["A"], "action": "get_snapshot"}}
    assert json.loads(c.unsubscribe([1, 2]).text()) == {"id": 4, "cmd": "unsubscribe", "params": {"sids": [1, 2]}}
    assert json.loads(c.list_subscriptions().text()) == {"id": 5, "cmd": "list_subscriptions"}


def test_responses_match_by_id() -> None:
    c = Commands()
    first = c.subscribe("trade")
    c.subscribe("ticker")
    assert c.answered(first.id) == first
    assert c.answered(first.id) is None
    assert c.answered(None) is None
    assert list(c.pending) == [2]
