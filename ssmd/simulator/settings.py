"""Settings of the simulator, and how to build them from an environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ssmd.clock import Clock, SystemClock
from ssmd.errors import ConfigError

if TYPE_CHECKING:
    from ssmd.config.model import Environment

AuthMode = Literal["open", "required", "optional"]


@dataclass
class SimSettings:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    seed: int = 7
    markets: int = 20
    """Regular markets in the universe (spread over series and events)."""
    mve_markets: int = 0
    """Extra multivariate (``KXMVE*``) markets, REST only."""
    rate: float = 50.0
    """Data messages per second across all markets; 0 = none unless ``pump()`` is called;
    ``inf`` = as fast as the slowest client reads."""
    epoch_ns: int | None = None
    """Anchor of the universe's times (default: the clock's now at start)."""
    auth: AuthMode = "open"
    """``required``: a signed upgrade is needed; ``optional``: unsigned connections are
    allowed but private channels answer error 9 (signed ones are verified); ``open``: no
    checks at all, every connection may use every channel."""
    public_keys: dict[str, str] = field(default_factory=dict)
    """Key id -> public (or private) key PEM text or file path."""
    refuse_status: int = 401
    """Status of a refused upgrade: 401, or 403 with body ``Forbidden\\n`` (CloudFront)."""
    max_skew_seconds: float = 5.0
    ping_interval: float = 10.0
    max_missed_pongs: int | None = None
    """Close the connection (1011) after this many unanswered pings; None never."""
    market_limit: int = 256
    """Markets per subscription (error 26 beyond)."""
    commands_per_second: float | None = None
    """Command budget per connection (error 27 beyond); None = unlimited."""
    buffer_limit: int = 200_000
    """Frames queued per connection before its subscriptions overflow (error 25)."""
    interleave: bool = True
    """Send one data frame for existing subscriptions before each command's ack."""
    legacy_ticker: bool = False
    """Ticker frames in the removed integer-cent shape (``Clock``, ``price_dollars: ""``)."""
    lifecycle_interval: float = 30.0
    """Seconds between scripted lifecycle steps; 0 = only when driven by the API."""
    rest_tokens_per_second: float = 200.0
    rest_bucket: float = 200.0
    rest_cost: float = 10.0
    replay: str | None = None
    """A raw archive (``.jsonl`` / ``.jsonl.zst``) to replay instead of generating data."""
    replay_speed: float = 1.0
    """1 = recorded pace, 10 = ten times faster, 0 = as fast as possible."""
    replay_wait: float = 5.0
    """Seconds to wait for subscriptions to every replayed channel before starting."""
    trade_history: int = 2_000_000
    """Trades the exchange remembers for REST (``/markets/trades``) and ``Simulator.trades``."""
    history_hours: float = 0.0
    """Simulate this much past before start: settled markets and trades (0 = none)."""
    live_window_hours: float = 2160.0
    """The historical cutoff is this long before start: older trades, and markets settled
    before it, are served only by the ``/historical`` endpoints."""
    history_markets: int = 8
    """Past events (1-6 markets each) that closed and settled during the history."""
    history_trades: int = 20_000
    """About how many trades the history holds, spread over every market open in it."""
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_env(cls, env: Environment) -> SimSettings:
        """Settings from the environment's ``simulator`` section.

        With ``require_auth`` the first ``api_key`` key of the environment is trusted:
        its ``api_key`` field is the key id and its private key's public half verifies.
        """
        sim = env.simulator
        settings = cls(host=sim.host, port=sim.port, seed=sim.seed, markets=sim.markets, rate=sim.rate,
                       history_hours=sim.history_hours, live_window_hours=sim.live_window_hours,
                       history_trades=sim.history_trades)
        if sim.require_auth:
            from ssmd.config.keys import resolve_key

            settings.auth = "required"
            for name, spec in env.keys.items():
                if spec.type != "api_key":
                    continue
                values = resolve_key(env, name)
                key_id = values.get("api_key")
                pem = values.get("public_key") or values.get("api_secret") or values.get("private_key")
                if key_id is not None and pem is not None:
                    settings.public_keys[key_id.reveal()] = pem.reveal()
                break
            if not settings.public_keys:
                raise ConfigError(env.name, "simulator.require_auth",
                                  "needs a key of type api_key with fields api_key and api_secret")
        return settings
