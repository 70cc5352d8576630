"""The archive side of a backfill: de-duplication against what a day holds, files before checkpoints."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from ssmd.archive import layout
from ssmd.archive.columns import ColumnBuffer
from ssmd.archive.datasets import Candle, Settlement
from ssmd.archive.parquet import encode_parquet
from ssmd.backfill import checkpoint as ck
from ssmd.backfill.store import Dedup, Writer, read_keys
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.records import Trade
from tests.archiver.helpers import DAY, MS, T0, make_env

A, B = "KXA-26JUL19-T1.5", "KXB"


def _trade(ticker: str, n: int, source: str = "ws") -> Trade:
    return Trade(ts=T0 + n * MS, received_at=T0 + n * MS, ticker=ticker, trade_id=f"{ticker}-{n}", price=9990,
                 size=11, side="yes", sid=1, seq=n, source=source)  # type: ignore[arg-type]


def _candle(end_s: int, close: int | None = 4100) -> Candle:
    return Candle(ticker=A, period="1m", end_period_ts=end_s * 1_000_000_000, open=close, high=close, low=close,
                  close=close, yes_bid_open=4000, yes_bid_high=4000, yes_bid_low=4000, yes_bid_close=4000,
                  yes_ask_open=4200, yes_ask_high=4200, yes_ask_low=4200, yes_ask_close=4200, volume=1100,
                  open_interest=5000, received_at=T0)


def _settlement(ticker: str, value: int | None = 10000) -> Settlement:
    return Settlement(ticker=ticker, event_ticker="KXA-26JUL19", series_ticker="KXA", market_type="binary",
                      title="t", status="finalized", result="yes", settlement_value=value,
                      determination_ts=T0, settled_ts=T0 + 60_000 * MS + 123, open_ts=None, close_ts=T0,
                      expiration_value=None, volume=None, open_interest=None, received_at=T0)


def test_read_keys_of_each_dataset() -> None:
    buf = ColumnBuffer("trade")
    buf.extend([_trade(A, 1), _trade(B, 2)])
    assert read_keys(encode_parquet(buf.to_table()), "trade", {A}) == {(A, f"{A}-1")}
    from ssmd.archive.datasets import to_table

    data = encode_parquet(to_table("candles", [_candle(1_784_475_960), _candle(1_784_476_020, None)]))
    assert read_keys(data, "candles", {A}) == {(A, "1m", 1_784_475_960 * 10**9), (A, "1m", 1_784_476_020 * 10**9)}
    data = encode_parquet(to_table("settlements", [_settlement(A), _settlement(B, None)]))
    # times as the archive keeps them (µs), decimals back to scaled integers
    assert read_keys(data, "settlements", {A, B}) == {(A, "yes", 10000, T0 + 60_000 * MS),
                                                      (B, "yes", None, T0 + 60_000 * MS)}


async def test_dedup_skips_what_the_live_feed_archived(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = FsspecStorage.local(tmp_path, attempts=1)
    buf = ColumnBuffer("trade")
    buf.extend([_trade(A, 1), _trade(A, 2), _trade(B, 3)])
    await storage.put(layout.part_path(layout.Layout.of(env), "trade", DAY, 1, 0), encode_parquet(buf.to_table()))
    dedup = Dedup(env, storage, {A})
    fresh, dups = await dedup.fresh("trade", DAY, [_trade(A, 1, "rest"), _trade(A, 4, "rest"), _trade(A, 4, "rest")])
    assert [t.trade_id for t in fresh] == [f"{A}-4"] and dups == 2
    fresh, dups = await dedup.fresh("trade", DAY, [_trade(A, 4, "rest")])  # accepted earlier in this run
    assert fresh == [] and dups == 1


async def test_writer_writes_files_then_checkpoints(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = FsspecStorage.local(tmp_path, attempts=1)
    cps = ck.Checkpoints(env, storage)
    writer = Writer(env, storage, cps, now_ns=lambda: T0)
    cp = cps.get("trades", "live", A)
    writer.add("trade", DAY, [_trade(A, 1, "rest"), _trade(A, 2, "rest")])
    writer.mark(cp, (T0, T0 + 10 * MS))
    assert not await storage.list(ck.root(env) + "/")  # nothing claimed before the flush
    await writer.flush()
    files = await storage.list(layout.partition_prefix(layout.Layout.of(env), "trade", DAY) + "/")
    assert len(files) == 1 and files[0].path.rsplit("/", 1)[-1].startswith("rest-")
    table = pq.read_table(storage.url(files[0].path))
    assert table.column("source").to_pylist() == ["rest", "rest"]
    assert [str(p) for p in table.column("price").to_pylist()] == ["0.9990", "0.9990"]
    again = ck.Checkpoints(env, storage)
    await again.load([A])
    assert again.done("trades", A) == [(T0, T0 + 10 * MS)]
    assert again.get("trades", "live", A).done == [(T0, T0 + 10 * MS)]
    assert writer.rows == {"trade": 2}


def test_checkpoint_paths_round_trip(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    path = ck.path(env, "candles-1m", "historical", "KXBTCD-26JUL2317-T118999.99")
    assert path.startswith(ck.root(env) + "/candles-1m/historical/")
    assert ck.parse_path(env, path) == ("candles-1m", "historical", "KXBTCD-26JUL2317-T118999.99")
    assert not path.startswith(layout.normalized_root(layout.Layout.of(env)))  # never indexed as archive data
    cp = ck.Checkpoint(what="trades", ticker=A, tier="live")
    cp.add((10, 20), 1)
    cp.add((0, 10), 2)
    assert ck.decode(ck.encode(cp), "x").done == [(0, 20)]
