"""Every fault the exchange can throw is recorded and survived."""

from __future__ import annotations

import pytest

from ssmd.codec import decode as capnp_decode
from ssmd.records import OrderbookDelta, OrderbookSnapshot, Trade
from ssmd.subjects import parse_record_subject
from tests.connector.harness import make_env, running, until


async def test_orderbook_seq_gap_requests_snapshot_and_discards_deltas_until_then() -> None:
    async with running(markets=3) as h:
        await h.live()
        await h.sim.pump(100)
        await h.settle()
        h.sim.skip_seq("orderbook_delta", 2)
        await h.sim.pump(300)
        await h.settle()
        gaps = [g for g in await h.gaps() if g.kind == "seq"]
        assert len(gaps) == 1
        gap = gaps[0]
        assert gap.channel == "orderbook_delta" and gap.received == gap.expected + 2  # type: ignore[operator]
        assert sorted(gap.markets) == sorted(h.sim.trading_tickers()[:3])
        raw = await h.messages("t.kalshi.raw.orderbook_delta")
        resent = [m for m in raw if m.headers["type"] == "orderbook_snapshot" and b'"id":' in m.data]
        assert len(resent) == 3  # one get_snapshot answer per market
        books = [capnp_decode("orderbook", m.data) for m in await h.messages("t.kalshi.orderbook.>")]
        for ticker in gap.markets:
            mine = [b for b in books if b.ticker == ticker]
            after = [b for b in mine if b.seq >= gap.received]  # type: ignore[operator]
            assert after and isinstance(after[0], OrderbookSnapshot), "a delta was used before the snapshot"
        assert h.connector.stats.discarded == sum(
            1 for m in raw if m.headers["type"] == "orderbook_delta"
        ) - sum(1 for b in books if isinstance(b, OrderbookDelta))
        await h.sim.pump(100)
        await h.settle()
        assert len([g for g in await h.gaps() if g.kind == "seq"]) == 1


async def test_trade_seq_gap_is_recorded_and_duplicates_dropped() -> None:
    async with running(make_env(["trade"])) as h:
        await h.live()
        await h.sim.pump(100)
        h.sim.skip_seq("trade", 3)
        h.sim.duplicate_next("trade", 4)
        await h.sim.pump(200)
        await h.settle()
        (gap,) = [g for g in await h.gaps() if g.kind == "seq"]
        assert (gap.channel, gap.received - gap.expected) == ("trade", 3)  # type: ignore[operator]
        raw = await h.messages("t.kalshi.raw.trade")
        trades = [capnp_decode("trade", m.data) for m in await h.messages("t.kalshi.trade.>")]
        assert len(raw) - 1 == len(trades) + 4  # minus the subscribed ack; 4 duplicates not normalized
        assert len({t.seq for t in trades}) == len(trades)  # type: ignore[union-attr]
        assert h.connector.status().counters["duplicates"] == 4


@pytest.mark.parametrize("code", [10, 25])
async def test_terminal_subscription_error_resubscribes_and_records_gap(code: int) -> None:
    async with running(make_env(["trade", "market_lifecycle_v2"])) as h:
        await h.live()
        await h.sim.pump(50)
        await h.settle()
        assert h.sim.send_error("trade", code) == 1
        await until(lambda: h.connector.gaps.total == 1 and not h.connector.gaps.open, what="resubscribe")
        await h.sim.pump(50)
        await h.settle()
        (gap,) = [g for g in await h.gaps() if g.kind == "error"]
        assert gap.channel == "trade" and str(code) in gap.cause and gap.end_ns is not None
        trades = [capnp_decode("trade", m.data) for m in await h.messages("t.kalshi.trade.>")]
        assert isinstance(trades[-1], Trade) and trades[-1].sid != trades[0].sid  # new subscription delivers
        assert h.connector.status().counters[f"errors.exchange_error_{code}"] == 1


