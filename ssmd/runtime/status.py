"""Assemble the one ``SystemStatus`` from the supervisor, the day and the components.

Rates a component does not report itself are derived here from its counters over the
last few seconds (``RateMeter``). ``day_stats`` is the running day's headline numbers
(messages received, records, gaps) saved with the day and shown by ``ssmd day status``.
"""

from __future__ import annotations

from collections import deque
from datetime import date
from typing import Any

import msgspec

from ssmd import __version__
from ssmd.calendar import day_bounds
from ssmd.clock import Clock
from ssmd.config.model import Schedule
from ssmd.day.state import DayRecord
from ssmd.status import ClientInfo, ComponentStatus, DayInfo, GapInfo, SystemStatus

NOT_MESSAGES = frozenset({"published", "dead_letters", "duplicates", "discarded", "subscribed", "unsubscribed",
                          "ok", "error", "list_subscriptions"})
"""Connector counters that are not market-data messages received."""


class RateMeter:
    """Per-second rates from successive counter samples over ``window`` seconds.

    Only increases count: a counter that goes down between two samples (a component
    restarted, or a per-client total lost a client that left) adds nothing for that
    step, so a rate is never negative."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._samples: dict[str, deque[tuple[float, dict[str, int]]]] = {}

    def rates(self, name: str, counters: dict[str, int], now: float) -> dict[str, float]:
        samples = self._samples.setdefault(name, deque())
        if not samples or now > samples[-1][0]:
            samples.append((now, dict(counters)))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        t0, t1 = samples[0][0], samples[-1][0]
        if t1 <= t0:
            return {}
        return {k: round(_increase(samples, k) / (t1 - t0), 3) for k in samples[-1][1]}


def _increase(samples: deque[tuple[float, dict[str, int]]], key: str) -> int:
    """How much ``key`` went up over ``samples``, summing only the steps up (a key missing
    from a sample counts as 0)."""
    total = 0
    previous: int | None = None
    for _, counters in samples:
        value = counters.get(key, 0)
        if previous is not None and value > previous:
            total += value - previous
        previous = value
    return total


def day_info(record: DayRecord | None, schedule: Schedule | None = None) -> DayInfo:
    if record is None:
        return DayInfo()
    info = DayInfo(date=record.date, state=str(record.state), since=record.since, step=record.step,
                   error=record.error)
    if schedule is not None:
        start, end = day_bounds(schedule, date.fromisoformat(record.date))
        info.starts_at, info.ends_at = int(start.timestamp() * 1e9), int(end.timestamp() * 1e9)
    return info


def gaps_of(components: list[ComponentStatus]) -> list[GapInfo]:
    out: list[GapInfo] = []
    for status in components:
        gaps = status.details.get("gaps")
        for gap in (gaps.get("recent") if isinstance(gaps, dict) else None) or []:
            try:
                out.append(msgspec.convert(gap, GapInfo))
            except msgspec.ValidationError:
                continue
    return out


def day_stats(components: list[ComponentStatus]) -> dict[str, Any]:
    """Headline counts of the running day from the connector and archiver."""
    stats: dict[str, Any] = {}
    for status in components:
        if status.name == "connector":
            received = {k: v for k, v in status.counters.items() if "." not in k and k not in NOT_MESSAGES}
            stats["messages"] = sum(received.values())
            stats["by_type"] = received
            stats["records"] = sum(v for k, v in status.counters.items() if k.startswith("records."))
            gaps = status.details.get("gaps")
            stats["gaps"] = gaps.get("total", 0) if isinstance(gaps, dict) else 0
            stats["lag_seconds"] = status.lag_seconds
        elif status.name == "archiver":
            stats["archived"] = sum(status.counters.values())
    return stats


def build_status(
    env: str,
    *,
    components: list[ComponentStatus],
    day: DayRecord | None,
    clock: Clock,
    meter: RateMeter | None = None,
    clients: list[ClientInfo] | None = None,
    endpoints: dict[str, str] | None = None,
    schedule: Schedule | None = None,
) -> SystemStatus:
    now = clock.monotonic()
    out = []
    for status in components:
        if meter is not None and not status.rates and status.counters:
            status = msgspec.structs.replace(status, rates=meter.rates(status.name, status.counters, now))
        out.append(status)
    return SystemStatus(env=env, ts=clock.now_ns(), version=__version__, components=out, day=day_info(day, schedule),
                        clients=clients or [], gaps=gaps_of(out), endpoints=dict(endpoints or {}))
