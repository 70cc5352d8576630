"""Read-side reports over the catalog: inventory, gaps, quality, export (no printing)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from ssmd.archive import duck
from ssmd.archive.completeness import day_completeness
from ssmd.catalog.catalog import Catalog
from ssmd.catalog.sqlgen import VIEWS, where_clause
from ssmd.errors import SsmdError
from ssmd.status import GapInfo


def rows(catalog: Catalog, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return catalog.query(sql, params).to_pylist()


def inventory(catalog: Catalog, start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
    """One row per day: raw size, normalized size, status, quality, gaps, records."""
    where, params = [], []
    if start:
        where.append("date >= CAST(? AS DATE)")
        params.append(start)
    if end:
        where.append("date <= CAST(? AS DATE)")
        params.append(end)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"""
        WITH norm AS (
            SELECT date, sum(size) AS normalized_bytes, sum(rows) AS normalized_rows,
                   count(*) FILTER (WHERE status <> 'ok') AS bad_files
            FROM ssmd_files GROUP BY date),
        alld AS (SELECT date FROM ssmd_days UNION SELECT date FROM norm)
        SELECT CAST(a.date AS VARCHAR) AS date, coalesce(d.raw_bytes, 0) AS raw_bytes,
               coalesce(n.normalized_bytes, 0) AS normalized_bytes, coalesce(d.raw_records, 0) AS raw_records,
               coalesce(n.normalized_rows, 0) AS normalized_rows, coalesce(d.status, 'no manifest') AS status,
               d.quality_score AS quality, coalesce(d.gap_count, 0) AS gaps, coalesce(n.bad_files, 0) AS bad_files
        FROM alld a LEFT JOIN ssmd_days d USING (date) LEFT JOIN norm n USING (date)
        {clause.replace('date', 'a.date')} ORDER BY a.date"""
    return rows(catalog, sql, params)


def gaps(catalog: Catalog, date: str) -> list[dict[str, Any]]:
    return rows(catalog, """
        SELECT kind, channel, strftime(start_ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS start,
               strftime(end_ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS "end",
               round(epoch(end_ts) - epoch(start_ts), 3) AS seconds, sid, expected, received, cause,
               CAST(markets AS VARCHAR) AS markets
        FROM gaps_on(?)""", [date])


def quality(catalog: Catalog, date: str) -> dict[str, Any]:
    """Coverage per market, gaps, exchange-vs-receive skew and message counts by type."""
    day = rows(catalog, "SELECT status, quality_score, raw_records, gap_count, counts, gaps FROM ssmd_days "
                        "WHERE date = CAST(? AS DATE)", [date])
    parts = []
    for t, v in VIEWS.items():
        source = v if t != "orderbook" else (
            "(SELECT DISTINCT ticker, ts, received_at, sid, seq, date FROM orderbook)")  # one row per update
        parts.append(f"SELECT '{t}' AS type, ticker, ts, received_at FROM {source} WHERE date = CAST(? AS DATE)")
    union = " UNION ALL ".join(parts)
    params = [date] * len(VIEWS)
    counts = rows(catalog, f"SELECT type, count(*) AS messages FROM ({union}) GROUP BY type ORDER BY type", params)
    skew = rows(catalog, f"""
        SELECT type, round(quantile_cont(s, 0.5), 6) AS p50_seconds, round(quantile_cont(s, 0.99), 6) AS p99_seconds,
               round(max(s), 6) AS max_seconds
        FROM (SELECT type, epoch(received_at) - epoch(ts) AS s FROM ({union})) GROUP BY type ORDER BY type""", params)
    markets = rows(catalog, f"""
        SELECT ticker, count(*) AS messages,
               count(*) FILTER (WHERE type = 'trade') AS trades,
               count(*) FILTER (WHERE type = 'ticker') AS tickers,
               count(*) FILTER (WHERE type = 'orderbook') AS book_updates,
               strftime(min(ts), '%H:%M:%S') AS first, strftime(max(ts), '%H:%M:%S') AS last,
               count(DISTINCT date_trunc('minute', ts)) AS minutes_with_data
        FROM ({union}) GROUP BY ticker ORDER BY messages DESC, ticker""", params)
    info = day[0] if day else {}
    coverage = rows(catalog, "SELECT status, count(*) AS n FROM coverage WHERE date = ? GROUP BY ALL", [date])
    return {
        "date": date,
        "status": info.get("status", "no manifest"),
        "completeness": day_completeness(_gaps(info.get("gaps"))) if day else None,
        "coverage": {r["status"]: r["n"] for r in coverage},
        "quality_score": info.get("quality_score"),
        "raw_frames": info.get("raw_records", 0),
        "raw_counts": info.get("counts") or "{}",
        "gaps": info.get("gap_count", 0),
        "messages": {r["type"]: r["messages"] for r in counts},
        "skew": skew,
        "markets": markets,
    }


def _gaps(text: str | None) -> list[GapInfo]:
    return msgspec.json.decode(text or "[]", type=list[GapInfo])


def export_sql(source: str, record_type: str, symbols: list[str] | None, fmt: str,
               presorted: bool = False) -> tuple[str, list[Any]]:
    """The export query over one day's ``source``; a compacted day is already in
    (ticker, ts) order and is not re-sorted."""
    where, params = where_clause(None, symbols, None, None)
    select = "*"
    if fmt == "jsonl":  # exact decimals and RFC 3339 times as text
        cols = catalog_columns(record_type)
        select = ", ".join(_json_col(name, kind) for name, kind in cols)
    order = "" if presorted else " ORDER BY ticker, ts"
    return f"SELECT {select} FROM {source} {where}{order}", params


def is_compacted(catalog: Catalog, record_type: str, date: str) -> bool:
    names = catalog.con.execute("SELECT path FROM ssmd_files WHERE type = ? AND date = CAST(? AS DATE)",
                                [record_type, date]).fetchall()
    return len(names) == 1 and names[0][0].endswith("/compacted.parquet")


def catalog_columns(record_type: str) -> list[tuple[str, str]]:
    from ssmd.archive.columns import CONTRACT

    return [(name, str(kind)) for name, kind, _ in CONTRACT[record_type]]


def _json_col(name: str, kind: str) -> str:
    if kind.startswith("decimal"):
        return f"CAST({name} AS VARCHAR) AS {name}"
    if kind.startswith("timestamp"):
        return f"strftime({name}, '%Y-%m-%dT%H:%M:%S.%fZ') AS {name}"
    return name


def export(catalog: Catalog, record_type: str, date: str, symbols: list[str] | None, fmt: str, out: Path,
           progress: Callable[[float], None] | None = None) -> int:
    """COPY the rows to ``out`` (parquet, csv or jsonl); returns the row count. ``progress``
    gets DuckDB's completion percentage while the COPY runs."""
    options = {"parquet": "FORMAT parquet, COMPRESSION zstd", "csv": "FORMAT csv, HEADER true",
               "jsonl": "FORMAT json"}
    if fmt not in options:
        raise SsmdError(f"--format {fmt!r}: use parquet, csv or jsonl")
    if record_type not in VIEWS:
        raise SsmdError(f"--type {record_type!r}: use one of {', '.join(VIEWS)}")
    sql, params = export_sql(catalog.day_source(record_type, date), record_type, symbols, fmt,
                             is_compacted(catalog, record_type, date))
    out.parent.mkdir(parents=True, exist_ok=True)
    copy = f"COPY ({sql}) TO {duck.sql_literal(str(out))} ({options[fmt]})"
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["rows"] = catalog.con.execute(copy, params).fetchall()[0][0]
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
        if progress is not None and thread.is_alive():
            with_progress = catalog.con.query_progress()
            if with_progress >= 0:
                progress(float(with_progress))
    if "error" in result:
        raise catalog._error(result["error"])
    if progress is not None:
        progress(100.0)
    return int(result.get("rows", 0))
