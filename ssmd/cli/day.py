"""``ssmd day``: start, end, roll, status, history, show and recover the trading day.

When ``ssmd up`` runs for the environment (its run file names a live process) these
act on it through its control API; otherwise they read and write the cache and journal
directly (``status`` then shows the last known state).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from cyclopts import App

from ssmd.cli.output import emit_json, table
from ssmd.errors import SsmdError

app = App(name="day", help="Trading-day lifecycle: start, end, roll, status, history, show, recover.")
OK, BAD = "✓", "✗"


# ---- plumbing --------------------------------------------------------------------------
def _env(name: str) -> Any:
    from ssmd.config.load import load_environment

    return load_environment(name)


def _remote(env: Any) -> Any | None:
    """A client of the running ``ssmd up`` for ``env``, or None."""
    from ssmd.runtime import discovery
    from ssmd.runtime.client import ControlClient

    info = discovery.read(env)
    return ControlClient(info.control_url) if info is not None else None


def _direct(env: Any, action: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``action(manager)`` against the environment's cache and journal directly."""
    from ssmd import log
    from ssmd.day.lifecycle import DayManager
    from ssmd.middleware.factory import open_backends

    log.configure("critical", stream=sys.stderr, human=True)  # steps are printed with ✓/✗

    async def main() -> Any:
        backends = await open_backends(env)
        try:
            return await action(DayManager(env, backends))
        finally:
            await backends.close()

    return asyncio.run(main())


def _needs_up(env: Any, command: str) -> None:
    if env.simulator.enabled and env.endpoints.ws is None:
        raise SsmdError(f"no ssmd up is running for {env.name} (its exchange is the built-in simulator); "
                        f"start it with `ssmd up {env.name}`, then `ssmd day {command} {env.name}`")


def _record(value: Any) -> Any:
    from ssmd.day.state import DayRecord

    return msgspec.convert(value, DayRecord) if value is not None else None


def _via_temporal(env: Any, command: str, body: dict[str, Any], *, json: bool) -> int:
    """Run the day workflow on Temporal (``orchestrator.type: temporal``) and wait for it."""
    from ssmd.orchestration import temporal

    if command == "start":
        outcome = asyncio.run(temporal.start_day_via_temporal(env, body.get("date")))
    elif command == "end":
        outcome = asyncio.run(temporal.end_day_via_temporal(env, force=bool(body.get("force"))))
    else:
        outcome = asyncio.run(temporal.roll_day_via_temporal(env))
    if json:
        emit_json(outcome)
    else:
        for line in outcome.steps:
            name, _, detail = line.partition(": ")
            failed = outcome.state in ("FAILED", "ERROR") and name == outcome.step
            print(f"  {BAD if failed else OK} {name:16} {detail}")
        line = f"Day {outcome.date} ({env.name}): {outcome.state} (workflow on {env.orchestrator.address})"
        if outcome.error:
            line += f" at {outcome.step}: {outcome.error}"
        print(line)
    return 0 if outcome.state in ("ACTIVE", "COMPLETE") else 1


def _operate(env_name: str, command: str, path: str, body: dict[str, Any],
             direct: Callable[[Any], Coroutine[Any, Any, Any]], *, needs_up: bool, json: bool) -> int:
    env = _env(env_name)
    if env.orchestrator.type == "temporal" and command in ("start", "end", "roll"):
        return _via_temporal(env, command, body, json=json)
    client = _remote(env)
    if client is not None:
        record = _record(client.post(path, body))
    else:
        if needs_up:
            _needs_up(env, command)
        record = _direct(env, direct)
    if json:
        emit_json(record)
    else:
        _print_steps(record, env.name)
    return 0 if str(record.state) in ("ACTIVE", "COMPLETE") else 1


def _print_steps(record: Any, env: str) -> None:
    for step in record.steps:
        mark = OK if step.ok else BAD
        text = step.detail if step.ok else (step.error or "failed")
        print(f"  {mark} {step.name:16} {text}")
    line = f"Day {record.date} ({env}): {record.state}"
    if record.error and str(record.state) in ("FAILED", "ERROR"):
        line += f" at {record.step}: {record.error}"
    print(line)


def _when(ns: int | None) -> str:
    if not ns:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns / 1e9))


def _ago(ns: int | None) -> str:
    if not ns:
        return ""
    seconds = max(0, int(time.time() - ns / 1e9))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


# ---- commands --------------------------------------------------------------------------
@app.command
def start(env: str, *, date: str | None = None, json: bool = False) -> int:
    """Start the trading day: sync secmaster, start connector, archiver, gateway, health check.

    Parameters
    ----------
    env
        Environment name or path.
    date
        Trading day (YYYY-MM-DD); default: the current one by the environment's schedule.
    json
        Print the resulting day as JSON.
    """
    return _operate(env, "start", "/day/start", {"date": date} if date else {},
                    lambda m: m.start(date), needs_up=True, json=json)


@app.command
def end(env: str, *, force: bool = False, json: bool = False) -> int:
    """End the trading day: drain gateway, flush archiver, stop connector, verify, compact.

    Parameters
    ----------
    env
        Environment name or path.
    force
        Complete the day even if verification finds problems (they are recorded), or end a FAILED day.
    json
        Print the resulting day as JSON.
    """
    return _operate(env, "end", "/day/end", {"force": force}, lambda m: m.end(force=force),
                    needs_up=False, json=json)


