"""The change journal ``{env}.secmaster.changes``: appending, and following it from
another process.

With one component per process (``ssmd run connector``), the connector cannot be handed
to the ``SecmasterService``. ``follow_changes`` gives it the same updates: it hands over
the stored selection, then reads ``{env}.secmaster.changes`` from where it stood and passes
on what each batch of changes adds to or removes from the selection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ssmd.config.model import Environment
from ssmd.middleware.journal.base import Journal
from ssmd.middleware.transport.base import StartPosition
from ssmd.secmaster.diff import apply, change_from_json
from ssmd.secmaster.hook import ConnectorHook, Target
from ssmd.secmaster.store import MarketStore
from ssmd.subjects import journal_topic

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends


async def append_changes(journal: Journal, topic: str, entries: list[dict[str, Any]]) -> None:
    """Append in order, in one batch (one lock and one fsync on the file journal)."""
    if entries:
        await journal.append_many(topic, entries)


class ChangeFollower:
    def __init__(self, env: Environment, backends: Backends, target: Target) -> None:
        self.topic = journal_topic(env.name, "secmaster.changes")
        self.backends = backends
        self.store = MarketStore(env.name, backends.cache)
        self.hook = ConnectorHook(target, env.subscriptions.markets)
        self.markets: dict[str, Any] = {}
        self.seq = 0

    async def start(self) -> None:
        """Hand over the current selection. The journal position is taken first, so a change
        made meanwhile is read again (applying it twice changes nothing)."""
        self.seq = await self.backends.journal.last_seq(self.topic)
        self.markets = await self.store.load()
        await self.hook.reset(self.markets)

    async def poll(self) -> int:
        """Read the changes appended since the last call; returns how many were read."""
        changes = []
        async for entry in self.backends.journal.read(self.topic, StartPosition.at_seq(self.seq + 1)):
            changes.append(change_from_json(entry.data))
            self.seq = entry.seq
        if changes:
            apply(self.markets, changes)
            await self.hook.update((c.ticker for c in changes), self.markets)
        return len(changes)


async def follow_changes(env: Environment, backends: Backends, target: Target, stopping: asyncio.Event,
                         *, poll_seconds: float = 2.0) -> None:
    """Keep ``target`` following the selection until ``stopping`` is set."""
    follower = ChangeFollower(env, backends, target)
    await follower.start()
    while not stopping.is_set():
        await follower.poll()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=poll_seconds)
