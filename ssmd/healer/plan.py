"""Which gaps the healer fills, over which window, and which fetched trades are missing (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from ssmd.config.model import HealerConfig
from ssmd.records import Trade
from ssmd.status import GapInfo

HEALED_CHANNELS = frozenset({"trade"})
"""Channels whose history REST serves exactly; the others carry state that a snapshot restores."""
METHOD = "rest:/markets/trades"
_S = 1_000_000_000


def needs_heal(gap: GapInfo) -> bool:
    """A closed trade-channel gap nobody has healed yet."""
    return gap.channel in HEALED_CHANNELS and gap.end_ns is not None and gap.healed is None


def window(gap: GapInfo, config: HealerConfig) -> tuple[int, int]:
    """The exchange-time span (ns, inclusive) whose trades may be missing.

    A seq hole is seen when the frame after it arrives, so its span reaches back
    ``lookback_seconds``; every span is widened by ``margin_seconds`` on both sides."""
    margin = int(config.margin_seconds * _S)
    start = gap.start_ns - margin
    if gap.kind == "seq":
        start -= int(config.lookback_seconds * _S)
    end = (gap.end_ns if gap.end_ns is not None else gap.start_ns) + margin
    return start, end


def rest_bounds(start_ns: int, end_ns: int) -> tuple[int, int]:
    """``min_ts``/``max_ts`` (Unix seconds, inclusive) covering a ns span."""
    return start_ns // _S, -(-end_ns // _S)


def missing(fetched: Iterable[Trade], archived: set[str], start_ns: int, end_ns: int) -> list[Trade]:
    """Fetched trades inside the span that the archive does not hold, once each, oldest first."""
    out: dict[str, Trade] = {}
    for trade in fetched:
        if start_ns <= trade.ts <= end_ns and trade.trade_id not in archived:
            out.setdefault(trade.trade_id, trade)
    return sorted(out.values(), key=lambda t: (t.ts, t.trade_id))
