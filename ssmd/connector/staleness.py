"""Silent-freeze detection: is a channel quiet, or frozen? (pure; time passed in)

A connection can stay open, answer every ping and still deliver no data: the ping watchdog
never fires. Each channel is therefore judged against its own activity. ``FreezeWatch``
learns, per channel, the usual silence between two moments data was seen (an EWMA of the
observed silences), and declares the channel frozen when the current silence exceeds

    min(cap, max(floor, factor x usual silence))

A busy channel is judged by ``floor``; a slow one (lifecycle events a few times a minute)
by ``factor`` times its own rhythm; nothing waits longer than ``cap``. A channel is judged
only once it has shown ``min_observations`` moments of activity, so a channel that never
delivers (a market that does not trade) is not mistaken for a frozen one.

Activity is sampled, not stamped per frame (the hot path pays nothing): the connection
samples the frame counts of its subscriptions every ``interval`` seconds
(``ChannelCounts``), and each channel whose count moved is "seen" at that moment. The
detection time of a freeze is therefore at most the threshold plus one interval.

``rearm`` (on a new connection) restarts every silence at "now" and keeps what was
learnt, so a feed that is still frozen after the reconnect is caught again. A channel that
stays silent freeze after freeze (its markets closed, say) is given twice the patience
each time (``struck``), up to ``2 ** max_strikes`` times its limit, until data comes again:
no reconnect every few minutes for a channel that has simply gone quiet. A silence over
the plain limit that this patience let pass is returned by ``seen`` when data resumes, so
the connection records it as a gap (a freeze that outlived the reconnect is still healed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

UNSEQUENCED = frozenset({"ticker", "fill", "user_orders", "market_positions"})
"""Channels whose frames carry no ``seq`` (their activity is what the others leave over)."""


@dataclass(frozen=True, kw_only=True)
class FreezePolicy:
    floor: float = 20.0
    """Seconds of silence a busy channel may have before it is frozen."""
    factor: float = 20.0
    """A channel is frozen after this many times its usual silence (when above ``floor``)."""
    cap: float = 600.0
    """No channel is given more than this many seconds of silence."""
    min_observations: int = 10
    """Moments of activity a channel must have shown before it is judged."""
    alpha: float = 0.05
    """Weight of the newest silence in the EWMA of the usual silence."""
    interval: float = 0.5
    """Seconds between samples of the channel counts."""
    max_strikes: int = 6
    """Consecutive freezes without data in between after which the limit stops doubling."""
    enabled: bool = True
    """Off: only the ping watchdog (``stale_after``) judges a connection."""

    def limit(self, usual: float) -> float:
        return min(self.cap, max(self.floor, self.factor * usual))


@dataclass
class _Channel:
    seen: float
    """When data was last seen (or the watch was rearmed), seconds (monotonic)."""
    usual: float = 0.0
    """EWMA of the silences between two sightings, seconds."""
    observations: int = 0
    strikes: int = 0
    """Freezes in a row with no data seen since: each doubles the limit."""
    sightings: int = 0
    """Sightings since the last rearm (the silence before the first one is the subscribe
    latency, not the feed's rhythm: not learnt)."""


@dataclass(frozen=True)
class Freeze:
    channel: str
    silence: float
    """Seconds since data was last seen on the channel."""
    limit: float
    """The threshold it exceeded."""
    usual: float
    """The usual silence it was judged against."""
    last_seen: float
    """When data was last seen (the start of the gap), same clock as the watch."""


@dataclass
class FreezeWatch:
    policy: FreezePolicy = field(default_factory=FreezePolicy)
    channels: dict[str, _Channel] = field(default_factory=dict)

    def rearm(self, channels: list[str], now: float) -> None:
        """A new connection for ``channels``: silences start now; what was learnt stays."""
        for name in channels:
            ch = self.channels.get(name)
            if ch is None:
                self.channels[name] = _Channel(seen=now)
            else:
                ch.seen, ch.sightings = now, 0

    def seen(self, channel: str, now: float) -> Freeze | None:
        """Data was seen on ``channel`` since the previous sample. Returns the silence that
        just ended when it was over the channel's plain limit without being acted on (the
        doubled patience of ``struck`` let it pass): a span that may have lost data."""
        ch = self.channels.get(channel)
        if ch is None:
            self.channels[channel] = _Channel(seen=now, sightings=1)
            return None
        silence = now - ch.seen
        plain = self._limit(ch, strikes=0) if ch.observations else None
        passed = Freeze(channel, silence, plain, ch.usual, ch.seen) if plain is not None and silence > plain else None
        ch.seen = now
        ch.sightings += 1
        ch.strikes = 0
        if ch.sightings == 1:
            return passed  # the wait for the first frame of a new subscription is not the feed's rhythm
        if ch.observations == 0:
            ch.usual = silence
        else:
            ch.usual += self.policy.alpha * (silence - ch.usual)
        ch.observations += 1
        return passed

    def frozen(self, now: float) -> list[Freeze]:
        """Channels whose silence is over their limit (the longest silence first)."""
        out: list[Freeze] = []
        for name, ch in self.channels.items():
            if ch.observations == 0:
                continue
            limit = self._limit(ch)
            silence = now - ch.seen
            if silence > limit:
                out.append(Freeze(name, silence, limit, ch.usual, ch.seen))
        out.sort(key=lambda f: -f.silence)
        return out

    def struck(self, channels: list[str]) -> None:
        """These channels were found frozen: until data comes, their limit doubles."""
        for name in channels:
            ch = self.channels.get(name)
            if ch is not None:
                ch.strikes = min(self.policy.max_strikes, ch.strikes + 1)

    def _limit(self, ch: _Channel, strikes: int | None = None) -> float:
        policy = self.policy
        limit = policy.limit(ch.usual) if ch.observations >= policy.min_observations else policy.cap
        return limit * (1 << (ch.strikes if strikes is None else strikes))

    def limits(self) -> dict[str, float]:
        """Each channel's current threshold, seconds (for the status)."""
        return {name: round(self._limit(ch), 3) for name, ch in self.channels.items() if ch.observations}


class ChannelCounts:
    """Frames per channel of one connection, read from its session and pipeline counters.

    Sequenced channels move their subscriptions' ``seq`` (``last(sid)``); whatever frames
    remain once those, the command responses and the duplicates are taken out belong to
    the unsequenced channels (``ticker``). Reading costs one pass over the sids per sample.
    """

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self._sequenced = 0
        self._rest = 0

    def moved(self, sids: dict[int, str], last: Callable[[int], int], frames: int, control: int,
              duplicates: int, skipped: int) -> set[str]:
        """Channels whose frames arrived since the previous call.

        ``sids``: sid -> channel; ``last(sid)``: its last seq; ``frames``: frames processed on
        the connection; ``control``: command responses among them; ``duplicates``: repeated
        seqs; ``skipped``: seqs jumped over by gaps (counted by ``last`` but never received)."""
        moved: set[str] = set()
        for sid, channel in sids.items():
            if channel in UNSEQUENCED:
                continue
            seq = last(sid)
            before = self._last.get(sid, 0)
            if seq > before:
                self._sequenced += seq - before
                self._last[sid] = seq
                moved.add(channel)
        rest = frames - control - duplicates - (self._sequenced - skipped)
        if rest > self._rest:
            self._rest = rest
            moved.update(ch for ch in sids.values() if ch in UNSEQUENCED)
        return moved