@app.command
def roll(env: str, *, json: bool = False) -> int:
    """End the running day and start the current one.

    Parameters
    ----------
    env
        Environment name or path.
    json
        Print the resulting day as JSON.
    """
    return _operate(env, "roll", "/day/roll", {}, lambda m: m.roll(), needs_up=True, json=json)


@app.command
def recover(env: str, *, json: bool = False) -> int:
    """Resume a day in ERROR (components started again, health check), or re-run the
    phase of a FAILED day.

    Parameters
    ----------
    env
        Environment name or path.
    json
        Print the resulting day as JSON.
    """
    return _operate(env, "recover", "/day/recover", {}, lambda m: m.recover(), needs_up=True, json=json)


@app.command
def status(env: str, *, json: bool = False) -> int:
    """Current day: state, since when, messages, gaps, and per-component health.

    Parameters
    ----------
    env
        Environment name or path.
    json
        Print as JSON (day, stats, components, source).
    """
    environment = _env(env)
    client = _remote(environment)
    if client is not None:
        system = client.get("/status")
        record = _record(client.get("/day"))
        source = "running"
        components = system.get("components", [])
        endpoints = system.get("endpoints", {})
    else:
        async def read(manager: Any) -> Any:
            current = await manager.current()
            stats = await manager.store.load_stats(current.date) if current is not None else {}
            return current, stats

        record, stats = _direct(environment, read)
        if record is not None and stats:
            record = msgspec.structs.replace(record, stats={**record.stats, **stats})
        source = "last known"
        components, endpoints = [], {}
    stats = record.stats if record is not None else {}
    if json:
        emit_json({"env": environment.name, "source": source, "day": record, "stats": stats,
                   "components": components, "endpoints": endpoints})
        return 0
    if record is None:
        print(f"{environment.name}: no trading day yet ({'ssmd up running' if client else 'no ssmd up running'})")
        return 0
    suffix = "" if client is not None else "   (last known state: no ssmd up is running)"
    print(f"{environment.name}  day {record.date}  {record.state} since {_when(record.since)} "
          f"({_ago(record.since)}){suffix}")
    if record.error:
        print(f"  {BAD} {record.step}: {record.error}")
    _print_stats(stats)
    if components:
        table(["component", "state", "uptime", "restarts", "errors", "last error"],
              [[c["name"], c["state"], f"{c.get('uptime_seconds', 0):.0f}s", c.get("restarts", 0),
                c.get("errors", 0), c.get("last_error")] for c in components])
    if "gateway" in endpoints:
        print(f"gateway {endpoints['gateway']}")
    return 0


def _print_stats(stats: dict[str, Any]) -> None:
    if not stats:
        return
    parts = []
    if "messages" in stats:
        by_type = ", ".join(f"{k} {v:,}" for k, v in sorted((stats.get("by_type") or {}).items()))
        parts.append(f"messages {stats['messages']:,}" + (f" ({by_type})" if by_type else ""))
    if "raw_records" in stats:
        records = sum((stats.get("records") or {}).values())
        parts.append(f"archived {stats['raw_records']:,} raw frames, {records:,} records")
    if "gaps" in stats:
        parts.append(f"gaps {stats['gaps']}")
    if stats.get("lag_seconds") is not None:
        parts.append(f"lag {stats['lag_seconds']:.2f}s")
    if "quality" in stats:
        parts.append(f"quality {stats['quality']:.2f}")
    print("  " + "   ".join(parts))
    for problem in stats.get("problems") or []:
        print(f"  ! {problem}")


@app.command
def history(env: str, *, limit: int | None = None, json: bool = False) -> int:
    """Past trading days, newest first, rebuilt from the journal.

    Parameters
    ----------
    env
        Environment name or path.
    limit
        Show at most this many days.
    json
        Print as JSON.
    """
    environment = _env(env)
    client = _remote(environment)
    if client is not None:
        days = [_record(d) for d in client.get(f"/day/history{f'?limit={limit}' if limit else ''}")]
    else:
        days = _direct(environment, lambda m: m.store.history(limit))
    if json:
        emit_json(days)
        return 0
    table(["date", "state", "since", "started", "ended", "messages", "gaps", "failed step"],
          [[d.date, str(d.state), _when(d.since), _when(d.start_time), _when(d.end_time),
            d.stats.get("raw_records", d.stats.get("messages")), d.stats.get("gaps"),
            f"{d.step}: {d.error}" if d.error else None] for d in days])
    return 0


@app.command
def show(env: str, date: str, *, json: bool = False) -> int:
    """One trading day: state, times, the steps of its last phase, counts and problems.

    Parameters
    ----------
    env
        Environment name or path.
    date
        Trading day (YYYY-MM-DD).
    json
        Print as JSON.
    """
    environment = _env(env)
    client = _remote(environment)
    if client is not None:
        record = _record(client.get(f"/day/{date}"))
    else:
        async def read(manager: Any) -> Any:
            from ssmd.errors import NotFoundError

            found = await manager.store.record(date)
            if found.since is None:
                raise NotFoundError(f"no trading day {date} in {environment.name}")
            return found

        record = _direct(environment, read)
    if json:
        emit_json(record)
        return 0
    print(f"{environment.name}  day {record.date}  {record.state} since {_when(record.since)}")
    print(f"  started {_when(record.start_time)}   ended {_when(record.end_time)}")
    _print_stats(record.stats)
    if record.steps:
        print(f"  last phase: {record.phase}")
        for step in record.steps:
            mark = OK if step.ok else BAD
            print(f"    {mark} {step.name:16} {step.detail if step.ok else step.error}")
    if record.error:
        print(f"  {BAD} {record.step}: {record.error}", file=sys.stdout)
    return 0
