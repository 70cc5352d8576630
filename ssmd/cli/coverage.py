"""``ssmd data coverage``: the day's coverage certificate, per market and hour."""

from __future__ import annotations

from typing import Any

from ssmd.cli.output import emit_json, table
from ssmd.errors import SsmdError

_MARK = {"present": "P", "healed": "H", "degraded": "D", "absent": "."}
_STATUSES = tuple(_MARK)


def coverage(*, date: str, env: str = "kalshi-local", symbol: str | None = None, status: str | None = None,
             whole_day: bool = False, json: bool = False) -> int:
    """Coverage of a day per market and UTC hour: present, healed, degraded or absent.

    Writes ``coverage.parquet`` beside the day's manifest (the ``coverage`` view in
    ``ssmd sql``) and prints one line per market with an hour strip (P present, H healed,
    D degraded, . absent). Exit code 3 when any hour is degraded.

    Parameters
    ----------
    date
        Trading day, YYYY-MM-DD.
    env
        Environment name or file.
    symbol
        Only these market tickers, comma-separated.
    status
        Only markets with an hour in these states, comma-separated (e.g. degraded,healed).
    whole_day
        Every hour of the trading day up to now, not only the hours recording spans.
    json
        Print JSON (the day's verdict, counts and every row).
    """
    from ssmd.catalog import open_catalog
    from ssmd.catalog.catalog import run_sync
    from ssmd.catalog.coverage import day_coverage, write_coverage
    from ssmd.cli.data import _check_date, _split

    day = _check_date(date)
    wanted = set(_split(status) or ())
    if unknown := wanted - set(_STATUSES):
        raise SsmdError(f"--status {','.join(sorted(unknown))}: use {', '.join(_STATUSES)}")
    with open_catalog(env) as catalog:
        result = run_sync(day_coverage(catalog, day, whole_day=whole_day))
        path = run_sync(write_coverage(catalog, result))
    symbols = set(_split(symbol) or ())
    rows = [r for r in result.rows if not symbols or r.ticker in symbols]
    by_market: dict[str, list[Any]] = {}
    for row in rows:
        by_market.setdefault(row.ticker, []).append(row)
    if wanted:
        by_market = {t: rs for t, rs in by_market.items() if any(r.status in wanted for r in rs)}
    if json:
        emit_json({"date": day, "completeness": result.completeness, "counts": result.counts(), "file": path,
                   "rows": [r for rs in by_market.values() for r in rs]})
    else:
        counts = result.counts()
        print(f"date {day}  completeness {result.completeness}  market-hours: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if by_market:
            table(("ticker", "hours", "present", "healed", "degraded", "absent", "ws trades", "rest trades"),
                  [(t, "".join(_MARK[r.status] for r in rs), *(sum(r.status == s for r in rs) for s in _STATUSES),
                    sum(r.ws_trades for r in rs), sum(r.rest_trades for r in rs)) for t, rs in by_market.items()])
            gaps = sorted({g for rs in by_market.values() for r in rs for g in r.gaps})
            if gaps:
                print("\ngaps:")
                for gap in gaps:
                    print(f"  {gap}")
        print(f"\nwritten to {path}")
    return 3 if result.counts()["degraded"] else 0
