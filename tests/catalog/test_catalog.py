"""The DuckDB catalog over an archive written by the real archiver."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest

from ssmd.book import OrderBook
from ssmd.catalog import Catalog, open_catalog_async
from ssmd.catalog.replay import (
    ReplayQuery,
    message,
    paced,
    parse_speed,
    replay_chunks,
    replay_lines,
    replay_records,
)
from ssmd.errors import DataError, SsmdError
from ssmd.fixed import format_count, format_price
from ssmd.records import OrderbookDelta, OrderbookSnapshot, Trade
from tests.archiver.helpers import DAY, MS, T0, archive, make_backends, make_env, sample_records

A, B = "KXBTCD-26JUL2317-T118999.99", "KXOTHER"


@pytest.fixture
async def archived(tmp_path: Path) -> tuple[Path, list]:
    env = make_env(tmp_path)
    backends = make_backends(env)
    records = sample_records(A, n=4) + sample_records(B, base=T0 + 500 * MS, n=2)
    await archive(env, backends, records)
    return tmp_path, records


async def _open(root: Path) -> Catalog:
    env = make_env(root)
    return await open_catalog_async(env, backends=make_backends(env))


async def test_views_keep_exact_decimals_and_time_zone(archived: tuple[Path, list]) -> None:
    root, records = archived
    with await _open(root) as cat:
        assert (root / "catalog.duckdb").exists()
        rows = cat.query("SELECT CAST(price AS VARCHAR) AS p, CAST(size AS VARCHAR) AS s, typeof(ts) AS t "
                         "FROM trades WHERE ticker = ? ORDER BY ts", [A]).to_pylist()
        assert [(r["p"], r["s"]) for r in rows] == [("0.9990", "0.11"), ("0.4101", "0.12"), ("0.4102", "0.13"),
                                                    ("0.4103", "0.14")]
        assert rows[0]["t"] == "TIMESTAMP WITH TIME ZONE"
        table = cat.trades(DAY, B)
        assert table.num_rows == 2 and set(table.column("ticker").to_pylist()) == {B}
        counts = dict(cat.con.execute("SELECT type, sum(rows) FROM files GROUP BY type").fetchall())
        assert counts == {"trade": 6, "ticker": 2, "orderbook": 8, "lifecycle": 2}
        assert cat.query("SELECT count(*) AS n FROM lifecycle").to_pylist() == [{"n": 2}]
        day = cat.query("SELECT status, raw_records FROM days").to_pylist()
        assert day == [{"status": "open", "raw_records": len(records)}]


async def test_macros_ohlcv_vwap_spread_book(archived: tuple[Path, list]) -> None:
    root, records = archived
    with await _open(root) as cat:
        bars = cat.ohlcv(A, "2 seconds").to_pylist()
        prices = [r.price for r in records if isinstance(r, Trade) and r.ticker == A]
        assert sum(b["trades"] for b in bars) == len(prices)
        assert str(bars[0]["open"]) == format_price(prices[0]) and str(bars[-1]["close"]) == format_price(prices[-1])
        assert max(b["high"] for b in bars) == max(b["high"] for b in bars)
        assert str(bars[0]["high"]) == "0.9990"
        vwap = cat.query("SELECT CAST(vwap AS VARCHAR) AS v, CAST(volume AS VARCHAR) AS q FROM vwap(?)", [B])
        trades_b = [r for r in records if isinstance(r, Trade) and r.ticker == B]
        total = sum(t.size for t in trades_b)
        expected = sum(t.price * t.size for t in trades_b) // total
        assert vwap.to_pylist() == [{"v": format_price(expected), "q": format_count(total)}]
        spread = cat.query("SELECT CAST(spread AS VARCHAR) AS s, CAST(mid AS VARCHAR) AS m FROM spread(?)", [A])
        assert spread.to_pylist() == [{"s": "0.0200", "m": "0.41000"}]

        book = OrderBook(A)
        for r in records:
            if isinstance(r, OrderbookSnapshot | OrderbookDelta) and r.ticker == A:
                book.apply(r)
        got = cat.book_at(A, "2026-07-19 15:46:00+00").to_pylist()
        bids = [(str(r["yes_price"]), str(r["size"])) for r in got if r["book_side"] == "bid"]
        asks = [(str(r["yes_price"]), str(r["size"])) for r in got if r["book_side"] == "ask"]
        assert bids == [(format_price(p), format_count(s)) for p, s in book.bids()]
        assert asks == [(format_price(p), format_count(s)) for p, s in book.asks()]
        before_delta = cat.book_at(A, "2026-07-19 15:45:01+00").to_pylist()
        assert {str(r["size"]) for r in before_delta if r["book_side"] == "bid"} == {"1.00", "2.50"}


async def test_corrupt_file_is_named_and_the_rest_stays_readable(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    await archive(env, backends, sample_records(A, n=2))
    await archive(env, backends, sample_records(A, base=T0 + 86_400_000 * MS, n=3), start=100)
    folder = tmp_path / "ssmd-normalized/t1/kalshi/v1/trade" / f"date={DAY}"
    good = next(folder.glob("part-*.parquet"))
    truncated = folder / "part-0000000000000000002-0009.parquet"
    truncated.write_bytes(good.read_bytes()[:-30])
    with await _open(tmp_path) as cat:
        bad = cat.bad_files()
        assert len(bad) == 1 and bad[0][0].endswith(truncated.name)
        assert truncated.name in bad[0][1] and "not a readable Parquet file" in bad[0][1]
        per_day = cat.query("SELECT CAST(date AS VARCHAR) AS d, count(*) AS n FROM trades GROUP BY ALL ORDER BY d")
        assert per_day.to_pylist() == [{"d": DAY, "n": 2}, {"d": "2026-07-20", "n": 3}]
        with pytest.raises(DataError, match="query failed"):
            cat.query("SELECT * FROM no_such_view")


async def test_new_day_visible_after_refresh_and_same_day_without(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    backends = make_backends(env)
    await archive(env, backends, sample_records(A, n=1))
    with await _open(tmp_path) as cat:
        await archive(env, backends, sample_records(B, n=1), start=50)
        assert cat.query("SELECT count(*) AS n FROM trades").to_pylist() == [{"n": 2}]  # same day: glob
        await archive(env, backends, sample_records(B, base=T0 + 86_400_000 * MS, n=1), start=90)
        await cat.refresh()
        assert cat.query("SELECT count(*) AS n FROM trades").to_pylist() == [{"n": 3}]


async def test_replay_records_in_time_order_and_lines_match_client_shapes(archived: tuple[Path, list]) -> None:
    root, records = archived
    with await _open(root) as cat:
        got = list(replay_records(cat, ReplayQuery(date=DAY)))
        assert sorted(got, key=lambda r: (r.ts, r.received_at)) == got
        assert sorted(map(msgspec.json.encode, got)) == sorted(map(msgspec.json.encode, records))

        books: dict[str, OrderBook] = {}
        expected = [msgspec.json.encode(message(r, books)).decode() for r in got if r.ticker == A]
        lines = [line for _, line in replay_lines(cat, ReplayQuery(date=DAY, symbols=[A]))]
        assert lines == expected
        first = json.loads(lines[0])
        assert first["replay"] is True and first["type"] == "orderbook" and first["bids"][0] == ["0.4100", "2.50"]
        trades = [json.loads(x) for x in lines if '"type":"trade"' in x]
        assert (trades[0]["price"], trades[0]["size"]) == ("0.9990", "0.11")

        for types in (["trade"], ["trade", "ticker"], ["trade", "orderbook", "lifecycle"]):
            q = ReplayQuery(date=DAY, types=types)
            assert "".join(replay_chunks(cat, q)).splitlines() == [line for _, line in replay_lines(cat, q)]

        window = ReplayQuery(date=DAY, symbols=[A], types=["trade"], start_ns=T0 + 2000 * MS, end_ns=T0 + 4000 * MS)
        assert [r.trade_id for r in replay_records(cat, window)] == [f"{A}-t1", f"{A}-t2"]


def test_pacing_follows_exchange_time_divided_by_speed() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    items = [(0, "a"), (1_000_000_000, "b"), (3_000_000_000, "c"), (3_000_000_000, "d")]
    out = list(paced(items, 10.0, monotonic=lambda: now[0], sleep=sleep))
    assert out == ["a", "b", "c", "d"] and slept == [0.1, 0.2]
    slept.clear()
    assert list(paced(items, None, monotonic=lambda: now[0], sleep=sleep)) == ["a", "b", "c", "d"] and not slept
    assert parse_speed("10x") == 10.0 and parse_speed("max") is None and parse_speed("1X") == 1.0
    with pytest.raises(SsmdError, match="--speed"):
        parse_speed("fast")


async def test_markets_view_from_the_secmaster_cache(archived: tuple[Path, list]) -> None:
    root, _ = archived
    with await _open(root) as cat:
        assert cat.query("SELECT count(*) AS n FROM markets").to_pylist() == [{"n": 0}]
        n = cat.register_markets({A: json.dumps({"ticker": A, "title": "BTC above 118999.99", "status": "active"})})
        assert n == 1
        rows = cat.query("SELECT m.title, count(*) AS trades FROM trades t JOIN markets m USING (ticker) "
                         "GROUP BY ALL").to_pylist()
        assert rows == [{"title": "BTC above 118999.99", "trades": 4}]
        # the secmaster's history views load with the catalog (empty until it has synced)
        assert cat.query("SELECT count(*) AS n FROM market_history").to_pylist() == [{"n": 0}]


async def test_catalog_survives_a_copy_of_the_archive_elsewhere(archived: tuple[Path, list]) -> None:
    root, _ = archived
    copy = root.parent / "copy"
    shutil.copytree(root, copy)
    (copy / "catalog.duckdb").unlink(missing_ok=True)
    with await _open(copy) as cat:
        assert cat.query("SELECT count(*) AS n FROM trades").to_pylist() == [{"n": 6}]
