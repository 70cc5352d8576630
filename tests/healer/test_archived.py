"""The trade ids a heal de-duplicates against: read from the day's trade Parquet."""

from __future__ import annotations

from pathlib import Path

from ssmd.archive import layout
from ssmd.archive.columns import ColumnBuffer
from ssmd.archive.parquet import encode_parquet
from ssmd.healer.archived import archived_trade_ids, dates_between
from ssmd.records import Trade
from tests.archiver.helpers import DAY, MS, T0, make_backends, make_env

A, B = "KXA", "KXB"


def _trade(trade_id: str, ticker: str, ts: int) -> Trade:
    return Trade(ts=ts, received_at=ts + MS, ticker=ticker, trade_id=trade_id, price=5000, size=100, side="yes",
                 sid=1, seq=1)


async def test_ids_of_the_markets_and_span_asked_for_and_unreadable_files_skipped(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    storage = make_backends(env).storage
    buf = ColumnBuffer("trade")
    buf.extend([_trade("a-early", A, T0 - 10_000 * MS), _trade("a-in", A, T0), _trade("b-in", B, T0 + MS),
                _trade("a-edge", A, T0 + 2000 * MS)])
    await storage.put(layout.part_path(layout.Layout.of(env), "trade", DAY, 1, 1), encode_parquet(buf.to_table()))
    await storage.put(layout.part_path(layout.Layout.of(env), "trade", DAY, 2, 1), b"not parquet")
    dates = dates_between(env, T0, T0 + 2000 * MS)
    assert dates == [DAY]
    assert await archived_trade_ids(env, storage, [A], T0, T0 + 2000 * MS, dates) == {"a-in", "a-edge"}
    assert await archived_trade_ids(env, storage, None, T0, T0 + 2000 * MS, dates) == {"a-in", "b-in", "a-edge"}
