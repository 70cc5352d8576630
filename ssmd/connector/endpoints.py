"""Where the connector connects, and with which credentials.

The WebSocket URL is the environment's ``endpoints.ws``, else the feed file's current
``prod`` endpoint. Credentials come from the environment's ``kalshi`` key (``api_key`` =
key id, ``api_secret`` = RSA private key PEM text or path) and sign every connection
attempt afresh. An environment that enables the simulator without endpoint overrides
uses the simulator (started in-process if none is running).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def ws_endpoint(env: Environment, override: str | None = None) -> AsyncIterator[str]:
    """The URL to connect to for the connector's lifetime: ``override``, else the
    environment's ``endpoints.ws``, else its simulator (started here when none runs for
    the environment), else the feed file's."""
    if override is not None:
        yield check_ws_url(override, "connector")
    elif env.simulator.enabled and env.endpoints.ws is None:
        from ssmd.simulator import ensure_running

        async with ensure_running(env) as (ws_url, _rest_url):
            yield ws_url
    elif env.endpoints.ws is not None:
        yield check_ws_url(env.endpoints.ws, env.name)
    else:
        yield check_ws_url(feed_ws_url(env), f"feed {env.feed}")
