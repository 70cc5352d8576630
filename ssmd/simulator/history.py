"""The simulated exchange's past: settled markets and trades before the simulator started.

``build_history`` runs once, before any live trade, and is deterministic from the seed:
it adds ``past_events`` markets that closed and settled during the last ``hours`` (half
of them before the historical cutoff, so only ``/historical/markets`` serves those) and
spreads about ``trades`` trades over every market that was open in that span, the live
ones included. Trades are put on the tape in time order; a live market's book takes the
volume and last price of its past trades. Its own random generators leave the live
stream exactly as it is without history.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping

import msgspec

from ssmd.simulator.book import ONE, SimBook
from ssmd.simulator.tape import TapeTrade, TradeTape
from ssmd.simulator.universe import Market, S, UniverseBuilder

MAX_TRADES = 1_000_000
_SIZES = (1, 2, 5, 10, 10, 25, 50, 100, 250)


class HistorySpec(msgspec.Struct, kw_only=True):
    """What past to simulate (see ``SimSettings`` for each field's meaning)."""

    hours: float = 0.0
    live_window_hours: float = 2160.0
    past_events: int = 8
    trades: int = 20_000


def build_history(builder: UniverseBuilder, books: Mapping[str, SimBook], tape: TradeTape,
                  spec: HistorySpec, seed: int, now_ns: int) -> list[Market]:
    """Add the past to the universe and the tape; returns the past markets it created."""
    if spec.trades > MAX_TRADES:
        raise ValueError(f"history trades {spec.trades} is above the maximum {MAX_TRADES}")
    start_ns = now_ns - int(spec.hours * 3600 * S)
    cutoff_ns = (now_ns - int(spec.live_window_hours * 3600 * S)) // S * S  # as the engine's
    rng = random.Random(seed ^ 0x4157)
    past = _past_events(builder, rng, spec.past_events, start_ns, cutoff_ns, now_ns)
    end_ns = now_ns - 1_000_000  # strictly before the first live trade
    spans: list[tuple[Market, int, int]] = []
    for m in builder.universe.markets.values():
        if m.mve:
            continue
        lo, hi = max(m.open_ns, start_ns), min(m.close_ns, end_ns)
        if hi > lo:
            spans.append((m, lo, hi))
    total = sum(hi - lo for _, lo, hi in spans)
    trades: list[TapeTrade] = []
    for m, lo, hi in spans:
        n = spec.trades * (hi - lo) // total if total else 0
        trades.extend(_walk(m, lo, hi, n, rng))
    trades.sort(key=lambda t: t.created_ns)
    for t in trades:
        tape.append(t)
        book = books.get(t.ticker)
        if book is not None:
            book.last_price, book.last_size = t.yes_price, t.count
            book.volume += t.count
            book.dollar_volume += t.yes_price * t.count
    return past


def _past_events(builder: UniverseBuilder, rng: random.Random, count: int, start_ns: int,
                  cutoff_ns: int, now_ns: int) -> list[Market]:
    """Events that closed in [start, now), evenly spread: when the cutoff is inside that
    span, the first half close and settle before it, the rest close after it."""
    names = [s for s in builder.universe.series if not s.startswith("KXMVE")]
    split = start_ns < cutoff_ns < now_ns
    old_count = (count + 1) // 2 if split else 0
    groups = [(0, old_count, start_ns, cutoff_ns), (old_count, count, cutoff_ns if split else start_ns, now_ns)]
    saved, builder.rng = builder.rng, rng
    made: list[Market] = []
    try:
        for first, stop, lo, hi in groups:
            size = stop - first
            for i in range(size):
                close_ns = lo + (hi - lo) * (i + 1) // (size + 1)
                close_ns -= close_ns % S
                k = first + i
                markets = builder.new_event(names[k % len(names)], now_ns, ["finalized"] * 6, close_ns=close_ns)
                for m in markets:
                    if split and k < old_count and m.settled_ns is not None and m.settled_ns >= cutoff_ns:
                        m.settled_ns = cutoff_ns - 1_000_000  # this half is wholly historical
                        m.determined_ns = min(m.determined_ns or close_ns, m.settled_ns)
                made.extend(markets)
    finally:
        builder.rng = saved
    return made


def _walk(m: Market, lo: int, hi: int, n: int, rng: random.Random) -> list[TapeTrade]:
    """``n`` trades of one market in [lo, hi) at whole milliseconds: the yes price wanders
    around a target that moves from the fair price to the settlement price (if any)."""
    if n <= 0:
        return []
    tick = m.tick
    settle = m.settlement_value if m.settlement_value is not None else m.fair
    times = sorted(rng.randrange(lo // 1_000_000, hi // 1_000_000) for _ in range(n))
    price = m.fair
    out = []
    for i, ms in enumerate(times):
        target = m.fair + (settle - m.fair) * (i + 1) // n
        pull = round((target - price) / (8 * tick)) * tick
        price = max(tick, min(ONE - tick, price + pull + tick * rng.choice((-1, 0, 0, 1))))
        size = rng.choice(_SIZES) * 100 + (rng.randint(1, 99) if rng.random() < 0.15 else 0)
        out.append(TapeTrade(str(uuid.UUID(int=rng.getrandbits(128), version=4)), m.ticker, price, size,
                             "yes" if rng.random() < 0.5 else "no", ms * 1_000_000, rng.random() < 0.02))
    return out
