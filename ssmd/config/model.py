"""The environment file, as typed Structs. Each field's docstring is its reference.

Unknown fields are errors (``forbid_unknown_fields``); see ``ssmd.config.load`` for the
cross-field checks (times, timezone, feed, schema, keys).
"""

from __future__ import annotations

from typing import Literal

import msgspec


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    pass


class Schedule(_Strict):
    timezone: str = "UTC"
    """IANA timezone of the trading day, e.g. ``UTC`` or ``America/New_York``."""
    day_start: str = "00:10"
    """Local time ("HH:MM") at which the day starts (secmaster sync, connector up)."""
    day_end: str = "00:00"
    """Local time ("HH:MM") at which the day ends; earlier than day_start means next day."""
    auto_roll: bool = True
    """Roll to the next day automatically at day_end."""


class KeySpec(_Strict):
    type: Literal["api_key", "gateway_api_key", "secret"]
    """``api_key`` for an exchange key pair, ``gateway_api_key`` for client keys of the
    gateway, ``secret`` for anything else."""
    fields: list[str]
    """Field names of the key, e.g. ``[api_key, api_secret]``."""
    source: str | None = None
    """Where values come from: ``env`` ({KEY}_{FIELD} variables), ``file:DIR`` (one file
    per field) or ``sealed-secret/NAME`` (the mounted secret NAME under the secrets root)."""
    required: bool = True
    """Whether the environment cannot run without this key."""
    description: str | None = None
    rotation_days: int | None = None
    """Rotate at least this often; ``ssmd key list`` warns when it is due."""


class JetStreamConfig(_Strict):
    enabled: bool = True
    stream: str = "ssmd"
    """Stream name; it holds ``{env}.>``."""
    max_age_hours: float = 24.0
    """Messages older than this are discarded (discard policy: old)."""
    duplicate_window_seconds: float = 120.0
    """Window within which a repeated ``Nats-Msg-Id`` is dropped."""
    max_bytes: int = -1
    """Stream size limit in bytes, -1 for none."""
    replicas: int = 1


class TransportConfig(_Strict):
    type: Literal["memory", "nats"] = "memory"
    """``memory`` (in-process bus) or ``nats`` (NATS JetStream)."""
    url: str | None = None
    """NATS URL, e.g. ``nats://127.0.0.1:4222``; required for ``nats``."""
    jetstream: JetStreamConfig = msgspec.field(default_factory=JetStreamConfig)


class Buckets(_Strict):
    raw: str = "ssmd-raw"
    """Bucket (or folder, for local storage) of the raw JSONL.zst archive."""
    normalized: str = "ssmd-normalized"
    """Bucket (or folder) of the normalized Parquet archive."""


class StorageConfig(_Strict):
    type: Literal["local", "s3", "memory"] = "local"
    """``local`` (folders under ``path``), ``s3`` (S3-compatible) or ``memory`` (tests)."""
    path: str | None = None
    """Root folder for ``local`` storage; the catalog and local cache live here too."""
    endpoint: str | None = None
    """S3 endpoint URL (Garage, MinIO, ...); omit for AWS."""
    region: str | None = None
    buckets: Buckets = msgspec.field(default_factory=Buckets)


class CacheConfig(_Strict):
    type: Literal["local", "memory", "redis"] = "local"
    """``local`` (one file shared by every ssmd process), ``memory`` or ``redis``."""
    url: str | None = None
    """Redis URL, e.g. ``redis://127.0.0.1:6379/0``; required for ``redis``."""
    path: str | None = None
    """File of the local cache; default ``{storage.path}/cache.sqlite``."""


class JournalConfig(_Strict):
    type: Literal["file", "memory", "jetstream"] | None = None
    """Default follows the transport: ``jetstream`` on NATS, otherwise ``file``."""
    path: str | None = None
    """Folder of the file journal; default ``{storage.path}/journal``."""


class GatewayConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = None
    """Name of a ``gateway_api_key`` entry in ``keys``; when set, clients must present one
    of its values as ``X-API-Key``."""
    buffer_messages: int = 10_000
    """Per-client buffer bound, in messages."""
    buffer_bytes: int = 8 * 1024 * 1024
    """Per-client buffer bound, in bytes."""
    drop_policy: Literal["drop_oldest", "drop_newest", "disconnect"] = "drop_oldest"
    """What to do when a realtime client's buffer is full."""
    connect_rate: float = 500.0
    """New connections admitted per second (a token bucket holding ``connect_burst``);
    an attempt beyond it gets HTTP 503 with ``Retry-After`` before any WebSocket work, so a
    reconnect storm cannot starve the connected clients' fan-out. 0 admits every attempt."""
    connect_burst: int = 1000
    """New connections admitted at once before ``connect_rate`` applies."""


class MetricsConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = 9464
    """Prometheus ``/metrics`` port; 0 disables the endpoint."""


class ControlConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = 8766
    """Port of the local control/status API of ``ssmd up``."""


class MarketSelector(_Strict):
    series: list[str] = []
    """Series tickers, e.g. ``[KXBTCD]``."""
    categories: list[str] = []
    """Series categories, e.g. ``[Crypto]``."""
    status: list[str] = msgspec.field(default_factory=lambda: ["active", "initialized"])
    """Market statuses to follow."""
    tickers: list[str] = []
    """Extra market tickers, always included."""


class SubscriptionConfig(_Strict):
    channels: list[str] = msgspec.field(
        default_factory=lambda: ["ticker", "trade", "market_lifecycle_v2"]
    )
    """Kalshi channels to subscribe to."""
    markets: Literal["all"] | list[str] | MarketSelector = "all"
    """``all``, a list of tickers, or a selector by series/category/status."""
    markets_per_subscription: int = 256
    markets_per_connection: int = 200


