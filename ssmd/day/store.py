"""Where trading-day state lives: events in the journal, the current view in the cache.

The journal topic ``{env}.day.events`` is the truth (``history`` is rebuilt from it); the
cache holds the view other processes read quickly: ``{env}:day:current`` (the date),
``{env}:day:{date}:state`` (the state name), ``...:stats`` (JSON), ``...:start_time`` and
``...:end_time`` (ns), and ``...:detail`` (JSON: since, phase, failing step, error).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd.day.state import DayEvent, DayRecord, apply
from ssmd.log import get_logger
from ssmd.middleware.transport.base import StartPosition
from ssmd.subjects import cache_key, journal_topic

if TYPE_CHECKING:
    from ssmd.middleware.cache.base import Cache
    from ssmd.middleware.journal.base import Journal

log = get_logger("day")
_event = msgspec.json.Decoder(DayEvent)


class DayStore:
    def __init__(self, env: str, cache: Cache, journal: Journal) -> None:
        self.env = env
        self.cache = cache
        self.journal = journal
        self.topic = journal_topic(env, "day.events")
        self._days: dict[str, DayRecord] = {}
        self._last_seq = 0
        self._lock = asyncio.Lock()
        self.latest: DayRecord | None = None
        """The current day as last read or written by this store (for synchronous readers)."""

    async def refresh(self) -> None:
        """Read journal entries appended since the last read (by any process)."""
        async with self._lock:
            async for entry in self.journal.read(self.topic, StartPosition.at_seq(self._last_seq + 1)):
                self._last_seq = max(self._last_seq, entry.seq)
                try:
                    event = msgspec.convert(entry.data, DayEvent)
                except msgspec.ValidationError as exc:
                    log.warning("skipping unreadable day event", seq=entry.seq, reason=str(exc))
                    continue
                self._days[event.date] = apply(self._days.get(event.date) or DayRecord(date=event.date), event)

    async def record(self, date: str) -> DayRecord:
        await self.refresh()
        return self._days.get(date) or DayRecord(date=date)

    async def current(self) -> DayRecord | None:
        """The day named by ``{env}:day:current``, else the latest day in the journal."""
        await self.refresh()
        date = await self.cache.get(cache_key(self.env, "day", "current"))
        if date and date in self._days:
            self.latest = self._days[date]
        elif self._days:
            self.latest = self._days[max(self._days)]
        return self.latest

    async def history(self, limit: int | None = None) -> list[DayRecord]:
        """Days, newest first."""
        await self.refresh()
        days = [self._days[d] for d in sorted(self._days, reverse=True)]
        return days[:limit] if limit else days

    async def commit(self, event: DayEvent) -> DayRecord:
        """Append ``event`` to the journal, then update the cache view; returns the new record."""
        await self.refresh()
        await self.journal.append(self.topic, msgspec.to_builtins(event))
        await self.refresh()
        record = self._days[event.date]
        if event.kind == "transition":
            await self._write_view(record)
        if event.kind == "transition" or (self.latest is not None and self.latest.date == record.date):
            self.latest = record
        return record

    async def save_stats(self, date: str, stats: dict[str, Any]) -> None:
        """Live counters of the running day (not journaled: they change every few seconds)."""
        await self.cache.set(cache_key(self.env, "day", date, "stats"), msgspec.json.encode(stats).decode())

    async def load_stats(self, date: str) -> dict[str, Any]:
        text = await self.cache.get(cache_key(self.env, "day", date, "stats"))
        if not text:
            return {}
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    async def _write_view(self, record: DayRecord) -> None:
        key = lambda *parts: cache_key(self.env, "day", *parts)  # noqa: E731
        values = {
            key("current"): record.date,
            key(record.date, "state"): str(record.state),
            key(record.date, "detail"): msgspec.json.encode(
                {"since": record.since, "phase": record.phase, "step": record.step, "error": record.error}
            ).decode(),
        }
        if record.start_time is not None:
            values[key(record.date, "start_time")] = str(record.start_time)
        if record.end_time is not None:
            values[key(record.date, "end_time")] = str(record.end_time)
        if record.stats:
            values[key(record.date, "stats")] = msgspec.json.encode(record.stats).decode()
        await self.cache.mset(values)
