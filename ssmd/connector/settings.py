"""Tunables of the connector; defaults from the feed file and the protocol reference."""

from __future__ import annotations

from dataclasses import dataclass, field

from ssmd.config.model import ConnectorConfig
from ssmd.connector.staleness import FreezePolicy


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
    dropped and counted (``queue_overflow``), and the seq check records the hole. Reading
    pauses long before (``pause_at``), so this is a last resort."""
    pause_at: int = 20_000
    """Frames buffered at which the connection stops reading the socket until the publisher
    has taken the buffer down to a quarter of this: the kernel's buffers fill and TCP slows
    the exchange, so a burst the publisher cannot keep up with costs lag, not frames."""
    batch_size: int = 1024
    """Frames the publisher takes from the buffer at once."""
    max_connections: int = 10
    """Connections per API key the sharding may open."""
    stop_timeout: float = 5.0
    """Seconds ``stop()`` waits for buffered frames to be published."""
    recent_gaps: int = 100
    """Gaps kept for ``status()``."""
    freeze: FreezePolicy = field(default_factory=FreezePolicy)
    """Silent-freeze detection per channel (``ssmd.connector.staleness``): a connection that
    answers pings but whose channel stays silent past its limit is replaced."""


def freeze_policy(config: ConnectorConfig) -> FreezePolicy:
    """The freeze detection an environment's ``connector`` section asks for."""
    return FreezePolicy(enabled=config.freeze_detection, floor=config.freeze_floor_seconds,
                        factor=config.freeze_factor, cap=config.freeze_cap_seconds,
                        min_observations=config.freeze_min_observations, interval=config.freeze_sample_seconds)
