"""Archiver and catalog: Parquet write rate, receipt→queryable latency, replay to NDJSON,
one symbol out of a large day, and export, each next to the bare library doing the same."""

from __future__ import annotations

import asyncio
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from common import Result, best_rate

from ssmd import codec
from ssmd.archive.columns import PRICE, SIZE, TS, ColumnBuffer, build_array
from ssmd.archive.parquet import encode_parquet
from ssmd.archiver import Archiver
from ssmd.catalog import open_catalog_async
from ssmd.catalog.replay import ReplayQuery, replay_chunks, replay_records
from ssmd.catalog.reports import export
from ssmd.config.model import ArchiverConfig, Buckets, Environment, StorageConfig
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.middleware.transport.memory import MemoryTransport
from ssmd.records import Trade
from ssmd.subjects import record_subject

DAY = "2026-07-19"
T0 = 1_784_419_200_000_000_000  # 2026-07-19T00:00:00Z


class _Backends:
    def __init__(self, env: Environment, storage: Any, transport: Any = None) -> None:
        self.env, self.storage, self.transport, self.cache, self.journal = env, storage, transport, None, None

    async def close(self) -> None:
        if self.transport is not None:
            await self.transport.close()


def _env(root: Path, **archiver: Any) -> Environment:
    storage = StorageConfig(type="local", path=str(root), buckets=Buckets(raw="raw", normalized="normalized"))
    return Environment(name="bench", feed="kalshi", schema="trade:v1", storage=storage,
                       archiver=ArchiverConfig(**archiver))


