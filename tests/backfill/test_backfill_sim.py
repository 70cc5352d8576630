"""``ssmd data backfill`` end to end against the simulator, with history across the cutoff.

Every simulated trade in range lands in the ``trades`` view exactly once (``source='rest'``,
exact prices), also when the live feed archived some of them first; candles agree with the
simulator's; settled markets' results are in ``settlements``; a run killed with SIGKILL
resumes without duplicates; a rerun writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ssmd.archive import layout
from ssmd.archive.columns import ColumnBuffer
from ssmd.archive.parquet import encode_parquet
from ssmd.backfill import checkpoint
from ssmd.calendar import day_partition
from ssmd.catalog import open_catalog_async
from ssmd.cli.main import main
from ssmd.config.load import load_environment
from ssmd.fixed import format_count, format_price
from ssmd.middleware.storage.fsspec_store import FsspecStorage
from ssmd.records import Trade
from ssmd.simulator import SimSettings, Simulator
from ssmd.simulator import candles as sim_candles
from tests.waiting import until

pytestmark = pytest.mark.slow
SERIES = "KXETHD"  # live and historical markets in the seeded universe
H = 3600 * 10**9
SSMD = str(Path(sys.executable).parent / "ssmd")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    settings = SimSettings(markets=12, rate=0, lifecycle_interval=0, interleave=False, seed=11, history_hours=48,
                           live_window_hours=24, history_trades=3000, rest_tokens_per_second=1e9, rest_bucket=1e9)
    async with Simulator(settings) as s:
        yield s


def _env_file(tmp_path: Path, sim: Simulator) -> str:
    path = tmp_path / "bf.yaml"
    path.write_text(
        "name: bf\nfeed: kalshi\nschema: trade:v1,ticker:v1,orderbook:v1,lifecycle:v1\n"
        f"storage: {{type: local, path: '{tmp_path / 'data'}'}}\ncache: {{type: memory}}\njournal: {{type: memory}}\n"
        f"endpoints: {{ws: '{sim.ws_url}', rest: '{sim.rest_url}'}}\n")
    return str(path)


def _range() -> tuple[str, str, int, int]:
    """The whole simulated history (48 h) and the present, at whole microseconds."""
    now = time.time_ns() // 1000 * 1000
    lo, hi = now - 49 * H, now - 1000
    return _iso(lo), _iso(hi), lo, hi


def _iso(ns: int) -> str:
    from ssmd.clock import to_datetime

    return to_datetime(ns).isoformat().replace("+00:00", "Z")


async def _cli(*argv: str) -> tuple[int, Any]:
    """Run the CLI in a thread (the simulator keeps serving on this loop); JSON summary."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(main, list(argv))
    text = out.getvalue()
    return code, json.loads(text) if text.strip().startswith("{") else text


def _series_trades(sim: Simulator, lo: int, hi: int) -> list[Any]:
    tickers = {t for t, m in sim.engine.universe.markets.items() if m.series == SERIES}
    return [t for t in sim.engine.tape.all() if t.ticker in tickers and lo <= t.created_ns < hi]


async def _query(env_file: str, sql: str) -> list[dict[str, Any]]:
    catalog = await open_catalog_async(load_environment(env_file), database=":memory:")
    try:
        return catalog.query(sql).to_pylist()
    finally:
        await catalog.aclose()


