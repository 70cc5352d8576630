"""Every frame the exchange sent reaches the raw subject unchanged; records are exact."""

from __future__ import annotations

from ssmd import metrics
from ssmd.codec import decode as capnp_decode
from ssmd.kalshi.normalize import normalize
from ssmd.kalshi.wire import decode
from ssmd.subjects import parse_record_subject
from tests.connector.harness import make_env, running


async def test_raw_frames_and_normalized_records_are_exact() -> None:
    async with running(markets=4) as h:
        await h.live()
        for _ in range(5):
            await h.sim.pump(200)
        h.sim.lifecycle_step()
        h.sim.update_event_fee(next(iter(h.sim.engine.universe.events)))
        await h.settle()

        raw = await h.messages("t.kalshi.raw.>")
        sent = h.sent_frames()
        assert len(raw) == len(sent) > 500
        assert [m.data for m in raw] == sent
        conn = raw[0].headers["conn"]
        for m in raw:
            assert m.headers["conn"] == conn and int(m.headers["received_at"]) > 0
            assert m.subject == f"t.kalshi.raw.{m.headers['channel']}"
        types = {m.headers["type"] for m in raw}
        assert {"subscribed", "ticker", "trade", "orderbook_snapshot", "orderbook_delta"} <= types
        assert {m.headers["channel"] for m in raw if m.headers["type"] == "orderbook_snapshot"} == {"orderbook_delta"}
        seqd = [m for m in raw if m.headers["type"] == "trade"]
        assert all("sid" in m.headers and "seq" in m.headers for m in seqd)

        expected = []
        for m in raw:
            result = normalize(decode(m.data), int(m.headers["received_at"]))
            assert isinstance(result, list)
            expected.extend(result)
        records = await h.messages("t.kalshi.*.>")
        records = [r for r in records if r.subject.split(".")[2] in ("trade", "ticker", "orderbook", "lifecycle")]
        got = []
        for r in records:
            _, _, kind, ticker = parse_record_subject(r.subject)
            record = capnp_decode(kind, r.data)
            assert record.ticker == ticker and r.headers["conn"] == conn
            got.append(record)
        assert got == expected
        assert {type(r).__name__ for r in got} >= {"Trade", "Ticker", "OrderbookSnapshot", "OrderbookDelta",
                                                   "Lifecycle"}

        status = h.connector.status()
        assert status.counters["trade"] == sum(1 for m in raw if m.headers["type"] == "trade")
        assert status.counters["published"] == len(raw) + len(records)
        assert status.lag_seconds is not None and status.errors == 0
        assert status.details["subscribed_markets"]["orderbook_delta"] == "4"
        h.connector._tick()
        text = metrics.render().decode()
        assert 'ssmd_connector_messages_received_total{feed="kalshi",type="trade"}' in text
        assert 'ssmd_connector_connected{connection="0",feed="kalshi"} 1.0' in text


async def test_explicit_markets_are_sharded_across_connections() -> None:
    env = make_env(["trade", "orderbook_delta", "market_lifecycle_v2"], markets="all",
                   markets_per_subscription=2, markets_per_connection=3)
    async with running(env, markets=6) as h:
        await h.live(0)
        await h.live(1)
        assert len(h.connector.connections) == 2
        assert len(h.sim.conns) == 2
        await h.sim.pump(300)
        await h.settle()
        records = await h.messages("t.kalshi.orderbook.>")
        tickers = {parse_record_subject(r.subject)[3] for r in records}
        assert tickers == set(h.sim.trading_tickers()[:6])
        details = h.connector.status().details
        assert [c["markets"] for c in details["connections"]] == [3, 3]
        # connection 0: global trade + lifecycle, and 3 order books in slots of 2; connection 1: 2 slots
        assert [c["subscriptions"] for c in details["connections"]] == [4, 2]


async def test_markets_added_and_removed_while_running() -> None:
    async with running(markets=2) as h:
        await h.live()
        third = h.sim.trading_tickers()[2]
        await h.connector.add_markets([third])
        await h.settle()
        snaps = [m for m in await h.messages("t.kalshi.raw.orderbook_delta")
                 if m.headers["type"] == "orderbook_snapshot" and third.encode() in m.data]
        assert len(snaps) == 1
        await h.connector.remove_markets(h.sim.trading_tickers()[:3])
        await h.settle()
        raw = await h.messages("t.kalshi.raw.>")
        assert any(m.headers["type"] == "unsubscribed" for m in raw)
        before = len(await h.messages("t.kalshi.orderbook.>"))
        await h.sim.pump(200)
        await h.settle()
        assert len(await h.messages("t.kalshi.orderbook.>")) == before
        assert h.connector.status().details["subscribed_markets"]["orderbook_delta"] == "0"