def _paired(ssmd_fn: Any, bare_fn: Any, repeat: int = 5) -> tuple[float, float]:
    """Median seconds of each, runs interleaved so that load changes on a shared machine hit
    both alike (the ratio is what matters)."""
    a, b = [], []
    for _ in range(repeat):
        for fn, out in ((ssmd_fn, a), (bare_fn, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def _trades(n: int) -> list[Trade]:
    return [Trade(ts=T0 + i * 1000, received_at=T0 + i * 1000 + 3_000_000, ticker=f"KXSYN-{i % 500:04d}",
                  trade_id=f"t{i}", price=(i * 7919) % 9999 + 1, size=(i % 1000) + 1, side="yes" if i % 2 else "no",
                  sid=1, seq=i) for i in range(n)]


def _write_rates(n: int) -> tuple[float, float, float]:
    trades = _trades(n)
    encoded = [codec.encode(t) for t in trades[: min(n, 50_000)]]

    def ssmd_path() -> int:
        buf = ColumnBuffer("trade")
        buf.extend(trades)
        encode_parquet(buf.to_table(), {b"ssmd.last_seq": b"1"})
        return n

    cols = {name: [getattr(t, name) for t in trades] for name in Trade.__struct_fields__}
    kinds = {"ts": TS, "received_at": TS, "price": PRICE, "size": SIZE}

    def bare_pyarrow() -> int:
        arrays = {k: (pa.array(v, pa.int64()).view(kinds[k]) if k in ("price", "size") else
                      pa.array(v, pa.timestamp("ns", tz="UTC")) if k in kinds else pa.array(v))
                  for k, v in cols.items()}
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table(arrays), sink, compression="zstd")
        return n

    def with_decode() -> int:
        buf = ColumnBuffer("trade")
        for data in encoded:
            buf.append(codec.decode("trade", data))
        encode_parquet(buf.to_table())
        return len(encoded)

    assert build_array  # the same array builders the archiver uses
    ssmd_s, bare_s = _paired(ssmd_path, bare_pyarrow)
    return n / ssmd_s, n / bare_s, best_rate(with_decode, 1)


async def _latency(root: Path) -> float:
    env = _env(root)  # default flush interval (2 s)
    storage = FsspecStorage.local(root)
    transport = MemoryTransport(env.name)
    backends = _Backends(env, storage, transport)
    archiver = Archiver(env, backends)
    task = asyncio.create_task(archiver.run())

    async def send(i: int) -> None:
        now = time.time_ns()
        t = Trade(ts=now, received_at=now, ticker="KXLAT", trade_id=f"l{i}", price=5000, size=100, side="yes",
                  sid=1, seq=i)
        await transport.publish(record_subject(env.name, env.feed, "trade", t.ticker), codec.encode(t),
                                {"received_at": str(now), "conn": "b"})

    def written() -> int:
        return sum(1 for _ in root.rglob("*.parquet"))

    await send(0)
    while written() == 0:  # noqa: ASYNC110 - polling is what is measured: the first file of the day
        await asyncio.sleep(0.01)
    catalog = await open_catalog_async(env, backends=backends, database=":memory:")
    samples = []
    for i in range(1, 4):
        start = time.perf_counter()
        await send(i)
        deadline = start + 30
        while catalog.query("SELECT count(*) AS n FROM trades").column(0)[0].as_py() <= i:
            if time.perf_counter() > deadline:
                raise TimeoutError("record not queryable within 30 s")
            await asyncio.sleep(0.01)
        samples.append(time.perf_counter() - start)
    catalog.close()
    await archiver.stop()
    await task
    return statistics.median(samples)


def _synthetic_day(root: Path, rows: int, tickers: int = 1000) -> Path:
    folder = root / "normalized/bench/kalshi/v1/trade" / f"date={DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "compacted.parquet"
    per = max(1, rows // tickers)
    step = 86_400_000_000 // per
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT make_timestamptz({T0 // 1000} + (i % {per}) * {step}) AS ts,
               make_timestamptz({T0 // 1000} + (i % {per}) * {step} + 3000) AS received_at,
               'KXSYN-' || lpad(CAST(i // {per} AS VARCHAR), 5, '0') AS ticker,
               't' || CAST(i AS VARCHAR) AS trade_id,
               CAST(((i * 7919) % 9999 + 1) / 10000 AS DECIMAL(18, 4)) AS price,
               CAST((i % 1000 + 1) / 100 AS DECIMAL(18, 2)) AS size,
               CASE WHEN i % 2 = 0 THEN 'yes' ELSE 'no' END AS side,
               CAST(1 AS BIGINT) AS sid, CAST(i AS BIGINT) AS seq, false AS is_block_trade
        FROM range({per * tickers}) t(i)) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
    con.close()
    return out


def run(quick: bool = False) -> list[Result]:
    results: list[Result] = []
    n = 200_000 if quick else 1_000_000
    ssmd_rate, bare_rate, decode_rate = _write_rates(n)
    results.append(Result("archiver trades -> Parquet (zstd)", ssmd_rate, "rows/s", bare_rate,
                          "bare pyarrow from column lists", goal=">= 1 M rows/s and >= 50 %"))
    results.append(Result("  incl. Cap'n Proto decode per record", decode_rate, "rows/s", None, "", goal="info"))
    with tempfile.TemporaryDirectory(prefix="ssmd-bench-") as tmp:
        root = Path(tmp)
        latency = asyncio.run(_latency(root / "lat"))
        results.append(Result("receipt -> queryable (flush 2 s)", latency, "s", None, "", goal="<= 5 s",
                              higher_is_better=False))

        big = 5_000_000 if quick else 50_000_000
        day_root = root / "day"
        path = _synthetic_day(day_root, big)
        env = _env(day_root)
        catalog = asyncio.run(open_catalog_async(env, backends=_Backends(env, FsspecStorage.local(day_root)),
                                                 database=":memory:"))
        symbol = "KXSYN-00500"
        bare_con = duckdb.connect()
        one, bare = _paired(lambda: catalog.trades(DAY, symbol), lambda: bare_con.sql(
            f"SELECT * FROM read_parquet('{path}') WHERE ticker = $1", params=[symbol]).to_arrow_table(), 7)
        assert catalog.trades(DAY, symbol).num_rows == big // 1000
        results.append(Result(f"one symbol's day of {big / 1e6:.0f} M rows", one * 1000, "ms", bare * 1000,
                              "bare DuckDB filter on the file", goal="<= 50 ms", higher_is_better=False))

        replay_n = 1_000_000 if quick else 5_000_000
        sub = f"SELECT * FROM read_parquet('{path}') LIMIT {replay_n}"
        rp_root = root / "replay"
        rp_path = rp_root / "normalized/bench/kalshi/v1/trade" / f"date={DAY}" / "compacted.parquet"
        rp_path.parent.mkdir(parents=True)
        bare_con.execute(f"COPY ({sub}) TO '{rp_path}' (FORMAT parquet, COMPRESSION zstd)")
        rp_cat = asyncio.run(open_catalog_async(env, backends=_Backends(env, FsspecStorage.local(rp_root)),
                                                database=":memory:"))
        query = ReplayQuery(date=DAY, types=["trade"])

        def replay_ndjson() -> int:
            sink = io.StringIO()
            for chunk in replay_chunks(rp_cat, query):
                sink.write(chunk)
            return replay_n

        def bare_json() -> int:
            reader = bare_con.sql(f"SELECT to_json(t) FROM read_parquet('{rp_path}') t").to_arrow_reader(65536)
            sink = io.StringIO()
            for batch in reader:
                sink.write("\n".join(batch.column(0).to_pylist()))
            return replay_n

        assert replay_ndjson() == replay_n and sum(c.count("\n") for c in replay_chunks(rp_cat, query)) == replay_n
        rs, rb = _paired(replay_ndjson, bare_json, 3)
        results.append(Result("replay trades -> NDJSON (client shapes)", replay_n / rs, "msg/s", replay_n / rb,
                              "bare DuckDB to_json rows", goal=">= 1 M msg/s"))
        small = ReplayQuery(date=DAY, types=["trade"], symbols=[f"KXSYN-{i:05d}" for i in range(0, 1000, 10)])
        results.append(Result("replay records (objects, for gateway/sim)",
                              best_rate(lambda: sum(1 for _ in replay_records(rp_cat, small)), 1), "rec/s", None, "",
                              goal="info"))

        out_dir = root / "export"
        out_dir.mkdir()

        def ssmd_export() -> int:
            return export(rp_cat, "trade", DAY, None, "parquet", out_dir / "ssmd.parquet")

        def bare_copy() -> int:
            bare_con.execute(f"COPY (SELECT * FROM read_parquet('{rp_path}')) TO '{out_dir / 'bare.parquet'}' "
                             "(FORMAT parquet, COMPRESSION zstd)")
            return replay_n

        es, eb = _paired(ssmd_export, bare_copy, 5)
        results.append(Result("export day -> Parquet", replay_n / es, "rows/s", replay_n / eb, "bare DuckDB COPY",
                              goal=">= 90 %"))
        catalog.close()
        rp_cat.close()
        bare_con.close()
    return results
