"""Pure parts of the archiver: column contract, naming, raw format, manifest, policies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ssmd.archive import layout
from ssmd.archive import manifest as mf
from ssmd.archive.columns import ColumnBuffer
from ssmd.archive.parquet import encode_parquet
from ssmd.archive.raw import RawFile, RawLine, complete_length, compress, encode_lines, read_raw, torn_tail
from ssmd.archiver.policy import Deduper, FlushPolicy, RetryGate
from ssmd.config.model import ArchiverConfig, Environment
from ssmd.errors import DataError
from ssmd.records import Lifecycle, OrderbookDelta, OrderbookSnapshot, Ticker, Trade
from ssmd.status import GapInfo

T0 = 1_784_475_900_123_456_789


def _env() -> Environment:
    return Environment(name="e1", feed="kalshi", schema="trade:v1")


def test_trade_columns_keep_exact_decimals_through_parquet() -> None:
    buf = ColumnBuffer("trade")
    buf.append(Trade(ts=T0, received_at=T0 + 5_000, ticker="KX.A", trade_id="t1", price=9990, size=11, side="yes",
                     sid=1, seq=7))
    buf.append(Trade(ts=T0 + 1, received_at=T0 + 6_000, ticker="KX.A", trade_id="t2", price=1, size=100_000,
                     side="no", sid=1, seq=8, is_block_trade=True))
    table = pq.read_table(pa.BufferReader(encode_parquet(buf.to_table())))
    assert [str(v) for v in table.column("price").to_pylist()] == ["0.9990", "0.0001"]
    assert [str(v) for v in table.column("size").to_pylist()] == ["0.11", "1000.00"]
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.column("ts").cast(pa.int64()).to_pylist() == [T0 // 1000, (T0 + 1) // 1000]
    assert table.column("is_block_trade").to_pylist() == [False, True]


def _trades(n: int) -> list[Trade]:
    """A burst of trades as the feed sends them: rising times and seqs, unique ids, 50 markets."""
    return [Trade(ts=T0 + i * 7_919_000, received_at=T0 + i * 7_919_000 + 3_000_000 + i % 7 * 1000,
                  ticker=f"KXBTCD-26JUL2317-T{118_000 + i * 37 % 50}.99",
                  trade_id=f"{i * 2_654_435_761 % 2**32:08x}-{i}", price=1 + i * 7_001 % 9_999,
                  size=100 + i * 13 % 5_000, side="yes" if i % 3 else "no", sid=1, seq=i + 1)
            for i in range(n)]


def test_part_files_delta_encode_times_and_seqs_and_keep_every_value(tmp_path: Path) -> None:
    buf = ColumnBuffer("trade")
    buf.extend(_trades(20_000))
    table = buf.to_table()
    data = encode_parquet(table)
    back = pq.read_table(pa.BufferReader(data))
    assert back.equals(table)
    path = tmp_path / "part.parquet"
    path.write_bytes(data)
    assert duckdb.sql(f"select count(*), count(distinct trade_id), max(seq), sum(price) from '{path}'").fetchall() == [(
        20_000, 20_000, 20_000, sum(Decimal(t.price) / 10_000 for t in _trades(20_000)))]
    columns = {c.path_in_schema: c for c in (pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0).column(i)
                                             for i in range(table.num_columns))}
    for name in ("ts", "received_at", "ts_ns", "seq"):
        assert "DELTA_BINARY_PACKED" in columns[name].encodings, name
    assert "RLE_DICTIONARY" in columns["ticker"].encodings
    assert "RLE_DICTIONARY" not in columns["trade_id"].encodings
    defaults = pa.BufferOutputStream()
    pq.write_table(table, defaults, compression="zstd")
    assert len(data) < 0.8 * defaults.getvalue().size  # pyarrow's defaults: a dictionary for every column


def test_nullable_times_of_lifecycle_events_round_trip() -> None:
    buf = ColumnBuffer("lifecycle")
    buf.append(Lifecycle(ts=T0, received_at=T0, ticker="A", kind="market_lifecycle_v2", event_type="created", sid=1,
                         seq=1, open_ts=T0 - 10**9, close_ts=None))
    buf.append(Lifecycle(ts=T0 + 5, received_at=T0 + 9, ticker="A", kind="market_lifecycle_v2", event_type="settled",
                         sid=1, seq=2, settled_ts=T0 + 4, result="yes", settlement_value=10_000))
    table = buf.to_table()
    assert pq.read_table(pa.BufferReader(encode_parquet(table))).equals(table)


def test_ticker_columns_keep_nulls() -> None:
    buf = ColumnBuffer("ticker")
    buf.append(Ticker(ts=T0, received_at=T0, ticker="A", price=None, yes_bid=4000, yes_ask=None, yes_bid_size=11,
                      yes_ask_size=None, last_trade_size=None, volume=None, open_interest=None, dollar_volume=3,
                      dollar_open_interest=None, sid=2))
    row = buf.to_table().to_pylist()[0]
    assert row["price"] is None and str(row["yes_bid"]) == "0.4000" and str(row["yes_bid_size"]) == "0.11"
    assert row["dollar_volume"] == 3 and row["yes_ask"] is None


def test_orderbook_rows_one_per_level_and_per_delta() -> None:
    buf = ColumnBuffer("orderbook")
    buf.append(OrderbookSnapshot(ts=T0, received_at=T0, ticker="A", yes=((4000, 100), (4100, 5)), no=((5000, 7),),
                                 sid=3, seq=1))
    buf.append(OrderbookDelta(ts=T0 + 1, received_at=T0 + 1, ticker="A", side="no", price=5000, delta=-7, sid=3,
                              seq=2))
    buf.append(OrderbookSnapshot(ts=T0 + 2, received_at=T0 + 2, ticker="B", yes=(), no=(), sid=4, seq=1))
    rows = buf.to_table().to_pylist()
    assert [(r["kind"], r["side"], r["level"]) for r in rows] == [
        ("snapshot", "yes", 0), ("snapshot", "yes", 1), ("snapshot", "no", 0), ("delta", "no", None),
        ("snapshot", None, None)]
    assert str(rows[3]["size"]) == "-0.07"


def test_new_columns_source_derived_id_market_id_clock_and_ts_ns() -> None:
    uuid = "0f6f2c1e-52a4-4e55-9d1b-2c7b0e0a3f11"
    trades = ColumnBuffer("trade")
    trades.append(Trade(ts=T0, received_at=T0, ticker="A", trade_id="t1", price=1, size=1, side="yes", sid=1, seq=1))
    trades.append(Trade(ts=T0 + 1, received_at=T0, ticker="A", trade_id="derived-00", price=1, size=1, side="no",
                        sid=0, seq=0, source="rest", trade_id_derived=True))
    table = pq.read_table(pa.BufferReader(encode_parquet(trades.to_table())))
    assert table.schema.field("source").type == pa.string() and table.schema.field("ts_ns").type == pa.int64()
    assert table.column("source").to_pylist() == ["ws", "rest"]
    assert table.column("trade_id_derived").to_pylist() == [False, True]
    assert table.column("ts_ns").to_pylist() == [T0, T0 + 1]  # ns kept where ts keeps the microsecond
    assert table.column("ts").cast(pa.int64()).to_pylist() == [T0 // 1000, (T0 + 1) // 1000]
    tickers = ColumnBuffer("ticker")
    for market_id, clock in ((uuid, 6598272994), (None, None)):
        tickers.append(Ticker(ts=T0, received_at=T0, ticker="A", price=None, yes_bid=None, yes_ask=None,
                              yes_bid_size=None, yes_ask_size=None, last_trade_size=None, volume=None,
                              open_interest=None, dollar_volume=None, dollar_open_interest=None, sid=1,
                              market_id=market_id, clock=clock))
    rows = tickers.to_table().to_pylist()
    assert [(r["market_id"], r["clock"]) for r in rows] == [(uuid, 6598272994), (None, None)]
    book = ColumnBuffer("orderbook")
    book.append(OrderbookSnapshot(ts=T0, received_at=T0, ticker="A", yes=((4000, 1), (4100, 2)), no=(), sid=3,
                                  seq=1, market_id=uuid))
    book.append(OrderbookSnapshot(ts=T0 + 1, received_at=T0, ticker="A", yes=(), no=(), sid=3, seq=2))
    book.append(OrderbookDelta(ts=T0 + 2, received_at=T0, ticker="A", side="no", price=5000, delta=-7, sid=3, seq=3,
                               market_id=uuid))
    rows = book.to_table().to_pylist()
    assert [(r["market_id"], r["ts_ns"]) for r in rows] == [(uuid, T0), (uuid, T0), (None, T0 + 1), (uuid, T0 + 2)]


def test_layout_paths() -> None:
    env = _env()
    where = layout.Layout.of(env)
    assert where == layout.Layout("ssmd-raw", "ssmd-normalized", "e1", "kalshi")
    assert layout.raw_file_path(where, "2026-07-19", "trade", 3) == "ssmd-raw/e1/kalshi/2026/07/19/trade-3.jsonl.zst"
    assert layout.manifest_path(where, "2026-07-19") == "ssmd-raw/e1/kalshi/2026/07/19/manifest.json"
    part = layout.part_path(where, "trade", "2026-07-19", 12, 1)
    assert part == "ssmd-normalized/e1/kalshi/v1/trade/date=2026-07-19/part-0000000000000000012-0001.parquet"
    assert layout.date_of(part) == "2026-07-19" and layout.type_of(where, part) == "trade"
    assert layout.parse_raw_name("x/orderbook_delta-12.jsonl.zst") == ("orderbook_delta", 12)
    assert layout.parse_raw_name("x/manifest.json") is None


def _line(i: int, frame: str = '{"type":"trade"}') -> RawLine:
    return RawLine(T0 + i, "c1", "trade", "trade", 1, i, frame)


def test_raw_file_grows_by_whole_zstd_frames_and_reads_back_byte_exact() -> None:
    raw = RawFile("trade-1.jsonl.zst", "trade", 0.0)
    frames = ['{"type":"trade","msg":{"yes_price_dollars":"0.9990"}}', '{"a": 1,  "b":"é"}']
    raw.add(_line(1, frames[0]))
    first = raw.next_content()
    raw.commit()
    raw.add(_line(2, frames[1]))
    second = raw.next_content()
    raw.commit()
    assert second.startswith(first)
    lines = read_raw(second, "trade-1.jsonl.zst")
    assert [ln.frame for ln in lines] == frames
    assert raw.stats.records == 2 and raw.stats.seq_ranges == {"1": [1, 2, 2]}
    assert raw.stats.counts == {"trade": 2} and raw.stats.bytes == len(second)


def test_complete_length_finds_the_end_of_the_last_whole_frame() -> None:
    frames = [compress(encode_lines([_line(i, "x" * (i * 9000))])) for i in range(1, 5)]
    frames.append(compress(b"z" * 300_000))  # highly compressible: RLE blocks
    data = b"".join(frames)
    ends = [sum(len(f) for f in frames[:i]) for i in range(len(frames) + 1)]
    assert complete_length(data) == len(data)
    for cut in sorted({*range(0, len(data), 97), *(e - 1 for e in ends[1:]), *(e + 3 for e in ends[:-1])}):
        assert complete_length(data[:cut]) == max(e for e in ends if e <= cut), cut
    assert complete_length(b"not zstd at all") == 0
    assert complete_length(data + b"garbage") == len(data)


def test_only_a_torn_last_frame_is_cut_never_a_damaged_file() -> None:
    first, second = compress(b"x" * 1000), compress(b"y" * 5000)
    assert torn_tail(first + second) is None  # whole
    assert torn_tail(first + second[:5]) == len(first)  # the last append cut short
    assert torn_tail(first + second[:2]) == len(first)  # even inside the magic number
    assert torn_tail(second[:7]) == 0  # the first append of the file cut short
    assert torn_tail(b"not zstd at all") is None  # damaged: kept for verify to name
    assert torn_tail(first + b"junk") is None


def test_an_appended_raw_file_keeps_no_frames_in_memory() -> None:
    raw = RawFile("trade-1.jsonl.zst", "trade", 0.0, keep_frames=False)
    written = b""
    for i in (1, 2, 3):
        raw.add(_line(i))
        assert raw.committed_bytes == len(written)  # where the append goes
        written += raw.pending_frame()
        raw.commit()
    assert raw.frames == [] and raw.stats.bytes == len(written) and raw.stats.records == 3
    assert [ln.seq for ln in read_raw(written, "trade-1.jsonl.zst")] == [1, 2, 3]


def test_truncated_or_corrupt_raw_file_names_the_file() -> None:
    data = compress(b'{"received_at":1,"conn":"c","channel":"t","type":"t","sid":null,"seq":null,"frame":"x"}\n')
    with pytest.raises(DataError, match=r"day/trade-1\.jsonl\.zst: truncated"):
        read_raw(data[:-4], "day/trade-1.jsonl.zst")
    with pytest.raises(DataError, match=r"day/trade-2\.jsonl\.zst: corrupt"):
        read_raw(b"not zstd at all", "day/trade-2.jsonl.zst")
    with pytest.raises(DataError, match=r"f\.jsonl: line 1"):
        read_raw(b'{"received_at": "x"}\n', "f.jsonl")


def test_manifest_totals_and_quality_score() -> None:
    m = mf.new_manifest("kalshi", "2026-07-19", T0)
    raw = RawFile("trade-1.jsonl.zst", "trade", 0.0)
    for i in (1, 2, 4, 5):  # seq 3 missing
        raw.add(_line(i))
    raw.next_content()
    raw.commit()
    mf.put_file(m, raw.stats)
    assert m.record_count == 4 and m.counts == {"trade": 4} and m.seq_ranges == {"1": [1, 5, 4]}
    assert mf.missing_seqs(m.seq_ranges) == 1
    day = 86_400 * 10**9
    assert mf.quality_score(m, 0, day, day) == 0.8
    gap = GapInfo(kind="outage", channel="trade", start_ns=0, end_ns=day // 2)
    assert mf.add_gap(m, gap) and not mf.add_gap(m, gap)
    assert mf.quality_score(m, 0, day, day) == 0.4
    assert mf.decode(mf.encode(m)) == m


def test_flush_policy_and_rotation() -> None:
    p = FlushPolicy(ArchiverConfig(flush_interval_seconds=2.0, flush_rows=3, raw_rotate_seconds=60,
                                   raw_rotate_bytes=100))
    assert not p.due(0, None, 10.0)
    assert not p.due(1, 9.0, 10.0)
    assert p.due(1, 8.0, 10.0)
    assert p.due(3, 10.0, 10.0)
    assert p.next_due(8.5) == 10.5
    assert p.rotate(100, 0.0, 1.0) and p.rotate(1, 0.0, 60.0) and not p.rotate(99, 0.0, 59.0)


def test_raw_lines_are_appended_on_their_own_shorter_timer_only_where_storage_appends() -> None:
    config = ArchiverConfig(flush_interval_seconds=2.0, raw_flush_interval_seconds=0.25)
    local, s3 = FlushPolicy(config, appends=True), FlushPolicy(config, appends=False)
    assert local.due(1, 9.7, 10.0, raw=True) and not local.due(1, 9.7, 10.0)
    assert local.next_due(8.0, raw=True) == 8.25 and local.next_due(8.0) == 10.0
    assert not s3.due(1, 9.7, 10.0, raw=True) and s3.next_due(8.0, raw=True) == 10.0  # each flush rewrites the file


def test_retry_gate_backs_off_then_resets() -> None:
    gate = RetryGate(initial=1.0, maximum=4.0)
    delay = gate.failed(10.0, "disk full")
    assert gate.failing and not gate.ready(10.0) and gate.ready(10.0 + delay)
    assert gate.last_error == "disk full"
    gate.succeeded()
    assert not gate.failing and gate.ready(0.0)


def test_deduper_recognises_redeliveries() -> None:
    d = Deduper(watermark=10, known={("c1", 5)})
    assert not d.is_duplicate(11, False)
    assert d.is_duplicate(11, True)  # seen in this run
    assert d.is_duplicate(9, True)  # written by an earlier run (<= watermark)
    assert not d.is_duplicate(12, False)
    assert d.is_duplicate(20, True, ("c1", 5))  # content read back from the newest file
    assert not d.is_duplicate(21, True, ("c1", 6))
    assert d.duplicates == 3


def test_deduper_keeps_a_run_of_redeliveries_that_earlier_runs_never_wrote() -> None:
    d = Deduper(watermark=40)
    assert not d.is_duplicate(50, True) and not d.is_duplicate(1000, False)  # a redelivery, then new messages
    assert not d.is_duplicate(60, True)  # between the two, yet never seen: still new
    assert d.is_duplicate(60, True) and d.is_duplicate(50, True) and d.is_duplicate(999, True) is False
    assert d.is_duplicate(1000, True) and d.is_duplicate(30, True)  # seen in this run / written before
