"""Counters of the connector, kept as plain ints on the hot path and pushed to the
Prometheus metrics (``ssmd.metrics``) once per tick, where rates are derived too."""

from __future__ import annotations

from collections import deque

from ssmd import metrics


class Stats:
    def __init__(self, feed: str) -> None:
        self.feed = feed
        self.received: dict[str, int] = {}
        """Frames by message type (``unknown`` for frames that do not parse)."""
        self.records: dict[str, int] = {}
        """Normalized records published, by record type."""
        self.errors: dict[str, int] = {}
        """Data-quality and operational problems by error_type."""
        self.published = 0
        """Messages published to the transport: raw frames + records (+ dead letters)."""
        self.dead_letters = 0
        self.duplicates = 0
        self.discarded = 0
        """Order-book deltas dropped while waiting for a fresh snapshot."""
        self.lag_ns: int | None = None
        self.last_error: str | None = None
        self._pushed: dict[tuple[str, str], int] = {}
        self._samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=6)

    def error(self, error_type: str, reason: str, count: int = 1) -> None:
        """Count ``count`` problems of ``error_type``; ``reason`` describes the last one."""
        self.errors[error_type] = self.errors.get(error_type, 0) + count
        self.last_error = f"{error_type}: {reason}"

    def counters(self) -> dict[str, int]:
        out = dict(self.received)
        out.update({f"records.{k}": v for k, v in self.records.items()})
        out["published"] = self.published
        out["dead_letters"] = self.dead_letters
        out["duplicates"] = self.duplicates
        out["discarded"] = self.discarded
        out.update({f"errors.{k}": v for k, v in self.errors.items()})
        return out

    def tick(self, now: float) -> None:
        """Push counter increments to Prometheus and sample for rates."""
        feed = self.feed
        for kind, value in self.received.items():
            self._push(metrics.CONNECTOR_MESSAGES_RECEIVED.labels(feed, kind), ("received", kind), value)
        self._push(metrics.CONNECTOR_MESSAGES_PUBLISHED.labels(feed), ("published", ""), self.published)
        for kind, value in self.errors.items():
            self._push(metrics.CONNECTOR_ERRORS.labels(feed, kind), ("errors", kind), value)
        self._push(metrics.CONNECTOR_DLQ.labels(feed), ("dlq", ""), self.dead_letters)
        self._push(metrics.DEAD_LETTERS.labels("connector"), ("dlq_all", ""), self.dead_letters)
        if self.lag_ns is not None:
            metrics.CONNECTOR_LAG.labels(feed).set(self.lag_ns / 1e9)
        self._samples.append((now, self.counters()))

    def _push(self, child: metrics.Counter, key: tuple[str, str], value: int) -> None:
        done = self._pushed.get(key, 0)
        if value > done:
            child.inc(value - done)
            self._pushed[key] = value

    def rates(self) -> dict[str, float]:
        """Per-second rates over the sampled window (a few ticks)."""
        if len(self._samples) < 2:
            return {}
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        span = t1 - t0
        if span <= 0:
            return {}
        return {k: (v - c0.get(k, 0)) / span for k, v in c1.items()}
