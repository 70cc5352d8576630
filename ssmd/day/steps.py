"""The trading-day steps, as plain async functions of a ``DayContext``.

Start: sync secmaster → start connector → start archiver → start gateway → health check.
End: drain gateway → flush archiver → stop connector → verify archive → compact.

Each step returns a one-line detail or raises; the caller (``ssmd.day.lifecycle`` locally,
a Temporal activity in a deployment) records the outcome. Steps act on the components of
this process through a ``ComponentHost`` (the supervisor of ``ssmd up``); a component the
host does not run (it has its own process or pod) is reported, not started. Verify and
compact work on the backends and need no component.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ssmd.clock import Clock, SystemClock
from ssmd.config.model import Environment
from ssmd.errors import SsmdError
from ssmd.status import ComponentStatus

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

DAY_COMPONENTS = ("connector", "archiver", "gateway")
"""Components the day needs running; their failure puts an ACTIVE day in ERROR."""


class StepError(SsmdError):
    """A step could not do its job; the message says why."""


class ComponentHost(Protocol):
    def manages(self, name: str) -> bool:
        """Whether this process runs ``name``."""
        ...

    def component(self, name: str) -> Any | None:
        """The live instance of ``name`` (None if not running here)."""
        ...

    def component_status(self, name: str) -> ComponentStatus | None: ...

    async def start(self, name: str) -> None:
        """Make sure ``name`` runs (idempotent; a failed component is started afresh)."""
        ...

    async def stop(self, name: str) -> None:
        """Stop ``name`` gracefully and wait for it."""
        ...


@dataclass
class DayContext:
    env: Environment
    backends: Backends
    date: str
    host: ComponentHost | None = None
    clock: Clock = field(default_factory=SystemClock)
    force: bool = False
    """End: continue past a failing verify (the day still completes, problems recorded)."""
    health_timeout: float = 30.0
    stats: dict[str, Any] = field(default_factory=dict)
    """Filled by steps (verify: counts, gaps, quality) and saved with the day."""


Step = Callable[[DayContext], Awaitable[str]]


def _local(ctx: DayContext, name: str) -> bool:
    return ctx.host is not None and ctx.host.manages(name)


async def sync_secmaster(ctx: DayContext) -> str:
    service: Any = ctx.host.component("secmaster") if ctx.host is not None else None
    own = service is None
    if own:
        from ssmd.secmaster.service import SecmasterService

        service = SecmasterService(ctx.env, ctx.backends, clock=ctx.clock)
    try:
        summary = await service.sync()
    finally:
        if own:
            await service.close()
    ctx.stats["markets"] = summary.total
    return f"{summary.total} markets ({summary.added} new, {summary.updated} updated)"


async def _start(ctx: DayContext, name: str) -> str:
    if not _local(ctx, name):
        return "runs in its own process"
    assert ctx.host is not None
    await ctx.host.start(name)
    return "started"


async def start_connector(ctx: DayContext) -> str:
    return await _start(ctx, "connector")


async def start_archiver(ctx: DayContext) -> str:
    return await _start(ctx, "archiver")


async def start_gateway(ctx: DayContext) -> str:
    return await _start(ctx, "gateway")


async def health_check(ctx: DayContext, *, poll: float = 0.05) -> str:
    """Wait (up to ``health_timeout``) until every local day component is running."""
    names = [n for n in DAY_COMPONENTS if _local(ctx, n)]
    if not names:
        return "no components in this process"
    assert ctx.host is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.health_timeout
    while True:
        states = {n: ctx.host.component_status(n) for n in names}
        bad = {n: s for n, s in states.items() if s is not None and s.state in ("failed", "stopped")}
        if bad:
            raise StepError("; ".join(f"{n} {s.state}: {s.last_error or 'no error reported'}" for n, s in bad.items()))
        if all(s is not None and s.state == "running" for s in states.values()):
            return ", ".join(names) + " running"
        if loop.time() >= deadline:
            waiting = [n for n, s in states.items() if s is None or s.state != "running"]
            raise StepError(f"not running after {ctx.health_timeout:g} s: {', '.join(waiting)}")
        await asyncio.sleep(poll)


def _absent(ctx: DayContext, name: str) -> str:
    return "not running" if _local(ctx, name) else "runs in its own process"


async def drain_gateway(ctx: DayContext) -> str:
    gateway = ctx.host.component("gateway") if ctx.host is not None else None
    if gateway is None:
        return _absent(ctx, "gateway")
    await gateway.drain()
    return "drained"


async def flush_archiver(ctx: DayContext) -> str:
    archiver = ctx.host.component("archiver") if ctx.host is not None else None
    if archiver is None:
        return _absent(ctx, "archiver")
    await archiver.flush()
    return "flushed"


async def stop_connector(ctx: DayContext) -> str:
    if not _local(ctx, "connector"):
        return "runs in its own process"
    assert ctx.host is not None
    await ctx.host.stop("connector")
    archiver = ctx.host.component("archiver")
    if archiver is not None:
        await archiver.flush()
    return "stopped"


async def verify_archive(ctx: DayContext) -> str:
    from ssmd.archiver import verify_day

    report = await verify_day(ctx.env, ctx.backends, ctx.date)
    records = sum(report.normalized.values())
    ctx.stats.update(raw_records=report.raw_records, raw_bytes=report.raw_bytes, records=dict(report.normalized),
                     gaps=report.gaps, quality=report.quality_score, archive=report.status,
                     completeness=report.completeness)
    if report.problems:
        ctx.stats["problems"] = list(report.problems)
    detail = (f"{report.raw_records:,} raw frames, {records:,} records, {report.gaps} gaps, "
              f"quality {report.quality_score:.2f}")
    if not report.ok:
        reason = "; ".join(report.problems) or f"archive {report.status}"
        if not ctx.force:
            raise StepError(f"{reason} ({detail})")
        return f"{detail}; forced past: {reason}"
    return detail


async def compact(ctx: DayContext) -> str:
    from ssmd.archiver import compact_day

    report = await compact_day(ctx.env, ctx.backends, ctx.date)
    files = sum(t.get("files_in", 0) for t in report.types.values())
    rows = sum(t.get("rows", 0) for t in report.types.values())
    detail = f"{files} files → {len(report.types)} ({rows:,} rows)"
    if report.skipped:
        detail += f"; left in place: {', '.join(report.skipped)}"
    from ssmd.catalog.coverage import certify
    from ssmd.errors import NotFoundError

    try:
        coverage = await certify(ctx.env, ctx.backends, ctx.date)
    except NotFoundError:
        return detail  # nothing was recorded that day
    ctx.stats.update(completeness=coverage.completeness, coverage=coverage.counts())
    return f"{detail}; coverage {coverage.completeness}"


START_STEPS: list[tuple[str, Step]] = [
    ("sync_secmaster", sync_secmaster),
    ("start_connector", start_connector),
    ("start_archiver", start_archiver),
    ("start_gateway", start_gateway),
    ("health_check", health_check),
]
END_STEPS: list[tuple[str, Step]] = [
    ("drain_gateway", drain_gateway),
    ("flush_archiver", flush_archiver),
    ("stop_connector", stop_connector),
    ("verify_archive", verify_archive),
    ("compact", compact),
]
RECOVER_STEPS: list[tuple[str, Step]] = [
    ("start_connector", start_connector),
    ("start_archiver", start_archiver),
    ("start_gateway", start_gateway),
    ("health_check", health_check),
]
"""Resume an ACTIVE day after an error (or a restarted process): components up again."""
