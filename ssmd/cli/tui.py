"""``ssmd tui``: the live status TUI, attached to a running ``ssmd up``."""

from __future__ import annotations


def control_url_for(env_name: str) -> str:
    """The control API of the running ``ssmd up`` of ``env_name`` (its run file), or the
    address the environment configures when none is running yet."""
    from ssmd.config.load import load_environment
    from ssmd.runtime import discovery

    env = load_environment(env_name)
    info = discovery.read(env)
    if info is not None:
        return info.control_url
    return f"http://{env.control.host}:{env.control.port}"


def tui(env: str = "kalshi-local", *, url: str | None = None, refresh: float = 1.0) -> None:
    """Live status of a running ssmd: components, rates, markets, clients, archive, replay.

    Parameters
    ----------
    env
        Environment name or path (default kalshi-local).
    url
        Control API address (e.g. http://127.0.0.1:8766) instead of the environment's run file.
    refresh
        Seconds between status polls.
    """
    from tui.app import run
    from tui.source import HttpStatusSource

    run(HttpStatusSource(url or control_url_for(env)), refresh=refresh)