class ConnectorConfig(_Strict):
    freeze_detection: bool = True
    """Replace a connection whose channel stays silent past its limit while pings still flow
    (a silent freeze); off leaves only the ping watchdog (the feed's ``stale_after_seconds``)."""
    freeze_floor_seconds: float = 20.0
    """Silence a busy channel may have before it is frozen."""
    freeze_factor: float = 20.0
    """A channel is frozen after this many times its usual silence, when that is above the floor."""
    freeze_cap_seconds: float = 600.0
    """No channel is given more silence than this, however slow its usual rhythm."""
    freeze_min_observations: int = 10
    """Moments of activity a channel must have shown before it is judged."""
    freeze_sample_seconds: float = 0.5
    """How often each channel's activity is sampled; the usual silence learnt is never below
    it, so a channel's limit is at least ``freeze_factor`` samples."""


class SimulatorConfig(_Strict):
    enabled: bool = False
    """Run the built-in Kalshi simulator in-process and point the feed at it."""
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    seed: int = 7
    markets: int = 20
    """Number of markets it lists."""
    rate: float = 50.0
    """Data messages per second across all markets."""
    require_auth: bool = False
    """Verify request signatures (needs a key with ``api_key`` and a public key)."""
    history_hours: float = 0.0
    """Hours of simulated past (settled markets and trades) before start; 0 = none."""
    live_window_hours: float = 2160.0
    """The historical cutoff is this long before start (older data: ``/historical`` only)."""
    history_trades: int = 20_000
    """About how many trades the simulated past holds."""


class Endpoints(_Strict):
    ws: str | None = None
    """Kalshi-protocol WebSocket URL; overrides the feed's."""
    rest: str | None = None
    """Kalshi-protocol REST base URL (ending in ``/trade-api/v2``); overrides the feed's."""


class ArchiverConfig(_Strict):
    flush_interval_seconds: float = 2.0
    """Flush buffered records to Parquet at least this often."""
    flush_rows: int = 100_000
    """Flush when this many rows are buffered."""
    raw_flush_interval_seconds: float = 0.25
    """Append buffered raw frames at least this often (local storage; on object storage,
    where each flush rewrites the open file, raw files follow ``flush_interval_seconds``).
    The raw archive is the log of record: on the embedded bus a crash loses at most about
    this much of it, as an append is one small zstd frame."""
    raw_rotate_seconds: float = 300.0
    """Start a new raw file after this long."""
    raw_rotate_bytes: int = 64 * 1024 * 1024
    """Start a new raw file once one holds this many compressed bytes."""


class SecmasterConfig(_Strict):
    refresh_minutes: float = 5.0
    """Incremental sync interval while the day is active."""
    requests_per_second: float = 20.0
    """Client-side pacing of REST reads."""


class HealerConfig(_Strict):
    enabled: bool = True
    """Fill trade gaps (outages, seq holes, refused subscriptions) from REST after they close."""
    settle_seconds: float | None = None
    """Wait this long after a gap closes before healing it, so the live trades around it are
    archived first (default: the archiver's flush interval + 2 s)."""
    lookback_seconds: float = 30.0
    """A seq hole has no start time of its own: fetch this far back from where it was seen."""
    margin_seconds: float = 2.0
    """Widen every gap's window by this much on both sides."""
    requests_per_second: float = 10.0
    """Client-side pacing of the healer's REST reads (shares Kalshi's limit with the secmaster)."""
    attempts: int = 5
    """Heal attempts per gap before it is recorded as failed."""


class OrchestratorConfig(_Strict):
    type: Literal["local", "temporal"] = "local"
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "ssmd"


class Environment(_Strict):
    name: str
    """Environment name; prefixes every subject, key and object path."""
    feed: str
    """Feed name: a file in ``exchanges/feeds/``."""
    schema: str
    """Schema(s) as ``type:version``, comma-separated, e.g. ``trade:v1``."""
    schedule: Schedule = msgspec.field(default_factory=Schedule)
    keys: dict[str, KeySpec] = {}
    transport: TransportConfig = msgspec.field(default_factory=TransportConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    cache: CacheConfig = msgspec.field(default_factory=CacheConfig)
    journal: JournalConfig = msgspec.field(default_factory=JournalConfig)
    gateway: GatewayConfig = msgspec.field(default_factory=GatewayConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    control: ControlConfig = msgspec.field(default_factory=ControlConfig)
    subscriptions: SubscriptionConfig = msgspec.field(default_factory=SubscriptionConfig)
    connector: ConnectorConfig = msgspec.field(default_factory=ConnectorConfig)
    simulator: SimulatorConfig = msgspec.field(default_factory=SimulatorConfig)
    endpoints: Endpoints = msgspec.field(default_factory=Endpoints)
    archiver: ArchiverConfig = msgspec.field(default_factory=ArchiverConfig)
    secmaster: SecmasterConfig = msgspec.field(default_factory=SecmasterConfig)
    healer: HealerConfig = msgspec.field(default_factory=HealerConfig)
    orchestrator: OrchestratorConfig = msgspec.field(default_factory=OrchestratorConfig)

    @property
    def journal_type(self) -> str:
        if self.journal.type is not None:
            return self.journal.type
        return "jetstream" if self.transport.type == "nats" else "file"

    @property
    def schemas(self) -> list[tuple[str, str]]:
        """``schema`` split into (type, version) pairs."""
        pairs = []
        for item in self.schema.split(","):
            kind, _, version = item.strip().partition(":")
            pairs.append((kind, version))
        return pairs
