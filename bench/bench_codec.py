"""Cap'n Proto encode/decode rates per record type: ``ssmd.codec`` (layout-generated) next to
pycapnp setting and reading attributes one by one (``ssmd.codec.reference``), same run."""

from __future__ import annotations

from collections.abc import Callable

from common import Result, best_rate

from ssmd.codec import decode, encode
from ssmd.codec.reference import reference_decode, reference_encode
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Record, Ticker, Trade


def _samples(kind: str, count: int) -> list[Record]:
    out: list[Record] = []
    for i in range(count):
        ticker = f"KXBTCD-26JUL2317-T{118000 + i % 97}.99"
        ts, received = 1784475900544000000 + i, 1784475900545123456 + i
        if kind == "trade":
            out.append(Trade(ts=ts, received_at=received, ticker=ticker, trade_id=f"9c1f0a52-{i:08x}",
                             price=9990 - i % 50, size=11 + i, side="no" if i % 2 else "yes", sid=2, seq=i))
        elif kind == "ticker":
            out.append(Ticker(ts=ts, received_at=received, ticker=ticker, price=5000 + i % 7, yes_bid=4900,
                              yes_ask=5100, yes_bid_size=1200, yes_ask_size=None if i % 3 else 800,
                              last_trade_size=11, volume=223348748 + i, open_interest=309350,
                              dollar_volume=None, dollar_open_interest=1546750000, sid=1))
        elif kind == "delta":
            out.append(OrderbookDelta(ts=ts, received_at=received, ticker=ticker, side="yes", price=6300 + i % 40,
                                      delta=-1550 + i, sid=5, seq=i))
        elif kind == "snapshot":
            levels = tuple((100 * j, 1000 + j + i) for j in range(1, 11))
            out.append(OrderbookSnapshot(ts=ts, received_at=received, ticker=ticker, yes=levels, no=levels[:6],
                                         sid=5, seq=i))
        else:
            out.append(Lifecycle(ts=ts, received_at=received, ticker=ticker, kind="market_lifecycle_v2",
                                 event_type="determined", sid=1, seq=i, determination_ts=1784501722,
                                 result="no", settlement_value=0))
    return out


def _rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    def timed() -> int:
        fn()
        return n

    return best_rate(timed, repeat)


def run(quick: bool = False) -> list[Result]:
    n, repeat = (2_000, 3) if quick else (20_000, 5)
    results: list[Result] = []
    for kind in ("trade", "ticker", "delta", "snapshot", "lifecycle"):
        records = _samples(kind, n)
        record_type = records[0].TYPE
        blobs = [reference_encode(r) for r in records]
        assert [encode(r) for r in records] == blobs  # same bytes as the reference
        enc = _rate(lambda records=records: [encode(r) for r in records], n, repeat)
        enc_ref = _rate(lambda records=records: [reference_encode(r) for r in records], n, repeat)
        dec = _rate(lambda blobs=blobs, t=record_type: [decode(t, b) for b in blobs], n, repeat)
        dec_ref = _rate(lambda blobs=blobs, t=record_type: [reference_decode(t, b) for b in blobs], n, repeat)
        label = f"{kind} (10+6 levels)" if kind == "snapshot" else kind
        results.append(Result(f"capnp encode {label}", enc, "msg/s", enc_ref, "pycapnp set attributes",
                              goal="info"))
        results.append(Result(f"capnp decode {label}", dec, "msg/s", dec_ref, "pycapnp read attributes",
                              goal="info"))
    return results
