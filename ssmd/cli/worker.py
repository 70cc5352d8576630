"""``ssmd worker ENV``: run the Temporal worker of the trading-day workflows."""

from __future__ import annotations


def worker(env: str) -> None:
    """Serve StartTradingDay / EndTradingDay / RollTradingDay / SyncSecmaster for ENV.

    Needs ``orchestrator: {type: temporal, address, namespace, task_queue}`` in the
    environment. Creates the day and secmaster schedules, serves until SIGTERM or Ctrl-C.

    Parameters
    ----------
    env
        Environment name or path.
    """
    import asyncio
    import signal

    import msgspec

    from ssmd import metrics
    from ssmd.config.load import load_environment
    from ssmd.config.model import Endpoints
    from ssmd.errors import ConfigError
    from ssmd.orchestration.worker import run_worker
    from ssmd.simulator import ensure_running

    loaded = load_environment(env)
    if loaded.orchestrator.type != "temporal":
        raise ConfigError(loaded.name, "orchestrator.type",
                          f"is {loaded.orchestrator.type!r}; `ssmd worker` needs temporal")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if loaded.metrics.port:
            metrics.serve(loaded.metrics.host, loaded.metrics.port)
        # the built-in simulator, when the environment enables it, is this worker's exchange
        async with ensure_running(loaded) as (ws_url, rest_url):
            env = msgspec.structs.replace(loaded, endpoints=Endpoints(ws=ws_url, rest=rest_url))
            await run_worker(env, stop)

    asyncio.run(main())
