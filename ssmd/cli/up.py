"""``ssmd up`` (every task in one process) and ``ssmd run COMPONENT`` (one per process)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any, Literal

from ssmd.errors import SsmdError

Component = Literal["connector", "archiver", "gateway", "secmaster", "healer"]


def up(env: str = "kalshi-local", *, duration: float | None = None, tui: bool = False,
       log_level: str = "info", workers: int = 1) -> int:
    """Run the whole pipeline: simulator (if enabled), connector, archiver, gateway,
    secmaster, day scheduler, metrics and the control API. Ctrl-C stops cleanly.

    Parameters
    ----------
    env
        Environment name or path (default: the embedded kalshi-local).
    duration
        Run this many seconds, then shut down as on Ctrl-C (exit 0).
    tui
        Show the live TUI in this terminal instead of the summary lines.
    log_level
        debug, info, warning or error.
    workers
        Processes: 1 runs everything in this one; 2 runs the archiver in a second process
        (a second core for ingest), still one command, one supervisor, one Ctrl-C.
    """
    from ssmd.config.load import load_environment

    if workers not in (1, 2):
        raise SsmdError(f"--workers {workers}: use 1 or 2")
    environment = load_environment(env)
    factory = _tui_factory() if tui else None
    return asyncio.run(_serve(environment, mode="up", components=None, duration=duration,
                              log_level=log_level, tui_factory=factory, workers=workers))


def run(component: Component, env: str = "kalshi-local", *, duration: float | None = None,
        control_port: int | None = None, metrics_port: int | None = None, log_level: str = "info") -> int:
    """Run one component in this process against the environment's shared transport,
    storage and cache (the containerized deployment: one component per pod).

    Parameters
    ----------
    component
        connector, archiver, gateway or secmaster.
    env
        Environment name or path.
    duration
        Run this many seconds, then shut down cleanly (exit 0).
    control_port
        Port of this process's control API (/status, /healthz, /readyz); 0 picks a free one.
    metrics_port
        Port of /metrics; 0 disables it.
    log_level
        debug, info, warning or error.
    """
    import msgspec

    from ssmd.config.load import load_environment

    environment = load_environment(env)
    if control_port is not None:
        environment = msgspec.structs.replace(
            environment, control=msgspec.structs.replace(environment.control, port=control_port))
    if metrics_port is not None:
        environment = msgspec.structs.replace(
            environment, metrics=msgspec.structs.replace(environment.metrics, port=metrics_port))
    return asyncio.run(_serve(environment, mode="run", components=[component], duration=duration,
                              log_level=log_level, tui_factory=None))


def _tui_factory() -> Any:
    """The TUI's app factory, imported only when ``--tui`` is asked for (without textual,
    ``ssmd.cli.main`` reports the extra to install)."""
    from tui.app import make_app
    from tui.source import HttpStatusSource

    def build(control_url: str) -> tuple[Any, Any]:
        source = HttpStatusSource(control_url)
        return make_app(source), source

    return build


async def _serve(env: Any, *, mode: str, components: list[str] | None, duration: float | None,
                 log_level: str, tui_factory: Any, workers: int = 1) -> int:
    from ssmd.middleware.factory import open_backends
    from ssmd.runtime import discovery
    from ssmd.runtime.app import COMPONENTS, Runtime

    interactive = _configure_logs(env, log_level, tui=tui_factory is not None)
    if mode == "up" and (existing := discovery.read(env)) is not None:
        raise SsmdError(f"ssmd up is already running for {env.name} (pid {existing.pid}, {existing.control_url})")

    backends = await open_backends(env)
    runtime = Runtime(env, backends, components=components or COMPONENTS, mode=mode, workers=workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            print("ssmd: forced exit", file=sys.stderr, flush=True)
            os._exit(130)
        if interactive:
            print("\nstopping: draining gateway, stopping connector, flushing archiver "
                  "(again to force)", flush=True)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        if interactive:
            from ssmd.runtime import summary

            runtime.manager.on_step = lambda phase, result: print(summary.step_line(phase, result), flush=True)
        await runtime.prepare()
        async with asyncio.TaskGroup() as tg:
            if duration is not None:
                tg.create_task(_stop_after(stop, duration))
            if tui_factory is not None and runtime.control is not None:
                tg.create_task(_run_tui(tui_factory(runtime.control.url), stop))
            elif interactive:
                tg.create_task(_print_summary(runtime, stop))
            else:
                tg.create_task(_log_rates(runtime, stop))
            await runtime.run(stop.wait())
            stop.set()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await backends.close()
    if interactive:
        print(_farewell(runtime), flush=True)
    return 0


def _configure_logs(env: Any, level: str, *, tui: bool) -> bool:
    """JSON logs on stdout, or (terminal) warnings on stderr and summary lines on stdout,
    or (TUI) JSON logs into ``{run dir}/{env}.log``. Returns whether to print the summary."""
    from ssmd import log as logs
    from ssmd.runtime import discovery

    if tui:
        path = discovery.run_dir(env) / f"{env.name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        logs.configure(level, stream=path.open("a", buffering=1), human=False)
        return False
    if sys.stdout.isatty():
        import logging

        logs.configure("warning", stream=sys.stderr, human=True)
        logging.getLogger("ssmd.gateway.websockets").setLevel(logging.WARNING)  # summary lines say it
        return True
    logs.configure(level, human=False)
    return False


async def _stop_after(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        stop.set()


async def _run_tui(built: tuple[Any, Any], stop: asyncio.Event) -> None:
    app, source = built
    try:
        await app.run_async()
    finally:
        await source.close()
        stop.set()


async def _print_summary(runtime: Any, stop: asyncio.Event, every: float = 5.0) -> None:
    from ssmd.runtime import summary

    for line in summary.banner(runtime.env.name, os.getpid(), runtime.endpoints(), runtime.supervisor.names()):
        print(line, flush=True)
    last_day: tuple[str, str] | None = None
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0 if last_day is None else every)
        except TimeoutError:
            pass
        if stop.is_set():
            return
        status = runtime.system_status()
        day = runtime.manager.store.latest
        if day is not None and (day.date, str(day.state)) != last_day:
            last_day = (day.date, str(day.state))
            print(summary.day_line(day), flush=True)
            if "gateway" in status.endpoints:
                print(f"  gateway   {status.endpoints['gateway']}", flush=True)
            continue
        print(summary.rates_line(status), flush=True)


async def _log_rates(runtime: Any, stop: asyncio.Event, every: float = 10.0) -> None:
    """Non-terminal output: one JSON line with the endpoints, then rates every ``every`` s."""
    from ssmd.log import get_logger

    log = get_logger("up")
    first = True
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0 if first else every)
        except TimeoutError:
            pass
        status = runtime.system_status()
        if first:
            first = False
            log.info("ssmd running", env=runtime.env.name, pid=os.getpid(), **status.endpoints)
        rates = {c.name: {k: round(v, 1) for k, v in c.rates.items() if v} for c in status.components if c.rates}
        log.info("rates", day=status.day.state, clients=len(status.clients), gaps=len(status.gaps),
                 rates={k: v for k, v in rates.items() if v})


def _farewell(runtime: Any) -> str:
    status = runtime.system_status()
    from ssmd.runtime import summary

    comps = {c.name: c for c in status.components}
    parts = []
    if (conn := comps.get("connector")) is not None:
        frames = sum(v for k, v in conn.counters.items() if "." not in k and k != "published")
        parts.append(f"{frames:,} frames received")
    if (arch := comps.get("archiver")) is not None:
        parts.append(f"{summary.archived(arch.counters):,} archived")
    where = status.endpoints.get("data", "")
    order = " → ".join(runtime.supervisor.stop_order)
    return f"✓ stopped ({order}): {', '.join(parts) or 'nothing captured'}" + (f" → {where}" if where else "")
