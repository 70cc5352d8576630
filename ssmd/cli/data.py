"""``ssmd data`` (replay, export, inventory, gaps, quality) and ``ssmd sql``."""

from __future__ import annotations

import csv
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from cyclopts import App, Parameter

from ssmd.cli.output import emit_json, table
from ssmd.clock import parse_moment
from ssmd.errors import SsmdError
from ssmd.units import human_bytes

app = App(name="data", help="Archived data: replay, export, inventory, gaps, quality.")
DEFAULT_ENV = "kalshi-local"
_TYPES = ("trade", "ticker", "orderbook", "lifecycle")
app.command("ssmd.cli.coverage:coverage", name="coverage")
app.command("ssmd.cli.backfill:backfill", name="backfill")


def _catalog(env: str) -> Any:
    from ssmd.catalog import open_catalog

    return open_catalog(env)


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _moment(text: str | None, date: str, option: str) -> int | None:
    """RFC 3339 / ISO time, or HH:MM[:SS] (UTC) on ``date`` → ns."""
    if not text:
        return None
    try:
        return parse_moment(text, date)
    except ValueError:
        raise SsmdError(f"{option} {text!r}: use HH:MM[:SS] or an ISO time like {date}T14:30:00Z") from None


def _check_date(date: str) -> str:
    try:
        return datetime.strptime(date, "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise SsmdError(f"--date {date!r}: use YYYY-MM-DD") from None


@app.command
def replay(
    *,
    date: str,
    symbol: str,
    env: str = DEFAULT_ENV,
    type: str = ",".join(_TYPES),
    from_: Annotated[str | None, Parameter(name="--from")] = None,
    to: str | None = None,
    speed: str = "max",
    format: str = "jsonl",
    raw: bool = False,
) -> int:
    """Replay a day's records in timestamp order on stdout (exit code 1 when nothing matched).

    Parameters
    ----------
    date
        Trading day, YYYY-MM-DD.
    symbol
        Market ticker(s), comma-separated.
    env
        Environment name or file.
    type
        Record types, comma-separated: trade, ticker, orderbook, lifecycle.
    from_
        Start time (HH:MM[:SS] UTC on the date, or ISO), inclusive.
    to
        End time, exclusive.
    speed
        1x, 10x, ... (paced by exchange time) or max.
    format
        jsonl (client message shapes) or table.
    raw
        Print the original frames from the raw archive instead.
    """
    from ssmd.catalog.replay import ReplayQuery, paced, parse_speed

    day = _check_date(date)
    types = _split(type) or list(_TYPES)
    unknown = [t for t in types if t not in _TYPES]
    if unknown:
        raise SsmdError(f"--type {','.join(unknown)!r}: use {', '.join(_TYPES)}")
    if format not in ("jsonl", "table"):
        raise SsmdError(f"--format {format!r}: use jsonl or table")
    factor = parse_speed(speed)
    query = ReplayQuery(date=day, symbols=_split(symbol), types=types, start_ns=_moment(from_, day, "--from"),
                        end_ns=_moment(to, day, "--to"))
    with _catalog(env) as catalog:
        if raw:
            from ssmd.catalog.rawreplay import replay_raw

            items = replay_raw(catalog.env, catalog.storage, query)
        elif format == "table":
            print(f"{'TS':<24}  {'TYPE':<9}  {'TICKER':<32}  DETAIL")
            items = _table_items(catalog, query)
        elif factor is None:
            from ssmd.catalog.replay import replay_chunks

            written = 0
            for chunk in replay_chunks(catalog, query):
                sys.stdout.write(chunk)
                written += bool(chunk)
            sys.stdout.flush()
            return _replayed(written, query, catalog.env.name)
        else:
            from ssmd.catalog.replay import replay_lines

            items = replay_lines(catalog, query)
        out = sys.stdout
        written = 0
        for line in paced(items, factor, monotonic=time.monotonic, sleep=time.sleep):
            out.write(line)
            out.write("\n")
            written += 1
        out.flush()
    return _replayed(written, query, catalog.env.name)


def _replayed(written: int, query: Any, env: str) -> int:
    """Exit code of a replay: 1, with a note on stderr, when nothing matched."""
    if written:
        return 0
    symbols = ",".join(query.symbols) if query.symbols else "any symbol"
    print(f"ssmd: nothing to replay: no {','.join(query.types)} records for {symbols} on {query.date} in {env} "
          f"(see `ssmd data inventory --env {env}`)", file=sys.stderr)
    return 1


def _table_items(catalog: Any, query: Any) -> Any:
    from ssmd.catalog.replay import message, replay_records

    books: dict[str, Any] = {}
    for record in replay_records(catalog, query):
        m = message(record, books)
        if m["type"] == "trade":
            detail = f"{m['side']} {m['size']} @ {m['price']}"
        elif m["type"] == "ticker":
            detail = f"bid {m['yes_bid']} ask {m['yes_ask']} last {m['price']} vol {m['volume']}"
        elif m["type"] == "orderbook":
            bid = m["bids"][0] if m["bids"] else ["-", "-"]
            ask = m["asks"][0] if m["asks"] else ["-", "-"]
            detail = f"{'snapshot' if m['snapshot'] else 'delta'} best {bid[1]}@{bid[0]} / {ask[1]}@{ask[0]}"
        else:
            detail = f"{m['kind']} {m['event_type']}"
        yield record.ts, f"{m['ts']:<24}  {m['type']:<9}  {m['ticker']:<32}  {detail}"


@app.command
def export(
    *,
    date: str,
    format: str = "parquet",
    env: str = DEFAULT_ENV,
    symbol: str | None = None,
    type: str = "trade",
    out: Path | None = None,
) -> None:
    """Export a day's rows of one record type to Parquet, CSV or JSON lines.

    Parameters
    ----------
    date
        Trading day, YYYY-MM-DD.
    format
        parquet, csv or jsonl.
    env
        Environment name or file.
    symbol
        Only these market tickers (comma-separated).
    type
        trade, ticker, orderbook or lifecycle.
    out
        Output file (default: ./{env}-{type}-{date}.{format}).
    """
    from ssmd.catalog.reports import export as run_export

    day = _check_date(date)
    target = out or Path(f"{Path(env).stem}-{type}-{day}.{format}")
    started = time.perf_counter()
    shown = [False]

    def progress(pct: float) -> None:
        if time.perf_counter() - started < 1.0 and pct < 100:
            return
        if pct >= 100 and not shown[0]:
            return
        shown[0] = True
        filled = int(pct / 100 * 30)
        sys.stderr.write(f"\rexporting [{'#' * filled}{'.' * (30 - filled)}] {pct:5.1f}%")
        if pct >= 100:
            sys.stderr.write("\n")
        sys.stderr.flush()

    with _catalog(env) as catalog:
        n = run_export(catalog, type, day, _split(symbol), format, target, progress)
    print(f"exported {n} rows to {target} ({time.perf_counter() - started:.2f} s)")


@app.command
def inventory(*, env: str = DEFAULT_ENV, from_: Annotated[str | None, Parameter(name="--from")] = None,
              to: str | None = None, json: bool = False) -> None:
    """Archived days: raw size, normalized size, status, quality, gaps.

    Parameters
    ----------
    env
        Environment name or file.
    from_
        First day (YYYY-MM-DD).
    to
        Last day (YYYY-MM-DD).
    json
        Print JSON.
    """
    from ssmd.catalog.reports import inventory as days

    with _catalog(env) as catalog:
        result = days(catalog, from_ and _check_date(from_), to and _check_date(to))
    if json:
        emit_json(result)
        return
    table(("date", "raw", "normalized", "records", "status", "quality", "gaps"),
          [(r["date"], human_bytes(r["raw_bytes"]), human_bytes(r["normalized_bytes"]),
            r["raw_records"] or r["normalized_rows"], r["status"] + (f" ({r['bad_files']} bad files)"
                                                                      if r["bad_files"] else ""),
            None if r["quality"] is None else f"{r['quality']:.4f}", r["gaps"]) for r in result])


@app.command
def gaps(*, date: str, env: str = DEFAULT_ENV, json: bool = False) -> None:
    """Gaps and outages recorded for a day.

    Parameters
    ----------
    date
        Trading day, YYYY-MM-DD.
    env
        Environment name or file.
    json
        Print JSON.
    """
    from ssmd.catalog.reports import gaps as day_gaps

    with _catalog(env) as catalog:
        result = day_gaps(catalog, _check_date(date))
    if json:
        emit_json(result)
        return
    if not result:
        print(f"no gaps recorded for {date}")
        return
    table(("kind", "channel", "start", "end", "seconds", "sid", "cause"),
          [(r["kind"], r["channel"], r["start"], r["end"], r["seconds"], r["sid"], r["cause"]) for r in result])


@app.command
def quality(*, date: str, env: str = DEFAULT_ENV, json: bool = False) -> None:
    """Data quality of a day: coverage per market, gaps, skew, counts by type.

    Parameters
    ----------
    date
        Trading day, YYYY-MM-DD.
    env
        Environment name or file.
    json
        Print JSON.
    """
    from ssmd.catalog.reports import quality as day_quality

    with _catalog(env) as catalog:
        result = day_quality(catalog, _check_date(date))
    if json:
        emit_json(result)
        return
    score = result["quality_score"]
    print(f"date {result['date']}  status {result['status']}  completeness {result['completeness'] or '-'}  quality "
          f"{'-' if score is None else f'{score:.4f}'}  gaps {result['gaps']}  raw frames {result['raw_frames']}")
    if result["coverage"]:
        print("market-hours: " + ", ".join(f"{k} {v}" for k, v in sorted(result["coverage"].items()))
              + "  (ssmd data coverage for the hour strip)")
    print("messages: " + ", ".join(f"{k} {v}" for k, v in result["messages"].items()))
    print("\nskew (receive - exchange time):")
    table(("type", "p50 s", "p99 s", "max s"),
          [(r["type"], r["p50_seconds"], r["p99_seconds"], r["max_seconds"]) for r in result["skew"]])
    print("\ncoverage per market:")
    table(("ticker", "messages", "trades", "tickers", "book", "first", "last", "minutes"),
          [(m["ticker"], m["messages"], m["trades"], m["tickers"], m["book_updates"], m["first"], m["last"],
            m["minutes_with_data"]) for m in result["markets"]])


def sql(query: str, /, *, env: str = DEFAULT_ENV, format: str = "table") -> None:
    """Run SQL over the catalog views (trades, tickers, orderbook, lifecycle, markets, days, gaps).

    Parameters
    ----------
    query
        The SQL text, e.g. "SELECT ticker, count(*) FROM trades GROUP BY ALL".
    env
        Environment name or file.
    format
        table, csv or json.
    """
    if format not in ("table", "csv", "json"):
        raise SsmdError(f"--format {format!r}: use table, csv or json")
    with _catalog(env) as catalog:
        result = catalog.query(query)
    names = result.column_names
    data = result.to_pylist()
    if format == "json":
        emit_json(data)
    elif format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([["" if r[n] is None else _text(r[n]) for n in names] for r in data])
    else:
        table(names, [[_text(r[n]) for n in names] for r in data])


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
