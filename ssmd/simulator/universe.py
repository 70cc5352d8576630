"""The simulated exchange's listings: series, events and markets, built from a seed.

Tickers follow Kalshi's conventions (``KXBTCD`` -> ``KXBTCD-26JUL2317`` ->
``KXBTCD-26JUL2317-T118999.99``), times are anchored on an epoch, statuses cover the
whole market lifecycle. Everything here is pure: the same seed, size and epoch give the
same universe.
"""

from __future__ import annotations

import bisect
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

S = 1_000_000_000

# (series, title, category, frequency, kind, strike base, strike step)
_TEMPLATES: tuple[tuple[str, str, str, str, str, float, float], ...] = (
    ("KXBTCD", "Bitcoin price today", "Crypto", "daily", "threshold", 118000.0, 250.0),
    ("KXETHD", "Ethereum price today", "Crypto", "daily", "threshold", 3600.0, 20.0),
    ("KXBTC15M", "Bitcoin price up or down in 15 minutes", "Crypto", "fifteen_min", "minute", 45.0, 1.0),
    ("KXBTC", "Bitcoin price range", "Crypto", "daily", "range", 118000.0, 250.0),
    ("KXNBAGAME", "Professional basketball game", "Sports", "custom", "game", 0.0, 0.0),
    ("KXCPIYOY", "CPI year-over-year", "Economics", "monthly", "threshold_pct", 2.8, 0.1),
    ("KXHIGHNY", "Highest temperature in NYC", "Climate and Weather", "daily", "range", 84.5, 2.0),
    ("KXPRESAPPROVAL", "Presidential approval rating", "Politics", "weekly", "threshold_pct", 41.0, 0.5),
)
_TEAMS = ("LAL", "BOS", "NYK", "GSW", "MIA", "DEN", "PHX", "CHI", "DAL", "MIL")
_STRUCTURES = ("linear_cent", "linear_cent", "tapered_deci_cent", "deci_cent")
# market status by index % 20: mostly trading, one of each other state
_STATUS = {14: "initialized", 15: "inactive", 16: "closed", 17: "determined", 18: "finalized"}


def time_code(ns: int, with_hour: bool = True, with_minute: bool = False) -> str:
    """``26JUL2317`` (yy MON dd HH) from ns; ``26JUL191145`` with minutes."""
    dt = datetime.fromtimestamp(ns / S, tz=UTC)
    code = f"{dt:%y}{dt.strftime('%b').upper()}{dt:%d}"
    if with_hour:
        code += f"{dt:%H}"
    if with_minute:
        code += f"{dt:%M}"
    return code


