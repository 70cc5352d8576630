"""Where the connector connects, and with which credentials.

The WebSocket URL is the environment's ``endpoints.ws``, else the feed file's current
``prod`` endpoint. Credentials come from the environment's ``kalshi`` key (``api_key`` =
key id, ``api_secret`` = RSA private key PEM text or path) and sign every connection
attempt afresh. The connector never starts or looks for the simulator: when the
environment's exchange is the simulator, the runtime starts it and passes its URL in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ssmd.config.keys import resolve_key
from ssmd.config.model import Environment
from ssmd.errors import AuthError, ConfigError

KEY_NAME = "kalshi"


@dataclass(frozen=True)
class Credentials:
    key_id: str
    private_key: Any
    """An RSA private key object (``ssmd.kalshi.auth.load_private_key``)."""

    def __repr__(self) -> str:
        return "Credentials(key_id=****)"

    def headers(self, url: str, now_ms: int) -> dict[str, str]:
        """The three signed headers for a WebSocket upgrade to ``url`` at ``now_ms``."""
        from ssmd.kalshi.auth import sign_headers

        return sign_headers(self.key_id, self.private_key, "GET", urlsplit(url).path or "/", now_ms)


def feed_ws_url(env: Environment) -> str:
    from ssmd.config.load import load_feed

    version = load_feed(env.feed).current()
    endpoints = version.endpoints.get("prod")
    if endpoints is None:
        raise ConfigError(f"feed {env.feed}", "endpoints.prod", "missing (needed for the WebSocket URL)")
    return endpoints.ws


def feed_stale_after(env: Environment) -> float:
    from ssmd.config.load import load_feed

    return load_feed(env.feed).current().stale_after_seconds


def check_ws_url(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(source, "endpoints.ws", f"not a WebSocket URL: {url!r}")
    return url


def load_credentials(env: Environment) -> Credentials | None:
    """Credentials of the ``kalshi`` key, None when the environment has no such key (or an
    optional one that is not set)."""
    spec = env.keys.get(KEY_NAME)
    if spec is None or spec.source is None:
        return None
    try:
        values = resolve_key(env, KEY_NAME)
    except AuthError:
        if not spec.required:
            return None
        raise
    key_id = values.get("api_key")
    secret = values.get("api_secret") or values.get("private_key")
    if key_id is None or secret is None:
        raise AuthError(f"key {KEY_NAME} needs fields api_key and api_secret (has {', '.join(values)})")
    from ssmd.kalshi.auth import load_private_key

    return Credentials(key_id.reveal(), load_private_key(secret.reveal()))


def resolve_ws_url(env: Environment, override: str | None = None) -> str:
    """The URL to connect to: ``override``, else the environment's ``endpoints.ws``, else
    the feed file's. An environment whose exchange is the built-in simulator carries the
    simulator's URL in ``endpoints.ws`` (the runtime starts it and passes it in)."""
    if override is not None:
        return check_ws_url(override, "connector")
    if env.endpoints.ws is not None:
        return check_ws_url(env.endpoints.ws, env.name)
    if env.simulator.enabled:
        raise ConfigError(env.name, "endpoints.ws", "the built-in simulator's URL was not passed in "
                          "(`ssmd up` and `ssmd run connector` start the simulator and pass it)")
    return check_ws_url(feed_ws_url(env), f"feed {env.feed}")
