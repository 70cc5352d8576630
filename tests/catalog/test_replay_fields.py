"""What the exchange sent survives the archive: replayed records equal the recorded ones."""

from __future__ import annotations

from pathlib import Path

from ssmd.catalog import open_catalog_async
from ssmd.catalog.replay import ReplayQuery, replay_records
from ssmd.records import OrderbookDelta, OrderbookSnapshot, Ticker, Trade
from tests.archiver.helpers import DAY, MS, T0, archive, make_backends, make_env

A = "KXBTCD-26JUL2317-T118999.99"
UUID = "9a5e5f43-7d1c-4e44-8f0e-3a6c2b8f9d10"


async def test_replay_gives_back_source_market_id_clock_and_nanoseconds(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    records = [
        OrderbookSnapshot(ts=T0 + 1, received_at=T0 + 2 * MS, ticker=A, yes=((4000, 100),), no=((5000, 300),), sid=3,
                          seq=1, market_id=UUID),
        OrderbookDelta(ts=T0 + 539_836_022, received_at=T0 + 600 * MS, ticker=A, side="no", price=5000, delta=-50,
                       sid=3, seq=2, market_id=UUID),
        Ticker(ts=T0 + 700 * MS, received_at=T0 + 701 * MS, ticker=A, price=4100, yes_bid=4000, yes_ask=5000,
               yes_bid_size=100, yes_ask_size=250, last_trade_size=None, volume=1000, open_interest=500,
               dollar_volume=10, dollar_open_interest=5, sid=1, market_id=UUID, clock=8_812_345),
        Trade(ts=T0 + 800 * MS + 123_456, received_at=T0 + 900 * MS, ticker=A, trade_id="rest-1", price=9990,
              size=11, side="yes", sid=0, seq=0, source="rest"),
        Trade(ts=T0 + 950 * MS, received_at=T0 + 951 * MS, ticker=A, trade_id="derived-00ff", price=1, size=100,
              side="no", sid=2, seq=7, trade_id_derived=True),
    ]
    await archive(env, backends, records)
    catalog = await open_catalog_async(env, backends=backends)
    try:
        replayed = list(replay_records(catalog, ReplayQuery(date=DAY, symbols=[A])))
    finally:
        catalog.close()
    assert replayed == records
