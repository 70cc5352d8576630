"""``ssmd secmaster``: sync, list, show, search and export market metadata.

Every command uses the environment's backends (for ``kalshi-local`` the local cache file
under ``$SSMD_DATA_DIR``, so ``list`` sees what ``sync`` stored). ``sync`` starts the
built-in simulator in-process when the environment enables it.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from cyclopts import App, Parameter

from ssmd.cli.output import emit_json, table
from ssmd.errors import NotFoundError, SsmdError

if TYPE_CHECKING:
    from ssmd.config.model import Environment
    from ssmd.middleware.factory import Backends
    from ssmd.secmaster.model import SecMarket

app = App(name="secmaster", help="Market metadata: sync, list, show, search, export.")
T = TypeVar("T")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``24h``, ``2d``, ``1w`` (or plain seconds) → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise SsmdError(f"--expiring-within: {text!r} is not a duration (use e.g. 90s, 30m, 24h, 2d)")
    return float(match[1]) * _UNITS.get(match[2] or "s", 1)


def _run(env_name: str, body: Callable[[Environment, Any], Awaitable[T]]) -> T:
    from ssmd.config.load import load_environment

    env = load_environment(env_name)

    async def main() -> T:
        from ssmd.middleware.factory import open_backends

        backends = await open_backends(env)
        try:
            return await body(env, backends)
        finally:
            await backends.close()

    return asyncio.run(main())


async def _markets(env: Environment, backends: Backends) -> dict[str, SecMarket]:
    from ssmd.secmaster.store import MarketStore

    return await MarketStore(env.name, backends.cache).load()


def _rows(markets: list[SecMarket]) -> list[tuple[Any, ...]]:
    return [(m.ticker, m.status, m.category or None, m.close_time, m.title) for m in markets]


def _emit(markets: list[SecMarket], as_json: bool) -> None:
    from ssmd.secmaster.model import to_dict

    if as_json:
        emit_json([to_dict(m) for m in markets])
    else:
        table(("ticker", "status", "category", "close_time", "title"), _rows(markets))


class _Progress:
    """Sync progress on stderr: a bar redrawn on a terminal (sized by the last sync's total),
    a line per stage (and at most one a second) otherwise."""

    def __init__(self, expected: int = 0) -> None:
        self.tty = sys.stderr.isatty()
        self.expected = expected
        self.last = 0.0
        self.stage = ""

    def line(self, stage: str, count: int) -> str:
        if stage != "markets" or self.expected <= 0:
            return f"sync: {stage} {count:,}"
        done = min(1.0, count / self.expected)
        bar = "#" * int(done * 30)
        return f"sync: markets [{bar:<30}] {count:,}/~{self.expected:,}"

    def __call__(self, stage: str, count: int) -> None:
        now = time.monotonic()
        if self.tty:
            print(f"\r{self.line(stage, count)}\x1b[K", end="", file=sys.stderr, flush=True)
        elif stage != self.stage or now - self.last >= 1.0:
            print(self.line(stage, count), file=sys.stderr, flush=True)
            self.last = now
        self.stage = stage

    def done(self) -> None:
        if self.tty:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


@app.command
def sync(env: str, *, incremental: bool = False, json: Annotated[bool, Parameter(negative="")] = False) -> int:
    """Fetch markets, events and series from REST and store the changes.

    Parameters
    ----------
    env
        Environment name or path.
    incremental
        Only markets updated since the last sync (no removals).
    json
        Print the summary as JSON.
    """

    async def body(environment: Environment, backends: Backends) -> Any:
        from ssmd.secmaster.service import SecmasterService
        from ssmd.secmaster.store import MarketStore

        last = await MarketStore(environment.name, backends.cache).last_sync()
        progress = _Progress(int(last.get("total") or 0) if last else 0)
        async with _simulator(environment) as url:
            service = SecmasterService(environment, backends, base_url=url, progress=progress)
            try:
                return await service.sync(full=not incremental)
            finally:
                progress.done()
                await service.close()

    summary = _run(env, body)
    if json:
        import msgspec

        emit_json(msgspec.to_builtins(summary))
    else:
        print(f"total {summary.total}  added {summary.added}  updated {summary.updated}  "
              f"settled {summary.settled}  removed {summary.removed}  "
              f"({summary.requests} requests, {summary.seconds:.1f} s)")
    return 0


def _simulator(env: Environment) -> Any:
    """An async context giving the REST base URL: the in-process simulator's when enabled."""
    import contextlib

    from ssmd.simulator import ensure_running

    @contextlib.asynccontextmanager
    async def running() -> Any:
        async with ensure_running(env) as (_ws, rest):
            yield rest

    return running()


@app.command(name="list")
def list_(
    env: str,
    *,
    category: str | None = None,
    status: str | None = None,
    expiring_within: str | None = None,
    json: Annotated[bool, Parameter(negative="")] = False,
) -> int:
    """List stored markets, optionally by category, status or expiry.

    Parameters
    ----------
    env
        Environment name or path.
    category
        Series category, e.g. Crypto.
    status
        Market status (REST or WebSocket spelling: active, open, settled, finalized, ...).
    expiring_within
        Only markets expiring between now and now + this (e.g. 24h, 30m, 2d).
    json
        Print JSON.
    """
    window = parse_duration(expiring_within) if expiring_within else None
    if status is not None:
        from ssmd.secmaster.model import STATUSES, canonical_status

        if canonical_status(status) not in STATUSES:
            raise SsmdError(f"--status: unknown status {status!r} (one of {', '.join(STATUSES)}, "
                            "or open, paused, settled)")

    async def body(environment: Environment, backends: Backends) -> list[SecMarket]:
        from ssmd.secmaster.model import canonical_status
        from ssmd.secmaster.store import MarketStore

        store = MarketStore(environment.name, backends.cache)
        markets = await store.load()
        keep = set(markets)
        if category is not None:
            keep &= await store.tickers_in_category(category)
        if window is not None:
            now = time.time()
            keep &= {t for t, _ in await store.expiring_between(now, now + window)}
        wanted = canonical_status(status) if status else None
        return [markets[t] for t in sorted(keep) if wanted is None or markets[t].status == wanted]

    _emit(_run(env, body), json)
    return 0


@app.command
def show(env: str, ticker: str, *, json: Annotated[bool, Parameter(negative="")] = False) -> int:
    """Show one market.

    Parameters
    ----------
    env
        Environment name or path.
    ticker
        Market ticker.
    json
        Print JSON.
    """

    async def body(environment: Environment, backends: Backends) -> SecMarket:
        from ssmd.secmaster.store import MarketStore

        found = await MarketStore(environment.name, backends.cache).get(ticker)
        if found is None:
            raise NotFoundError(f"unknown market {ticker!r} in {environment.name} "
                                f"(run `ssmd secmaster sync {environment.name}` first?)")
        return found

    from ssmd.secmaster.model import to_dict

    fields = to_dict(_run(env, body))
    if json:
        emit_json(fields)
    else:
        width = max(len(k) for k in fields)
        for key, value in fields.items():
            print(f"{key.ljust(width)}  {'-' if value is None or value == '' else value}")
    return 0


@app.command
def search(env: str, text: str, *, json: Annotated[bool, Parameter(negative="")] = False) -> int:
    """Find markets whose ticker, title, subtitles, event or series contain TEXT (any case).

    Parameters
    ----------
    env
        Environment name or path.
    text
        Text to look for.
    json
        Print JSON.
    """

    needle = text.lower()

    def hit(m: SecMarket) -> bool:
        fields = (m.ticker, m.title, m.subtitle, m.yes_sub_title, m.no_sub_title, m.event_ticker,
                  m.event_title, m.series_ticker, m.category)
        return any(needle in f.lower() for f in fields if f)

    markets = _run(env, _markets)
    _emit([markets[t] for t in sorted(markets) if hit(markets[t])], json)
    return 0


@app.command
def export(env: str) -> int:
    """Write every stored market as one JSON array to stdout (``> markets.json``).

    Parameters
    ----------
    env
        Environment name or path.
    """
    from ssmd.secmaster.model import to_dict

    markets = _run(env, _markets)
    emit_json([to_dict(markets[t]) for t in sorted(markets)])
    return 0
