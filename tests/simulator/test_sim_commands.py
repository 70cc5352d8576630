"""Commands and responses over a real WebSocket: shapes, sids, seqs and every error code."""

from __future__ import annotations

import json

from ssmd.book import OrderBook
from ssmd.fixed import parse_count, parse_price
from ssmd.records import OrderbookDelta, OrderbookSnapshot
from ssmd.simulator import Simulator
from tests.simulator.client import Client


def active(sim: Simulator, n: int) -> list[str]:
    return sim.trading_tickers()[:n]


async def test_subscribe_acks_one_sid_per_channel(client: Client) -> None:
    id_ = await client.send("subscribe", {"channels": ["ticker", "trade", "market_lifecycle_v2"]})
    acks = [await client.reply(id_) for _ in range(3)]
    assert acks == [
        {"id": id_, "type": "subscribed", "msg": {"channel": "ticker", "sid": 1}},
        {"id": id_, "type": "subscribed", "msg": {"channel": "trade", "sid": 2}},
        {"id": id_, "type": "subscribed", "msg": {"channel": "market_lifecycle_v2", "sid": 3}},
    ]
    # a duplicate subscribe succeeds with a new sid (error 6 is retired)
    assert await client.subscribe(["ticker"]) == [4]
    id_ = await client.send("list_subscriptions")
    ok = await client.reply(id_)
    assert ok == {"id": id_, "type": "ok", "msg": [
        {"channel": "ticker", "sid": 1}, {"channel": "trade", "sid": 2},
        {"channel": "market_lifecycle_v2", "sid": 3}, {"channel": "ticker", "sid": 4}]}


async def test_error_codes(sim: Simulator, client: Client) -> None:
    async def error_of(cmd: str, params: object = None, **extra: object) -> dict[str, object]:
        body: dict[str, object] = {"id": 77, "cmd": cmd, **extra}
        if params is not None:
            body["params"] = params
        await client.ws.send(json.dumps(body))
        frame = await client.reply(77)
        assert frame["type"] == "error", frame
        return frame["msg"]  # type: ignore[no-any-return]

    await client.ws.send("not json")
    assert (await client.recv()) == {"type": "error", "msg": {"code": 1, "msg": "Unable to process message"}}
    assert await error_of("subscribe") == {"code": 2, "msg": "Params required"}
    assert (await error_of("subscribe", {}))["code"] == 3
    assert (await error_of("unsubscribe", {}))["code"] == 4
    assert (await error_of("bogus", {}))["code"] == 5
    assert (await error_of("unsubscribe", {"sids": [42]}))["code"] == 7
    assert (await error_of("subscribe", {"channels": ["ticker_v9"]})) == {"code": 8, "msg": "Unknown channel name"}
    assert (await error_of("subscribe", {"channels": ["ticker"], "market_ticker": "A",
                                         "market_tickers": ["B"]}))["code"] == 11
    assert (await error_of("update_subscription", {"sids": [1, 2], "action": "add_markets"}))["code"] == 12
    assert (await error_of("update_subscription", {"action": "add_markets"}))["code"] == 12
    assert (await error_of("subscribe", {"channels": ["orderbook_delta"]}))["code"] == 14
    tickers = active(sim, 2)
    [sid] = await client.subscribe(["orderbook_delta"], market_tickers=tickers)
    await client.barrier()
    assert (await error_of("update_subscription", {"sid": sid, "action": "shuffle"}))["code"] == 13
    assert (await error_of("update_subscription", {"sids": [sid]}))["code"] == 15
    assert (await error_of("update_subscription", {"sids": [sid], "action": "add_markets"}))["code"] == 14
    assert (await error_of("update_subscription", {"sids": [99], "action": "get_snapshot"}))["code"] == 7
    [tsid] = await client.subscribe(["trade"])
    assert (await error_of("update_subscription", {"sids": [tsid], "action": "get_snapshot"}))["code"] == 13
    too_many = [f"M{i}" for i in range(257)]
    err = await error_of("subscribe", {"channels": ["ticker"], "market_tickers": too_many})
    assert err["code"] == 26 and err["market_tickers"] == ["M256"]