def price_ranges(structure: str) -> list[dict[str, str]]:
    if structure == "deci_cent":
        return [{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]
    if structure == "tapered_deci_cent":
        return [
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ]
    return [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]


@dataclass
class Series:
    ticker: str
    title: str
    category: str
    frequency: str
    kind: str
    strike_base: float
    strike_step: float
    updated_ns: int = 0


@dataclass
class Event:
    ticker: str
    series: str
    title: str
    sub_title: str
    strike_ns: int | None
    mutually_exclusive: bool
    updated_ns: int = 0
    fee_type_override: str | None = None
    fee_multiplier_override: float | None = None


@dataclass
class Market:
    ticker: str
    event: str
    series: str
    market_id: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    created_ns: int
    open_ns: int
    close_ns: int
    status: str
    structure: str = "linear_cent"
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    result: str = ""
    settlement_value: int | None = None
    """1e-4 dollars, once determined."""
    determined_ns: int | None = None
    settled_ns: int | None = None
    updated_ns: int = 0
    mve: bool = False
    fair: int = 5000
    """The price the simulated traders gravitate to, 1e-4 dollars."""
    rest_overrides: dict[str, Any] = field(default_factory=dict)
    """REST fields served as given instead of their normal value (odd types, for tests)."""

    @property
    def tick(self) -> int:
        return 10 if self.structure == "deci_cent" else 100


@dataclass
class Universe:
    epoch_ns: int
    series: dict[str, Series] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    sorted_tickers: list[str] = field(default_factory=list)
    sorted_events: list[str] = field(default_factory=list)

    def add_market(self, market: Market) -> None:
        self.markets[market.ticker] = market
        bisect.insort(self.sorted_tickers, market.ticker)

    def add_event(self, event: Event) -> None:
        self.events[event.ticker] = event
        bisect.insort(self.sorted_events, event.ticker)

    def event_markets(self, event_ticker: str) -> list[Market]:
        return [m for m in self.markets.values() if m.event == event_ticker]


class UniverseBuilder:
    """Creates series, events and markets with a seeded random generator."""

    def __init__(self, seed: int, epoch_ns: int) -> None:
        self.rng = random.Random(seed)
        self.universe = Universe(epoch_ns=epoch_ns)
        self._event_count = 0
        for t in _TEMPLATES:
            self.universe.series[t[0]] = Series(*t, updated_ns=epoch_ns - 30 * 86400 * S)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def build(self, markets: int, mve_markets: int = 0) -> Universe:
        index = 0
        while index < markets:
            series = _TEMPLATES[self._event_count % len(_TEMPLATES)][0]
            status_of = [_STATUS.get(i % 20, "active") for i in range(index, markets)]
            made = self.new_event(series, self.universe.epoch_ns, status_of)
            index += len(made)
        for i in range(mve_markets):
            self._mve_market(i)
        return self.universe

    def new_event(self, series_ticker: str, now_ns: int, statuses: list[str] | None = None,
                  close_ns: int | None = None) -> list[Market]:
        """A new event of a series with 1-6 markets; ``statuses`` (one per market, may be
        longer) places it in the past (closed/settled) or the future (initialized);
        ``close_ns`` fixes its close time (settled past markets of the simulated history)."""
        forced_close = close_ns
        series = self.universe.series[series_ticker]
        rng = self.rng
        n = 2 if series.kind == "game" else rng.randint(1, 6)
        if statuses is not None:
            status = statuses[0]
            run = next((i for i, st in enumerate(statuses) if st != status), len(statuses))
            n = min(n, run)  # one event's markets share their times, so their status
        else:
            status = "initialized"
        self._event_count += 1
        if status in ("closed", "determined", "finalized"):
            close_ns = now_ns - rng.randint(1, 48) * 3600 * S
        elif series.kind == "minute":
            close_ns = now_ns + rng.randint(1, 4) * 900 * S
        else:
            close_ns = now_ns + rng.randint(1, 72) * 3600 * S
        close_ns -= close_ns % (900 * S if series.kind == "minute" else 3600 * S)
        if forced_close is not None:
            close_ns = forced_close
        open_ns = close_ns - (900 * S if series.kind == "minute" else 24 * 3600 * S)
        if status == "initialized":
            open_ns = now_ns + rng.randint(1, 10) * 60 * S
            close_ns = max(close_ns, open_ns + 3600 * S)
        elif status in ("active", "inactive"):
            open_ns = min(open_ns, now_ns - 60 * S)
        code = time_code(close_ns, with_hour=series.frequency in ("daily", "fifteen_min"),
                         with_minute=series.kind == "minute")
        if series.kind == "game":
            a, b = rng.sample(_TEAMS, 2)
            code = time_code(close_ns, with_hour=False) + a + b
        event_ticker = f"{series_ticker}-{code}"
        while event_ticker in self.universe.events:
            event_ticker += "X"
        dt = datetime.fromtimestamp(close_ns / S, tz=UTC)
        event = Event(
            ticker=event_ticker, series=series_ticker,
            title=f"{series.title} on {dt:%b %d, %Y}?" if series.kind != "game" else f"{a} at {b}",
            sub_title=f"{dt:%b %d, %H:%M} UTC", strike_ns=close_ns if series.kind != "game" else None,
            mutually_exclusive=series.kind in ("range", "game"), updated_ns=now_ns - 3600 * S,
        )
        self.universe.add_event(event)
        made = []
        for i in range(n):
            st = statuses[i] if statuses is not None else status
            made.append(self._market(event, series, i, n, st, open_ns, close_ns, now_ns, a_b=code[-6:]))
        return made

    def _market(self, event: Event, series: Series, i: int, n: int, status: str,
                open_ns: int, close_ns: int, now_ns: int, a_b: str) -> Market:
        rng = self.rng
        strike_type: str | None = "greater"
        floor: float | None = None
        cap: float | None = None
        if series.kind == "threshold":
            floor = series.strike_base + series.strike_step * (i - n // 2) - 0.01
            suffix = f"T{floor:.2f}"
            sub = f"${floor + 0.01:,.0f} or above"
        elif series.kind == "threshold_pct":
            floor = round(series.strike_base + series.strike_step * i, 1)
            suffix = f"T{floor}"
            sub = f"Above {floor}%"
        elif series.kind == "range":
            floor = series.strike_base + series.strike_step * (i - n // 2)
            cap = floor + series.strike_step - 0.01
            strike_type = "between"
            mid = floor + series.strike_step / 2
            suffix = f"B{mid:g}"
            sub = f"{floor:,.2f} to {cap:,.2f}"
        elif series.kind == "minute":
            floor = series.strike_base + i
            suffix = f"{int(floor)}"
            sub = f"Target {int(floor)}"
        else:
            team = a_b[-6:-3] if i == 0 else a_b[-3:]
            strike_type = None
            suffix = team
            sub = team
        ticker = f"{event.ticker}-{suffix}"
        while ticker in self.universe.markets:
            ticker += "A"
        created = min(open_ns, now_ns) - rng.randint(1, 24) * 3600 * S
        fair = max(300, min(9700, 5000 + int(rng.gauss(0, 2500))))
        market = Market(
            ticker=ticker, event=event.ticker, series=series.ticker, market_id=self.uuid(),
            title=f"{series.title}: {sub}?", yes_sub_title=sub, no_sub_title=sub,
            created_ns=created, open_ns=open_ns, close_ns=close_ns, status=status,
            structure=rng.choice(_STRUCTURES), strike_type=strike_type, floor_strike=floor,
            cap_strike=cap, updated_ns=created, fair=fair - fair % 10,
        )
        if status in ("determined", "finalized"):
            market.result = "yes" if rng.random() < 0.5 else "no"
            market.settlement_value = 10000 if market.result == "yes" else 0
            settle_after = 3600 * S if close_ns + 3600 * S <= now_ns else max(2 * S, (now_ns - close_ns) // 2)
            market.determined_ns = close_ns + min(300 * S, settle_after // 2)
            if status == "finalized":
                market.settled_ns = close_ns + settle_after
        self.universe.add_market(market)
        return market

    def _mve_market(self, i: int) -> None:
        epoch = self.universe.epoch_ns
        ticker = f"KXMVECROSSCATEGORY-S{time_code(epoch, with_hour=False)}{i:04d}"
        if "KXMVECROSSCATEGORY" not in self.universe.series:
            self.universe.series["KXMVECROSSCATEGORY"] = Series(
                "KXMVECROSSCATEGORY", "Cross-category combos", "Sports", "custom", "combo", 0.0, 0.0, epoch)
        event = Event(ticker, "KXMVECROSSCATEGORY", "Combo", "", None, False, epoch)
        self.universe.add_event(event)
        self.universe.add_market(Market(
            ticker=f"{ticker}-{self.uuid()[:8].upper()}", event=ticker, series="KXMVECROSSCATEGORY",
            market_id=self.uuid(), title="Combo", yes_sub_title="", no_sub_title="",
            created_ns=epoch - 3600 * S, open_ns=epoch - 3600 * S, close_ns=epoch + 86400 * S,
            status="active", mve=True, updated_ns=epoch - 3600 * S))
