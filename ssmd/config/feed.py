"""Feed files (``exchanges/feeds/*.yaml``): endpoints, auth, limits, by version."""

from __future__ import annotations

from datetime import date

import msgspec


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class FeedEndpoints(_Strict):
    ws: str
    rest: str


class RateLimits(_Strict):
    read_tokens_per_second: float = 200.0
    write_tokens_per_second: float = 100.0
    tokens_per_request: int = 10


class FeedLimits(_Strict):
    markets_per_subscription: int = 256
    markets_per_connection: int = 200


class FeedVersion(_Strict):
    version: str
    effective_from: date
    protocol: str
    auth: str
    """Request signing method, e.g. ``rsa-pss-sha256``."""
    endpoints: dict[str, FeedEndpoints]
    """Endpoints by exchange environment (``prod``, ``demo``)."""
    channels: list[str]
    rate_limits: RateLimits = msgspec.field(default_factory=RateLimits)
    limits: FeedLimits = msgspec.field(default_factory=FeedLimits)
    ping_interval_seconds: float = 10.0
    stale_after_seconds: float = 30.0


class Feed(_Strict):
    name: str
    versions: list[FeedVersion]
    description: str = ""

    def current(self, on: date | None = None) -> FeedVersion:
        """The newest version in effect on ``on`` (default: the newest of all)."""
        usable = [v for v in self.versions if on is None or v.effective_from <= on]
        if not usable:
            raise LookupError(f"feed {self.name} has no version in effect on {on}")
        return max(usable, key=lambda v: v.effective_from)