async def test_command_flood_answers_27(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(commands_per_second=1.0) as sim:
        client = await Client.open(sim.ws_url)
        for _ in range(10):
            await client.send("list_subscriptions")
        frames = [await client.recv() for _ in range(10)]
        assert frames[0]["type"] == "ok"
        errors = [f for f in frames if f["type"] == "error"]
        assert errors and all(f["msg"] == {"code": 27, "msg": "Too many requests"} for f in errors)
        assert all(isinstance(f["id"], int) for f in errors)
        await client.close()


async def test_unsubscribe_then_silence(sim: Simulator, client: Client) -> None:
    await client.subscribe(["ticker"])
    [sid] = await client.subscribe(["trade"])
    sim.pump_now(200)
    before = await client.barrier()
    last_seq = max(f["seq"] for f in before if f.get("type") == "trade")
    id_ = await client.send("unsubscribe", {"sids": [sid]})
    frames = await client.until(lambda f: f.get("id") == id_)
    assert frames[-1] == {"id": id_, "sid": sid, "seq": last_seq, "type": "unsubscribed"}
    sim.pump_now(200)
    later = await client.barrier()
    assert later and all(f["sid"] != sid for f in later)


async def test_seq_per_sid_contiguous_and_no_seq_on_ticker(sim: Simulator, client: Client) -> None:
    await client.subscribe(["ticker", "trade"])
    await client.subscribe(["orderbook_delta"], market_tickers=sim.trading_tickers())
    sim.pump_now(500)
    frames = await client.barrier()
    seqs: dict[int, list[int]] = {}
    for f in frames:
        if f["type"] == "ticker":
            assert "seq" not in f
        else:
            seqs.setdefault(f["sid"], []).append(f["seq"])
    assert set(seqs) == {2, 3}
    for values in seqs.values():
        assert values == list(range(1, len(values) + 1))
    assert sum(1 for f in frames if f["type"] == "ticker") > 0


def _snapshot(frame: dict, received: int = 0) -> OrderbookSnapshot:  # type: ignore[type-arg]
    msg = frame["msg"]
    side = lambda key: tuple((parse_price(p), parse_count(s)) for p, s in msg.get(key, []))  # noqa: E731
    return OrderbookSnapshot(ts=0, received_at=received, ticker=msg["market_ticker"], yes=side("yes_dollars_fp"),
                             no=side("no_dollars_fp"), sid=frame["sid"], seq=frame["seq"])


def _delta(frame: dict) -> OrderbookDelta:  # type: ignore[type-arg]
    msg = frame["msg"]
    return OrderbookDelta(ts=msg["ts_ms"] * 1_000_000, received_at=0, ticker=msg["market_ticker"], side=msg["side"],
                          price=parse_price(msg["price_dollars"]), delta=parse_count(msg["delta_fp"]),
                          sid=frame["sid"], seq=frame["seq"])


async def test_snapshot_then_deltas_rebuild_the_exchange_book(sim: Simulator, client: Client) -> None:
    tickers = active(sim, 4)
    await client.send("subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers})
    books = {t: OrderBook(t) for t in tickers}
    sim.pump_now(3000)
    frames = await client.barrier()
    types = [f["type"] for f in frames]
    assert types[0] == "subscribed" and types[1:5] == ["orderbook_snapshot"] * 4
    for f in frames[1:]:
        update = _snapshot(f) if f["type"] == "orderbook_snapshot" else _delta(f)
        books[update.ticker].apply(update)
    for t in tickers:
        yes, no = sim.book(t)
        assert books[t].yes == yes and books[t].no == no
        assert yes or no
        best_bid, best_ask = books[t].best_bid(), books[t].best_ask()
        if best_bid and best_ask:
            assert best_bid[0] < best_ask[0]  # never crossed


async def test_update_subscription_add_delete_get_snapshot(sim: Simulator, client: Client) -> None:
    a, b, c = active(sim, 3)
    [sid] = await client.subscribe(["orderbook_delta"], market_tickers=[a])
    await client.barrier()
    id_ = await client.send("update_subscription", {"sids": [sid], "market_tickers": [b, c], "action": "add_markets"})
    ok = await client.reply(id_)
    assert ok == {"id": id_, "sid": sid, "seq": 1, "type": "ok", "msg": {"market_tickers": [a, b, c]}}
    snaps = await client.barrier()
    assert [(f["type"], f["msg"]["market_ticker"], f["seq"]) for f in snaps] == [
        ("orderbook_snapshot", b, 2), ("orderbook_snapshot", c, 3)]
    id_ = await client.send("update_subscription", {"sid": sid, "market_ticker": a, "action": "delete_markets"})
    assert (await client.reply(id_))["msg"] == {"market_tickers": [b, c]}
    id_ = await client.send("update_subscription", {"sids": [sid], "market_tickers": [c], "action": "get_snapshot"})
    frames = await client.barrier()
    assert frames[0]["type"] == "ok" and frames[0]["id"] == id_
    assert frames[1]["type"] == "orderbook_snapshot" and frames[1]["id"] == id_ and frames[1]["seq"] == 4
    assert frames[1]["msg"]["market_ticker"] == c


async def test_skip_ticker_ack_and_initial_ticker_snapshot(sim: Simulator, client: Client) -> None:
    a, b = active(sim, 2)
    id_ = await client.send("subscribe", {"channels": ["ticker"], "market_tickers": [a], "send_initial_snapshot": True,
                                          "skip_ticker_ack": True})
    frames = await client.barrier()
    assert frames[0] == {"id": id_, "type": "subscribed", "msg": {"channel": "ticker", "sid": 1}}
    assert frames[1]["type"] == "ticker" and frames[1]["msg"]["market_ticker"] == a
    id_ = await client.send("update_subscription", {"sids": [1], "market_tickers": [b], "action": "add_markets",
                                                    "send_initial_snapshot": True})
    frames = await client.barrier()
    assert frames[0] == {"id": id_, "sid": 1, "type": "ok"}  # no market list, no seq on ticker
    assert frames[1]["msg"]["market_ticker"] == b
    for key in ("price_dollars", "yes_bid_dollars", "yes_ask_dollars", "yes_bid_size_fp", "yes_ask_size_fp",
                "last_trade_size_fp", "volume_fp", "open_interest_fp", "dollar_volume", "dollar_open_interest",
                "ts", "ts_ms", "time", "market_id"):
        assert key in frames[1]["msg"]


async def test_use_yes_price_reports_no_levels_in_yes_terms(sim: Simulator, client: Client) -> None:
    [t] = active(sim, 1)
    await client.subscribe(["orderbook_delta"], market_tickers=[t], use_yes_price=True)
    [snap] = await client.barrier()
    _, no = sim.book(t)
    assert [parse_price(p) for p, _ in snap["msg"]["no_dollars_fp"]] == sorted(10_000 - p for p in no)


async def test_data_is_interleaved_before_the_ack(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(interleave=True) as sim:
        client = await Client.open(sim.ws_url)
        await client.subscribe(["orderbook_delta"], market_tickers=sim.trading_tickers())
        await client.until(lambda f: f["type"] == "orderbook_snapshot" and f["seq"] == len(sim.trading_tickers()))
        id_ = await client.send("list_subscriptions")
        frames = await client.until(lambda f: f.get("id") == id_)
        assert frames[0]["type"] == "orderbook_delta"
        await client.close()


async def test_private_channel_needs_auth_in_optional_mode(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(auth="optional") as sim:
        client = await Client.open(sim.ws_url)
        id_ = await client.send("subscribe", {"channels": ["orderbook_delta"], "market_tickers": ["X"]})
        error = {"id": id_, "type": "error", "msg": {"code": 9, "msg": "Authentication required"}}
        assert await client.reply(id_) == error
        assert await client.subscribe(["ticker", "trade", "market_lifecycle_v2"]) == [1, 2, 3]
        await client.close()


async def test_legacy_ticker_shape(make_sim) -> None:  # type: ignore[no-untyped-def]
    async with make_sim(legacy_ticker=True) as sim:
        client = await Client.open(sim.ws_url)
        tickers = sim.trading_tickers()
        params = {"channels": ["ticker"], "market_tickers": tickers, "send_initial_snapshot": True}
        await client.send("subscribe", params)
        frames = [f for f in await client.barrier() if f["type"] == "ticker"]
        assert len(frames) == len(tickers)
        for f in frames:
            msg = f["msg"]
            assert {"price", "yes_bid", "yes_ask", "volume", "open_interest", "Clock", "ts"} <= set(msg)
            assert "ts_ms" not in msg and "volume_fp" not in msg
            assert msg["price_dollars"] == "" and msg["price"] == 0  # never traded yet
        await client.close()