@pytest.mark.parametrize(("code", "abrupt"), [(1000, False), (1001, False), (1011, False), (1006, True)])
async def test_dropped_connection_is_an_outage_and_resubscribed(code: int, abrupt: bool) -> None:
    async with running(markets=2) as h:
        await h.live()
        await h.sim.pump(100)
        await h.settle()
        await h.sim.drop_connections(code, "going away", abrupt=abrupt)
        await until(lambda: h.connector.connections[0].reconnects == 1, what="reconnect")
        await h.live()
        await h.sim.pump(100)
        await h.settle()
        gaps = [g for g in await h.gaps() if g.kind == "outage"]
        assert sorted(g.channel for g in gaps) == ["market_lifecycle_v2", "orderbook_delta", "ticker", "trade"]
        for gap in gaps:
            assert gap.end_ns is not None and gap.end_ns >= gap.start_ns
            assert (f"code {code}" in gap.cause) if not abrupt else ("connection lost" in gap.cause)
        assert next(g for g in gaps if g.channel == "orderbook_delta").markets == h.sim.trading_tickers()[:2]
        raw = await h.messages("t.kalshi.raw.>")
        assert [m.data for m in raw] == h.sent_frames()
        assert len({m.headers["conn"] for m in raw}) == 2
        books = [m for m in await h.messages("t.kalshi.orderbook.>")]
        assert len(books) > 0 and h.connector.status().restarts == 1


async def test_stalled_connection_is_detected_as_stale_and_replaced() -> None:
    async with running(markets=1) as h:
        await h.live()
        await h.sim.pump(20)
        await h.settle()
        h.sim.stall(True)
        await until(lambda: h.connector.gaps.is_open(("outage", 0)), what="staleness")
        h.sim.stall(False)
        await until(lambda: h.connector.connections[0].live.is_set() and not h.connector.gaps.open, what="recovery")
        (gap, *_) = [g for g in await h.gaps() if g.kind == "outage"]
        assert gap.cause.startswith("stale: no frame or ping") and gap.end_ns is not None
        await h.sim.pump(20)
        await h.settle()


async def test_bad_frames_go_to_the_dead_letter_subject_and_capture_goes_on() -> None:
    async with running(markets=2) as h:
        await h.live()
        h.sim.send_malformed()
        h.sim.send_unknown_type()
        h.sim.malformed_numbers(2)
        h.sim.extra_fields(True)
        await h.sim.pump(300)
        await h.settle()
        dlq = await h.messages("t.dlq.connector")
        kinds = sorted(m.headers["error_type"] for m in dlq)
        assert kinds == ["bad_value", "bad_value", "parse", "unknown_type"]
        raw_by_data = {m.data for m in await h.messages("t.kalshi.raw.>")}
        assert all(m.data in raw_by_data for m in dlq)
        assert all(m.headers["error"] and m.headers["conn"] for m in dlq)
        counters = h.connector.status().counters
        assert counters["errors.bad_value"] == 2 and counters["errors.parse"] == 1
        assert counters["errors.unknown_type"] == 1 and counters["dead_letters"] == 4
        trades = await h.messages("t.kalshi.trade.>")
        assert trades and all(parse_record_subject(m.subject)[3] in h.sim.trading_tickers() for m in trades)
        assert not h.connector.gaps.open and h.connector.connections[0].reconnects == 0


async def test_refused_resnapshot_falls_back_to_the_rest_book() -> None:
    async with running(markets=2) as h:
        await h.live()
        await h.sim.pump(100)
        await h.settle()
        h.sim.refuse_snapshots(1)
        h.sim.skip_seq("orderbook_delta", 1)
        await h.sim.pump(200)
        await h.settle()
        await until(lambda: h.connector.rest_books.published == 2, what="two books read from REST")
        books = [capnp_decode("orderbook", m.data) for m in await h.messages("t.kalshi.orderbook.>")]
        from_rest = [b for b in books if isinstance(b, OrderbookSnapshot) and b.sid == 0]
        assert sorted(b.ticker for b in from_rest) == sorted(h.sim.trading_tickers()[:2])
        for book in from_rest:
            yes, no = h.sim.book(book.ticker)
            assert (dict(book.yes), dict(book.no)) == (yes, no)  # the exchange's book when REST answered
        session = h.connector.connections[0].session
        assert session is not None and session.resync == {}  # the deltas that follow count again
