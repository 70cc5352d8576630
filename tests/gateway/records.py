"""Records for gateway tests (prices 1e-4 $, sizes 1e-2 contracts)."""

from __future__ import annotations

from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Ticker, Trade

T0 = 1_784_475_900_000_000_000
A = "KXBTCD-26JUL2317-T118999.99"
B = "KXETH-26JUL23-B3500"


def trade(ticker: str = A, price: int = 3000, size: int = 1100, n: int = 1, side: str = "yes") -> Trade:
    return Trade(ts=T0 + n * 1_000_000, received_at=T0 + n * 1_000_000 + 500, ticker=ticker, trade_id=f"t{n}",
                 price=price, size=size, side=side, sid=1, seq=n)  # type: ignore[arg-type]


def ticker(ticker: str = A, price: int | None = 3000, n: int = 1) -> Ticker:
    return Ticker(ts=T0 + n * 1_000_000, received_at=T0 + n * 1_000_000, ticker=ticker, price=price,
                  yes_bid=2900, yes_ask=3100, yes_bid_size=1000, yes_ask_size=500, last_trade_size=100,
                  volume=12345, open_interest=999, dollar_volume=10, dollar_open_interest=20, sid=2)


def book(ticker: str = A, n: int = 1) -> OrderbookSnapshot:
    return OrderbookSnapshot(ts=T0 + n * 1_000_000, received_at=T0 + n * 1_000_000, ticker=ticker,
                             yes=((2800, 500), (2900, 1000)), no=((6900, 500), (7000, 300)), sid=3, seq=n)


def delta(ticker: str = A, side: str = "yes", price: int = 2900, change: int = -400, n: int = 2) -> OrderbookDelta:
    return OrderbookDelta(ts=T0 + n * 1_000_000, received_at=T0 + n * 1_000_000, ticker=ticker,
                          side=side, price=price, delta=change, sid=3, seq=n)  # type: ignore[arg-type]


def lifecycle(ticker: str = A, n: int = 1) -> Lifecycle:
    return Lifecycle(ts=T0 + n * 1_000_000, received_at=T0 + n * 1_000_000, ticker=ticker,
                     kind="market_lifecycle_v2", event_type="determined", sid=4, seq=n, result="yes",
                     settlement_value=10000)
