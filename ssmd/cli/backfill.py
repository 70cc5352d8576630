"""``ssmd data backfill``: history from Kalshi REST into the archive (``ssmd.backfill``)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import Parameter

from ssmd.backfill.plan import DEFAULT_PERIODS, DEFAULT_WHAT
from ssmd.cli.output import emit_json
from ssmd.errors import SsmdError

if TYPE_CHECKING:
    from ssmd.backfill.run import Progress, Summary

DEFAULT_ENV = "kalshi-local"


class _Bar:
    """A progress line redrawn on stderr when it is a terminal (silent otherwise)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.tty or (now - self.last < 0.1 and p.chunks_done < p.chunks_total):
            return
        self.last = now
        total = max(1, p.chunks_total)
        filled = int(30 * min(1.0, p.chunks_done / total))
        print(f"\rbackfill [{'#' * filled}{'.' * (30 - filled)}] {p.chunks_done:,}/{p.chunks_total:,} chunks  "
              f"{p.markets:,} markets  {p.rows:,} rows  {p.requests:,} requests\x1b[K",
              end="", file=sys.stderr, flush=True)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def backfill(
    *,
    from_: Annotated[str, Parameter(name="--from")],
    to: str,
    env: str = DEFAULT_ENV,
    symbol: str | None = None,
    series: str | None = None,
    event: str | None = None,
    what: str = DEFAULT_WHAT,
    period: str = DEFAULT_PERIODS,
    rate: float | None = None,
    workers: int = 4,
    json: Annotated[bool, Parameter(negative="")] = False,
) -> int:
    """Fetch trades, candlesticks and settlements from Kalshi REST into the archive.

    Resumable: a rerun after an interruption continues where it stopped, and nothing
    already archived (by this command or by the live feed) is written twice.

    Parameters
    ----------
    from_
        Start: a trading day YYYY-MM-DD or an ISO time (UTC unless it has an offset), inclusive.
    to
        End: a trading day (included whole) or an ISO time, exclusive.
    env
        Environment name or file.
    symbol
        Market ticker(s), comma-separated.
    series
        Every market of this series that traded in the range.
    event
        Every market of this event.
    what
        Datasets, comma-separated: trades, candles, settlements, markets (past markets into the
        secmaster's history).
    period
        Candle periods, comma-separated: 1m, 1h, 1d.
    rate
        REST requests per second (default: the environment's secmaster.requests_per_second).
    workers
        Markets fetched concurrently (the rate is shared).
    json
        Print the summary as JSON.
    """
    from ssmd.backfill.plan import check_range, parse_bound, parse_periods, parse_what
    from ssmd.backfill.run import Request
    from ssmd.config.load import load_environment

    chosen = [name for name, value in (("--symbol", symbol), ("--series", series), ("--event", event)) if value]
    if len(chosen) != 1:
        raise SsmdError("give exactly one of --symbol, --series or --event"
                        + (f" (got {' and '.join(chosen)})" if chosen else ""))
    whats = parse_what(what)
    periods = parse_periods(period)
    if rate is not None and rate <= 0:
        raise SsmdError(f"--rate {rate}: must be above 0")
    if workers < 1:
        raise SsmdError(f"--workers {workers}: must be at least 1")
    environment = load_environment(env)
    start = parse_bound(from_, "--from", environment.schedule, end=False)
    end = parse_bound(to, "--to", environment.schedule, end=True)
    check_range(start, end, from_, to)
    symbols = [s.strip() for s in (symbol or "").split(",") if s.strip()]
    request = Request(start_ns=start, end_ns=end, symbols=symbols, series=series, event=event, what=whats,
                      periods=periods, workers=workers)
    bar = _Bar()
    try:
        summary = asyncio.run(_run(environment, request, rate or environment.secmaster.requests_per_second, bar))
    finally:
        bar.done()
    if json:
        import msgspec

        emit_json(msgspec.to_builtins(summary))
    else:
        _print(summary)
    return 0


async def _run(env: Any, request: Any, rate: float, bar: _Bar) -> Summary:
    from ssmd.backfill.run import backfill as run_backfill
    from ssmd.kalshi.rest import KalshiRest
    from ssmd.middleware.factory import open_backends
    from ssmd.simulator import ensure_running

    async with await open_backends(env) as backends, ensure_running(env) as (_ws, rest_url), \
            KalshiRest(rest_url, requests_per_second=rate) as rest:
        return await run_backfill(env, backends.storage, rest, request, progress=bar)


def _print(s: Summary) -> None:
    cutoff = f", historical cutoff {s.cutoff}" if s.cutoff else ""
    print(f"backfill {s.env}: {s.markets} markets, {s.start} to {s.end}{cutoff}")
    for name, rows in s.rows.items():
        print(f"  {name:<12} {rows:>10,} rows written  {s.duplicates.get(name, 0):>8,} duplicates skipped")
    print(f"  {s.requests:,} requests ({s.throttled:,} answered 429), {s.chunks:,} chunks fetched "
          f"({s.chunks_resumed:,} already done), {s.seconds:.1f} s, {s.rows_per_second:,.0f} rows/s")