async def test_backfill_both_tiers_exactly_once(sim: Simulator, tmp_path: Path) -> None:
    env_file = _env_file(tmp_path, sim)
    env = load_environment(env_file)
    start, end, lo, hi = _range()
    expected = _series_trades(sim, lo, hi)
    cutoff = sim.engine.cutoff_ns
    assert any(t.created_ns < cutoff for t in expected) and any(t.created_ns >= cutoff for t in expected)
    # the live feed archived a few of them already (source ws): they must not come back
    ws = expected[:: max(1, len(expected) // 5)]
    storage = FsspecStorage.local(tmp_path / "data", attempts=1)
    for day in sorted({day_partition(env.schedule, t.created_ns) for t in ws}):
        buf = ColumnBuffer("trade")
        buf.extend([Trade(ts=t.created_ns, received_at=t.created_ns, ticker=t.ticker, trade_id=t.trade_id,
                          price=t.yes_price, size=t.count, side=t.taker_side, sid=1, seq=i)
                    for i, t in enumerate(ws) if day_partition(env.schedule, t.created_ns) == day])
        await storage.put(layout.part_path(layout.Layout.of(env), "trade", day, 1, 0), encode_parquet(buf.to_table()))

    code, summary = await _cli("data", "backfill", "--env", env_file, "--series", SERIES, "--from", start,
                               "--to", end, "--period", "1m,1h", "--json")
    assert code == 0, summary
    assert summary["rows"]["trades"] == len(expected) - len(ws) and summary["duplicates"]["trades"] == len(ws)
    assert summary["markets"] >= 2 and summary["throttled"] == 0

    rows = await _query(env_file, "SELECT trade_id, ticker, CAST(price AS VARCHAR) AS price, "
                                  "CAST(size AS VARCHAR) AS size, side, source, ts FROM trades")
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_id.setdefault(r["trade_id"], []).append(r)
    assert all(len(v) == 1 for v in by_id.values()), "a trade archived twice"
    assert set(by_id) == {t.trade_id for t in expected}
    ws_ids = {t.trade_id for t in ws}
    for t in expected:
        (r,) = by_id[t.trade_id]
        assert (r["ticker"], r["price"], r["size"], r["side"]) == (
            t.ticker, format_price(t.yes_price), format_count(t.count), t.taker_side)
        assert r["source"] == ("ws" if t.trade_id in ws_ids else "rest")
        assert int(r["ts"].timestamp() * 1000) == t.created_ns // 1_000_000

    # candles agree with the simulator's (computed from the same tape)
    candles = await _query(env_file, "SELECT ticker, period, epoch(end_period_ts)::BIGINT AS end_s, "
                                     "CAST(close AS VARCHAR) AS close, CAST(yes_bid_close AS VARCHAR) AS bid, "
                                     "CAST(volume AS VARCHAR) AS volume FROM candles")
    assert {c["period"] for c in candles} == {"1m", "1h"}
    keys = [(c["ticker"], c["period"], c["end_s"]) for c in candles]
    assert len(keys) == len(set(keys))
    u = sim.engine.universe
    for c in candles[:: max(1, len(candles) // 200)]:
        m = u.markets[c["ticker"]]
        period = {"1m": 1, "1h": 60}[c["period"]]
        historical = sim.hidden(m.ticker)
        (want,) = sim_candles.candles(m, sim.engine.tape.all(m.ticker), start_s=c["end_s"], end_s=c["end_s"],
                                      period=period, now_ns=time.time_ns(), historical=historical)
        suffix = "" if historical else "_dollars"
        assert c["close"] == want["price"][f"close{suffix}"]
        assert c["bid"] == want["yes_bid"][f"close{suffix}"]
        assert c["volume"] == want["volume" if historical else "volume_fp"]
    traded = sum(1 for c in candles if c["period"] == "1m" and c["close"] is not None)
    assert traded > 0

    # settlements: every finalized market of the series, joinable to its trades
    settled = {t: m for t, m in u.markets.items() if m.series == SERIES and m.status == "finalized"}
    got = await _query(env_file, "SELECT s.ticker, s.result, CAST(s.settlement_value AS VARCHAR) AS value, "
                                 "count(t.trade_id) AS trades FROM settlements s "
                                 "LEFT JOIN trades t USING (ticker) GROUP BY ALL")
    assert {g["ticker"]: (g["result"], g["value"]) for g in got} == {
        t: (m.result, format_price(m.settlement_value or 0)) for t, m in settled.items()}

    # markets: each one in the secmaster's history, valid from its open time, the old ones included
    history = await _query(env_file, "SELECT ticker, status, result, series_ticker, source, change, "
                                     "epoch_ns(valid_from) AS valid_from FROM market_history")
    assert summary["rows"]["markets"] == summary["markets"] == len(history)
    by_ticker = {h["ticker"]: h for h in history}
    assert set(settled) <= set(by_ticker)
    for ticker, m in settled.items():
        h = by_ticker[ticker]
        assert (h["status"], h["result"], h["series_ticker"], h["source"], h["change"]) == (
            "finalized", m.result, SERIES, "backfill", "market_added")
        assert h["valid_from"] == m.open_ns // 1000 * 1000
    as_of = await _query(env_file, "SELECT ticker FROM markets_as_of(now() - INTERVAL 47 HOUR)")
    assert {a["ticker"] for a in as_of} <= set(by_ticker) and as_of  # the past knows its markets

    # a rerun of the finished range writes nothing and fetches no chunk
    code, again = await _cli("data", "backfill", "--env", env_file, "--series", SERIES, "--from", start,
                             "--to", end, "--period", "1m,1h", "--json")
    assert code == 0
    assert again["rows"] == {"trades": 0, "candles": 0, "settlements": 0, "markets": 0} and again["chunks"] == 0
    assert again["duplicates"]["markets"] == summary["markets"]
    assert again["chunks_resumed"] == summary["chunks"]


async def test_sigkill_midway_then_resume(sim: Simulator, tmp_path: Path) -> None:
    env_file = _env_file(tmp_path, sim)
    env = load_environment(env_file)
    start, end, lo, hi = _range()
    expected = _series_trades(sim, lo, hi)
    argv = [SSMD, "data", "backfill", "--env", env_file, "--series", SERIES, "--from", start, "--to", end,
            "--what", "trades,candles", "--workers", "1", "--json"]
    marks = Path(tmp_path / "data") / checkpoint.root(env)
    proc = await asyncio.create_subprocess_exec(*argv, "--rate", "5", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        await until(lambda: marks.is_dir() and any(marks.rglob("*.json")), timeout=60, what="a first checkpoint")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done_before = len(list(marks.rglob("*.json")))
    assert done_before >= 1

    proc = await asyncio.create_subprocess_exec(*argv, "--rate", "500", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["chunks_resumed"] >= 1 and summary["chunks"] >= 1  # killed midway: work was left
    rows = await _query(env_file, "SELECT trade_id, count(*) AS n FROM trades GROUP BY ALL")
    assert all(r["n"] == 1 for r in rows), "a trade archived twice"
    assert {r["trade_id"] for r in rows} == {t.trade_id for t in expected}
    dup = await _query(env_file, "SELECT count(*) AS n FROM (SELECT ticker, period, end_period_ts FROM candles "
                                 "GROUP BY ALL HAVING count(*) > 1)")
    assert dup[0]["n"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--symbol", "KXNOPE-1"], "--symbol 'KXNOPE-1': no such market"),
    (["--series", "KXNOPE"], "--series 'KXNOPE': no such series"),
    (["--event", "KXNOPE-1"], "--event 'KXNOPE-1': no such event"),
    (["--series", SERIES, "--from", "2026-07-20", "--to", "2026-07-19"], "--from '2026-07-20' is not before --to"),
    (["--series", SERIES, "--from", "20/07/2026"], "--from '20/07/2026': use a date YYYY-MM-DD"),
    (["--series", SERIES, "--what", "trades,quotes"], "--what 'trades,quotes': use a comma-separated list"),
    (["--series", SERIES, "--period", "5m"], "--period '5m': use a comma-separated list of 1m, 1h, 1d"),
    (["--series", SERIES, "--symbol", "X"], "give exactly one of --symbol, --series or --event"),
    ([], "give exactly one of --symbol, --series or --event"),
])
async def test_bad_options_are_one_line(sim: Simulator, tmp_path: Path, args: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _env_file(tmp_path, sim)
    argv = ["data", "backfill", "--env", env_file, "--from", "2026-07-19", "--to", "2026-07-19"]
    for i in range(0, len(args), 2):  # later options win over the defaults above
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i:i + 2]
    code = await asyncio.to_thread(main, argv)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"ssmd: {message}") and err.count("\n") == 1, err
