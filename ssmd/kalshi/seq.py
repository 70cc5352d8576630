"""Per-subscription sequence tracking (pure; time passed in).

Kalshi numbers the frames of each subscription (``sid``) 1, 2, 3, ... on sequenced
channels. ``SeqTracker.check(sid, seq, now_ns)`` says whether a data frame is the next
one (``OK``), a repeat or an older one (``DUPLICATE``: drop it) or comes after a hole
(``GAP``, with the details in ``tracker.last_gap``). A new sid starts at 1; ``reset`` or
``forget`` a sid when it is resubscribed, ``clear`` on reconnect (sids do not survive).

Command responses that carry the sid's current ``seq`` (update ``ok``, ``unsubscribed``)
go to ``control(sid, seq)``. Whether they consume a number is not documented, so the next
data frame may be either ``seq + 0`` or ``seq + 1`` past it without it counting as a gap.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class SeqResult(IntEnum):
    OK = 0
    DUPLICATE = 1
    GAP = 2


class SeqGap(msgspec.Struct, frozen=True, kw_only=True):
    sid: int
    expected: int
    received: int
    at_ns: int

    @property
    def missing(self) -> int:
        return self.received - self.expected


class SeqTracker:
    """The last seq seen per sid, and the gaps and duplicates found."""

    __slots__ = ("_control", "_last", "duplicates", "gaps", "last_gap")

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self._control: dict[int, int] = {}
        self.last_gap: SeqGap | None = None
        self.gaps = 0
        self.duplicates = 0

    def check(self, sid: int, seq: int, now_ns: int) -> SeqResult:
        last = self._last.get(sid, 0)
        if seq == last + 1:
            self._last[sid] = seq
            if self._control:
                self._control.pop(sid, None)
            return SeqResult.OK
        if seq <= last:
            self.duplicates += 1
            return SeqResult.DUPLICATE
        self._last[sid] = seq
        ctl = self._control.pop(sid, None) if self._control else None
        if ctl is not None and seq == ctl + 1:
            return SeqResult.OK
        self.gaps += 1
        self.last_gap = SeqGap(sid=sid, expected=last + 1, received=seq, at_ns=now_ns)
        return SeqResult.GAP

    def control(self, sid: int, seq: int) -> None:
        """A command response on ``sid`` reported ``seq``."""
        if seq > self._last.get(sid, 0):
            self._control[sid] = seq

    def last(self, sid: int) -> int:
        return self._last.get(sid, 0)

    def reset(self, sid: int, last: int = 0) -> None:
        """Start ``sid`` over: the next expected frame is ``last + 1``."""
        self._last[sid] = last
        self._control.pop(sid, None)

    def forget(self, sid: int) -> None:
        self._last.pop(sid, None)
        self._control.pop(sid, None)

    def clear(self) -> None:
        self._last.clear()
        self._control.clear()
