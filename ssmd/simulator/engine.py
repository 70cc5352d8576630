"""Market activity and lifecycle of the simulated exchange (pure; time passed in).

``generate(n, now_ns)`` yields about n data messages of order-book changes, trades and
ticker updates for the trading markets; the lifecycle methods change a market's state and
return the ``market_lifecycle_v2`` channel messages Kalshi would send. Opening and closing
by time emit nothing (as on Kalshi): ``advance(now_ns)`` just moves the statuses.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from ssmd.fixed import format_price
from ssmd.simulator import frames
from ssmd.simulator.book import ONE, SimBook
from ssmd.simulator.history import HistorySpec, build_history
from ssmd.simulator.tape import DEFAULT_LIMIT, TapeTrade, TradeTape
from ssmd.simulator.universe import Market, S, Universe, UniverseBuilder, price_ranges

LIFECYCLE = "market_lifecycle_v2"


class Event:
    """One data message before it is addressed to a subscription."""

    __slots__ = ("body", "channel", "delta", "price", "side", "ticker", "type")

    def __init__(self, channel: str, type_: str, ticker: str, body: bytes,
                 side: str = "", price: int = 0, delta: int = 0) -> None:
        self.channel = channel
        self.type = type_
        self.ticker = ticker
        self.body = body
        self.side = side
        self.price = price
        self.delta = delta


class MarketEngine:
    def __init__(self, seed: int, markets: int, epoch_ns: int, mve_markets: int = 0,
                 legacy_ticker: bool = False, *, history: HistorySpec | None = None,
                 trade_history: int = DEFAULT_LIMIT) -> None:
        self.builder = UniverseBuilder(seed, epoch_ns)
        self.universe: Universe = self.builder.build(markets, mve_markets)
        self.rng = random.Random(seed ^ 0x5EED)
        self.books = {t: SimBook(m, self.rng) for t, m in self.universe.markets.items() if not m.mve}
        self.tape = TradeTape(trade_history)
        """Every trade made, delivered to a client or not (REST serves it)."""
        spec = history or HistorySpec()
        self.cutoff_ns = (epoch_ns - int(spec.live_window_hours * 3600 * S)) // S * S
        """Historical cutoff (whole seconds): older trades and markets settled before it are
        served by the /historical endpoints only."""
        if spec.hours > 0:
            build_history(self.builder, self.books, self.tape, spec, seed, epoch_ns)
        self.legacy_ticker = legacy_ticker
        self.bad_numbers = 0
        """Trades still to send with a malformed numeric string (fault injection)."""
        self._trading: list[SimBook] | None = None
        self._next_change = 0
        self._step = 0

    # -- time --------------------------------------------------------------------------
    def advance(self, now_ns: int) -> None:
        """Open markets whose open time passed and close those whose close time passed."""
        if now_ns < self._next_change:
            return
        nxt = now_ns + 3600 * S
        for m in self.universe.markets.values():
            if m.status == "initialized":
                if m.open_ns <= now_ns:
                    m.status = "active"
                    self._trading = None
                else:
                    nxt = min(nxt, m.open_ns)
            if m.status in ("active", "inactive"):
                if m.close_ns <= now_ns:
                    m.status = "closed"
                    self._trading = None
                else:
                    nxt = min(nxt, m.close_ns)
        self._next_change = nxt

    def reschedule(self, now_ns: int) -> None:
        """Re-check every market's open/close time now (after a time was changed)."""
        self._next_change = 0
        self.advance(now_ns)

    def trading(self) -> list[SimBook]:
        if self._trading is None:
            self._trading = [b for b in self.books.values() if b.market.status == "active"]
        return self._trading

    # -- data --------------------------------------------------------------------------
    def generate(self, n: int, now_ns: int) -> list[Event]:
        """About ``n`` data messages (order-book deltas, trades, tickers)."""
        out: list[Event] = []
        books = self.trading()
        if not books:
            return out
        rng = self.rng
        ts_ms = max(now_ns, self.tape.last_ns) // 1_000_000  # the tape never goes back in time
        while len(out) < n:
            book = books[rng.randrange(len(books))]
            m = book.market
            before = book.top()
            if rng.random() < 0.7:
                change = book.change(rng)
                if change is None:
                    continue
                side, price, delta = change
                out.append(Event("orderbook_delta", "orderbook_delta", m.ticker,
                                 frames.delta_msg(m, side, price, delta, ts_ms), side, price, delta))
            else:
                done = book.trade(rng)
                if done is None:
                    continue
                side, price, count, taker = done
                bad = self.bad_numbers > 0
                self.bad_numbers -= bad
                trade_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                block = rng.random() < 0.02
                self.tape.append(TapeTrade(trade_id, m.ticker, book.last_price or 0, count, taker,
                                           ts_ms * 1_000_000, block))
                out.append(Event("trade", "trade", m.ticker, frames.trade_msg(
                    trade_id, m.ticker, book.last_price or 0, count, taker, ts_ms,
                    block=block, bad_number=bad)))
                out.append(Event("orderbook_delta", "orderbook_delta", m.ticker,
                                 frames.delta_msg(m, side, price, -count, ts_ms), side, price, -count))
                before = (-1, 0, 0, 0)
            if book.top() != before:
                out.append(Event("ticker", "ticker", m.ticker, self.ticker_body(book, ts_ms)))
        return out

    def ticker_body(self, book: SimBook, ts_ms: int) -> bytes:
        return frames.ticker_msg(book, ts_ms, self.legacy_ticker)

    def market(self, ticker: str) -> Market:
        return self.universe.markets[ticker]

    # -- lifecycle ---------------------------------------------------------------------
    def _life(self, ticker: str, event_type: str, **fields: Any) -> Event:
        self._trading = None
        return Event(LIFECYCLE, LIFECYCLE, ticker, frames.lifecycle_msg(ticker, event_type, **fields))

    def create_event(self, now_ns: int, series: str | None = None) -> list[Event]:
        """A new event (``event_lifecycle``) and its markets (``created`` each), opening soon."""
        if series is None:
            names = [s for s in self.universe.series if not s.startswith("KXMVE")]
            series = names[self.rng.randrange(len(names))]
        markets = self.builder.new_event(series, now_ns)
        ev = self.universe.events[markets[0].event]
        out = [Event(LIFECYCLE, "event_lifecycle", ev.ticker, frames.encode({
            "event_ticker": ev.ticker, "exchange_index": 0, "title": ev.title, "subtitle": ev.sub_title,
            "collateral_return_type": "MECNET" if ev.mutually_exclusive else "",
            "series_ticker": ev.series, "strike_date": (ev.strike_ns or now_ns) // S,
        }))]
        for m in markets:
            m.created_ns = m.updated_ns = now_ns
            self.books[m.ticker] = SimBook(m, self.rng)
            out.append(Event(LIFECYCLE, LIFECYCLE, m.ticker,
                             frames.created_msg(m, (m.close_ns + 300 * S) // S)))
        self._next_change = 0
        return out

    def deactivate(self, ticker: str, now_ns: int) -> list[Event]:
        m = self.market(ticker)
        m.status, m.updated_ns = "inactive", now_ns
        return [self._life(ticker, "deactivated", is_deactivated=True)]

    def activate(self, ticker: str, now_ns: int) -> list[Event]:
        m = self.market(ticker)
        m.status = "active" if m.close_ns > now_ns and m.open_ns <= now_ns else m.status
        m.updated_ns = now_ns
        return [self._life(ticker, "activated", is_deactivated=False)]

    def update_close(self, ticker: str, close_ns: int, now_ns: int) -> list[Event]:
        m = self.market(ticker)
        m.close_ns, m.updated_ns = close_ns, now_ns
        if m.status == "closed" and close_ns > now_ns:
            m.status = "active" if m.open_ns <= now_ns else "initialized"
        self._next_change = 0
        return [self._life(ticker, "close_date_updated", close_ts=close_ns // S)]

    def determine(self, ticker: str, now_ns: int, result: str | None = None) -> list[Event]:
        m = self.market(ticker)
        if result is None:
            result = "yes" if self.rng.random() < 0.5 else "no"
        m.status, m.result, m.updated_ns = "determined", result, now_ns
        m.settlement_value = ONE if result == "yes" else 0
        m.determined_ns = now_ns
        return [self._life(ticker, "determined", determination_ts=now_ns // S, result=result,
                           settlement_value=format_price(m.settlement_value))]

    def settle(self, ticker: str, now_ns: int) -> list[Event]:
        m = self.market(ticker)
        m.status, m.settled_ns, m.updated_ns = "finalized", now_ns, now_ns
        return [self._life(ticker, "settled", settled_ts=now_ns // S)]

    def update_metadata(self, ticker: str, now_ns: int) -> list[Event]:
        m = self.market(ticker)
        m.updated_ns = now_ns
        m.yes_sub_title = m.yes_sub_title.rstrip(" *") + " *"
        fields: dict[str, Any] = {"yes_sub_title": m.yes_sub_title}
        if m.strike_type is not None:
            fields["strike_type"] = m.strike_type
        if m.floor_strike is not None:
            fields["floor_strike"] = m.floor_strike
        if m.cap_strike is not None:
            fields["cap_strike"] = m.cap_strike
        return [self._life(ticker, "metadata_updated", **fields)]

    def update_price_structure(self, ticker: str, structure: str, now_ns: int) -> list[Event]:
        m = self.market(ticker)
        m.structure, m.updated_ns = structure, now_ns
        return [self._life(ticker, "price_level_structure_updated", price_level_structure=structure,
                           price_ranges=price_ranges(structure))]

    def update_event_fee(self, event_ticker: str, fee_type: str | None, multiplier: float | None,
                         now_ns: int) -> list[Event]:
        ev = self.universe.events[event_ticker]
        ev.fee_type_override, ev.fee_multiplier_override, ev.updated_ns = fee_type, multiplier, now_ns
        return [Event(LIFECYCLE, "event_fee_update", event_ticker, frames.encode({
            "event_ticker": event_ticker, "fee_type_override": fee_type,
            "fee_multiplier_override": multiplier}))]

    def lifecycle_step(self, now_ns: int) -> list[Event]:
        """The next scripted lifecycle change (a deterministic rotation of event types)."""
        self.advance(now_ns)
        self._step += 1
        kind = self._step % 7
        ms = [m for m in self.universe.markets.values() if not m.mve]
        pick = self.rng.choice
        if kind == 1:
            return self.create_event(now_ns)
        if kind == 2 and (active := [m for m in ms if m.status == "active"]):
            return self.deactivate(pick(active).ticker, now_ns)
        if kind == 3 and (paused := [m for m in ms if m.status == "inactive"]):
            return self.activate(pick(paused).ticker, now_ns)
        if kind == 4 and (closed := [m for m in ms if m.status == "closed"]):
            return self.determine(pick(closed).ticker, now_ns)
        if kind == 5 and (done := [m for m in ms if m.status == "determined"]):
            return self.settle(pick(done).ticker, now_ns)
        if kind == 6 and (live := [m for m in ms if m.status in ("active", "initialized")]):
            m = pick(live)
            return self.update_close(m.ticker, m.close_ns + 3600 * S, now_ns)
        event = pick(sorted(self.universe.events))
        return self.update_event_fee(event, pick(("quadratic", "quadratic_with_maker_fees", None)),
                                     pick((0.5, 1.0, None)), now_ns)
