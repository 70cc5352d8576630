"""The one status model: per component, the trading day, gateway clients and gaps.

Served by the control API of ``ssmd up``, printed by ``ssmd day status``, shown by the
TUI and summarised by the gateway's ``/v1/health``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ComponentState = Literal["starting", "running", "restarting", "stopping", "stopped", "failed"]


class ComponentStatus(msgspec.Struct, kw_only=True):
    name: str
    state: ComponentState = "starting"
    started_at: int | None = None
    """ns since epoch of the current run's start."""
    uptime_seconds: float = 0.0
    restarts: int = 0
    counters: dict[str, int] = {}
    """Monotonic counts, e.g. {"trade": 1200, "ticker": 5300}; rates are derived by readers."""
    rates: dict[str, float] = {}
    """Per-second rates over the last few seconds, by the same keys as ``counters``."""
    lag_seconds: float | None = None
    errors: int = 0
    last_error: str | None = None
    details: dict[str, Any] = {}
    """Component-specific facts (connections, subscribed markets, buffered rows, ...)."""


class HealInfo(msgspec.Struct, kw_only=True):
    """What was done to fill a gap after the fact (see ``ssmd.healer``)."""

    status: Literal["healed", "failed"]
    method: str
    """How: ``rest:/markets/trades`` (the missing trades fetched and archived)."""
    at_ns: int
    """When the heal finished, ns since epoch."""
    recovered: int = 0
    """Trades archived from REST that the live feed had not delivered."""
    fetched: int = 0
    """Trades REST returned over the gap's window (recovered + already archived)."""
    window_start_ns: int = 0
    window_end_ns: int = 0
    """The exchange-time span that was fetched."""
    error: str | None = None


class GapInfo(msgspec.Struct, kw_only=True):
    kind: Literal["seq", "outage", "error"]
    channel: str
    start_ns: int
    end_ns: int | None = None
    sid: int | None = None
    expected: int | None = None
    received: int | None = None
    cause: str = ""
    markets: list[str] = []
    healed: HealInfo | None = None
    """Set once the healer filled the gap from REST (or failed to)."""


class ClientInfo(msgspec.Struct, kw_only=True):
    id: str
    peer: str
    mode: str
    symbols: int
    buffered: int
    buffer_utilisation: float
    dropped: int
    sent: int
    lag_seconds: float
    slow: bool
    connected_at: int


class DayInfo(msgspec.Struct, kw_only=True):
    date: str | None = None
    state: str = "PENDING"
    since: int | None = None
    """ns since epoch of the last transition."""
    step: str | None = None
    error: str | None = None
    starts_at: int | None = None
    """ns since epoch when the trading day starts by the schedule."""
    ends_at: int | None = None
    """ns since epoch when it ends by the schedule."""


class SystemStatus(msgspec.Struct, kw_only=True):
    env: str
    ts: int
    version: str
    components: list[ComponentStatus] = []
    day: DayInfo = msgspec.field(default_factory=DayInfo)
    clients: list[ClientInfo] = []
    gaps: list[GapInfo] = []
    endpoints: dict[str, str] = {}
    """Where things are: gateway URL, metrics URL, data path."""
