"""Recording gaps and outages, and publishing them to ``{env}.{feed}.gaps``.

A gap is a ``ssmd.status.GapInfo``: ``seq`` (a hole in a subscription's numbering, found
at once), ``error`` (a terminal subscription error 10/25, from the error to the new
subscription) or ``outage`` (a lost connection, from its last frame to the moment every
subscription is back). Open gaps are published when they start and again when they end;
readers identify a gap by (kind, channel, start, sid) and keep the latest version.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

import msgspec

from ssmd import metrics
from ssmd.log import get_logger
from ssmd.status import GapInfo
from ssmd.subjects import gaps_subject

log = get_logger("connector")
_encode = msgspec.json.encode

Publish = Callable[[str, bytes], Awaitable[None]]


class GapLog:
    def __init__(self, env: str, feed: str, publish: Publish, keep: int = 100) -> None:
        self.subject = gaps_subject(env, feed)
        self.feed = feed
        self._publish = publish
        self.recent: deque[GapInfo] = deque(maxlen=keep)
        self.total = 0
        self.open: dict[object, list[GapInfo]] = {}
        """Open gaps by owner (a connection index or a subscription key)."""

    async def record(self, gap: GapInfo) -> None:
        """A gap that is already complete (or one whose end is unknown)."""
        self.total += 1
        self.recent.append(gap)
        metrics.CONNECTOR_GAPS.labels(self.feed, gap.channel).inc()
        log.warning("gap", kind=gap.kind, channel=gap.channel, sid=gap.sid, expected=gap.expected,
                    received=gap.received, cause=gap.cause, markets=len(gap.markets))
        await self._send(gap)

    async def start(self, owner: object, gaps: list[GapInfo]) -> None:
        """Open gaps for ``owner`` unless it already has open ones (the first cause stays)."""
        if owner in self.open or not gaps:
            return
        self.open[owner] = gaps
        for gap in gaps:
            await self.record(gap)

    async def end(self, owner: object, end_ns: int) -> list[GapInfo]:
        """Close ``owner``'s open gaps at ``end_ns`` and publish them again."""
        gaps = self.open.pop(owner, [])
        for gap in gaps:
            gap.end_ns = end_ns
            await self._send(gap)
        if gaps:
            log.info("gap closed", kind=gaps[0].kind, cause=gaps[0].cause,
                     seconds=round((end_ns - gaps[0].start_ns) / 1e9, 3))
        return gaps

    def is_open(self, owner: object) -> bool:
        return owner in self.open

    async def _send(self, gap: GapInfo) -> None:
        try:
            await self._publish(self.subject, _encode(gap))
        except Exception as exc:  # a gap record must never take the connector down
            log.error("cannot publish gap", error=f"{type(exc).__name__}: {exc}")
