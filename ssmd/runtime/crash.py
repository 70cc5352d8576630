"""After a crash on the embedded bus: rebuild from the raw log what never reached Parquet.

``ssmd up`` leaves its run file behind only when it did not stop (``discovery.left_behind``).
Then, before the next run starts, the records of the raw frames newer than Parquet holds
are normalized again and written (``ssmd.archiver.rebuild``), for each trading day from the
dead run's start to now (at most ``MAX_DAYS``).
"""

from __future__ import annotations

from datetime import date, timedelta

from ssmd.archiver.rebuild import rebuild
from ssmd.calendar import DayPartitioner
from ssmd.config.model import Environment
from ssmd.kalshi.normalize import normalize_frame
from ssmd.log import get_logger
from ssmd.middleware.factory import Backends
from ssmd.runtime import discovery

log = get_logger("runtime")
MAX_DAYS = 7


def days_between(env: Environment, start_ns: int, end_ns: int) -> list[str]:
    """The trading days from the one holding ``start_ns`` to the one holding ``end_ns``
    (the last ``MAX_DAYS`` of them)."""
    day_of = DayPartitioner(env.schedule)
    first, last = date.fromisoformat(day_of(start_ns)), date.fromisoformat(day_of(end_ns))
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    return days[-MAX_DAYS:]


async def rebuild_after_crash(env: Environment, backends: Backends, now_ns: int) -> dict[str, int] | None:
    """Rows rebuilt by type if the last run of ``env`` crashed; None if it stopped."""
    dead = discovery.left_behind(env)
    if dead is None:
        return None
    log.warning("the last run did not stop (its run file is left, pid gone): rebuilding from the raw log",
                pid=dead.pid)
    return await rebuild(env, backends.storage, normalize_frame, days_between(env, dead.started_at, now_ns),
                         now_ns)
