"""Rates and sparkline series from successive status snapshots (pure)."""

from __future__ import annotations

from collections import deque


class RateTracker:
    """Keeps the last ``window`` per-second rates of each counter.

    Feed it ``(ts_seconds, {key: count})`` samples; counters are monotonic, a drop (a
    restart) starts the key over rather than producing a negative rate.
    """

    def __init__(self, window: int = 60) -> None:
        self.window = window
        self._last: dict[str, tuple[float, int]] = {}
        self._series: dict[str, deque[float]] = {}

    def add(self, ts: float, counters: dict[str, int]) -> None:
        for key, count in counters.items():
            previous = self._last.get(key)
            self._last[key] = (ts, count)
            if previous is None:
                continue
            elapsed = ts - previous[0]
            if elapsed <= 0:
                continue
            rate = max(0.0, (count - previous[1]) / elapsed) if count >= previous[1] else 0.0
            self._series.setdefault(key, deque(maxlen=self.window)).append(rate)

    def rate(self, key: str) -> float:
        series = self._series.get(key)
        return series[-1] if series else 0.0

    def series(self, key: str) -> list[float]:
        return list(self._series.get(key, ()))

    def names(self) -> list[str]:
        return sorted(self._series)


def format_rate(rate: float) -> str:
    if rate >= 10_000:
        return f"{rate / 1000:.0f}k/s"
    if rate >= 1000:
        return f"{rate / 1000:.1f}k/s"
    return f"{rate:.0f}/s" if rate >= 10 else f"{rate:.1f}/s"


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
