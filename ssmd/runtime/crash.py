"""After a crash on the embedded bus: rebuild from the raw log what never reached Parquet.

``ssmd up`` leaves its run file behind only when it did not stop (``discovery.left_behind``).
Then, before the next run starts, the records of the raw frames newer than Parquet holds
are normalized again and written (``ssmd.archiver.rebuild``), for each trading day from the
dead run's start to now (at most ``MAX_DAYS``), and the window it lost (from the newest frame
kept to now) is recorded as an outage gap per channel, so the healer fills its trades.
"""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from ssmd.archiver.rebuild import Rebuilt, rebuild
from ssmd.calendar import DayPartitioner
from ssmd.config.model import Environment
from ssmd.kalshi.normalize import normalize_frame
from ssmd.log import get_logger
from ssmd.middleware.factory import Backends
from ssmd.runtime import discovery
from ssmd.status import GapInfo
from ssmd.subjects import gaps_subject

log = get_logger("runtime")
MAX_DAYS = 7


def days_between(env: Environment, start_ns: int, end_ns: int) -> list[str]:
    """The trading days from the one holding ``start_ns`` to the one holding ``end_ns``
    (the last ``MAX_DAYS`` of them)."""
    day_of = DayPartitioner(env.schedule)
    first, last = date.fromisoformat(day_of(start_ns)), date.fromisoformat(day_of(end_ns))
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    return days[-MAX_DAYS:]


def lost_window(env: Environment, pid: int, last_ns: int, now_ns: int) -> list[GapInfo]:
    """One closed outage per subscribed channel, from the newest frame the archive holds to
    now: what the crashed run received after it, and what nobody received since, is gone
    (the healer fills the trades from REST)."""
    cause = f"ssmd up (pid {pid}) ended without stopping; nothing after its last durable frame was kept"
    return [GapInfo(kind="outage", channel=channel, start_ns=last_ns, end_ns=now_ns, cause=cause)
            for channel in env.subscriptions.channels]


async def rebuild_after_crash(env: Environment, backends: Backends, now_ns: int) -> Rebuilt | None:
    """What was rebuilt, if the last run of ``env`` crashed (None if it stopped); the window
    the crash lost is published as gaps, which the archiver records and the healer heals."""
    dead = discovery.left_behind(env)
    if dead is None:
        return None
    log.warning("the last run did not stop (its run file is left, pid gone): rebuilding from the raw log",
                pid=dead.pid)
    try:
        rebuilt = await rebuild(env, backends.storage, normalize_frame,
                                days_between(env, dead.started_at, now_ns), now_ns)
    except Exception as exc:  # the raw log keeps every frame: a failed rebuild never blocks the start
        log.error("could not rebuild from the raw log; its frames stay in the raw archive",
                  error=f"{type(exc).__name__}: {exc}")
        return None
    if rebuilt.last_ns is not None:
        for gap in lost_window(env, dead.pid, rebuilt.last_ns, now_ns):
            await backends.transport.publish(gaps_subject(env.name, env.feed), msgspec.json.encode(gap))
    return rebuilt
