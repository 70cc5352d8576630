"""Tunables of the connector; defaults from the feed file and the protocol reference."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ConnectorSettings:
    stale_after: float = 30.0
    """Seconds without any frame (data or ping) after which a connection is dead."""
    backoff_initial: float = 0.5
    """First reconnect delay, seconds; doubles up to ``backoff_max`` with ±50 % jitter."""
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    """Seconds allowed for TCP + TLS + the WebSocket upgrade."""
    queue_size: int = 100_000
    """Frames buffered between the socket reader and the publisher; beyond, frames are
    dropped and counted (``queue_overflow``), and the seq check records the hole."""
    batch_size: int = 1024
    """Frames the publisher takes from the buffer at once."""
    max_connections: int = 10
    """Connections per API key the sharding may open."""
    stop_timeout: float = 5.0
    """Seconds ``stop()`` waits for buffered frames to be published."""
    recent_gaps: int = 100
    """Gaps kept for ``status()``."""
