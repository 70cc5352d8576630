"""``ssmd sim``: serve the built-in Kalshi simulator on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

from ssmd.errors import ConfigError


def sim(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    markets: int = 20,
    rate: float = 50.0,
    seed: int = 7,
    key_id: str | None = None,
    public_key: Path | None = None,
    auth_status: int = 401,
    replay: Path | None = None,
    speed: float = 1.0,
    lifecycle_interval: float = 30.0,
    duration: float | None = None,
) -> int:
    """Serve the Kalshi WebSocket (/trade-api/ws/v2) and REST (/trade-api/v2) APIs.

    Prints the two URLs on stdout (logs go to stderr), then runs until Ctrl-C (or for
    --duration seconds).

    Parameters
    ----------
    host
        Address to listen on (127.0.0.1 unless you mean otherwise).
    port
        Port; 0 picks a free one.
    markets
        Number of markets listed.
    rate
        Data messages per second across all markets ("inf" = as fast as clients read).
    seed
        Seed of the market universe and activity.
    key_id
        Require signed upgrades from this API key id (with --public-key).
    public_key
        PEM file of the key's public (or private) key.
    auth_status
        Status of a refused upgrade: 401, or 403 (body "Forbidden").
    replay
        Replay a raw archive (.jsonl or .jsonl.zst) instead of generating data.
    speed
        Replay speed: 1 = as recorded, 10 = ten times faster, 0 = as fast as possible.
    lifecycle_interval
        Seconds between scripted lifecycle events (0 = none).
    duration
        Stop after this many seconds.
    """
    import asyncio
    import contextlib

    from ssmd.kalshi.auth import load_public_key
    from ssmd.log import configure
    from ssmd.simulator import SimSettings, Simulator

    if (key_id is None) != (public_key is None):
        raise ConfigError("ssmd sim", "--key-id/--public-key", "give both or neither")
    if auth_status not in (401, 403):
        raise ConfigError("ssmd sim", "--auth-status", "must be 401 or 403")
    if markets < 1:
        raise ConfigError("ssmd sim", "--markets", "must be at least 1")
    if replay is not None and not replay.is_file():
        raise ConfigError("ssmd sim", "--replay", f"no such file {replay}")
    settings = SimSettings(host=host, port=port, markets=markets, rate=rate, seed=seed,
                           refuse_status=auth_status, lifecycle_interval=lifecycle_interval,
                           replay=str(replay) if replay else None, replay_speed=speed)
    if key_id is not None and public_key is not None:
        load_public_key(str(public_key))  # fail early with a clear message
        settings.auth = "required"
        settings.public_keys[key_id] = str(public_key)

    configure(stream=sys.stderr)  # stdout carries only the two URLs

    async def main() -> None:
        async with Simulator(settings) as simulator:
            print(f"ws:   {simulator.ws_url}", flush=True)
            print(f"rest: {simulator.rest_url}", flush=True)
            if duration is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(duration)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    print("simulator stopped", file=sys.stderr)
    return 0
