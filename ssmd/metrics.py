"""Every Prometheus metric ssmd exports, in one place, with the seed design's names.

Components import the metric objects from here; ``serve(host, port)`` exposes them at
``/metrics``. Labels never carry secrets. Per-symbol gauges are removed when the symbol
goes away, so cardinality follows the live subscription set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# --- connector (seed) ---
CONNECTOR_MESSAGES_RECEIVED = Counter(
    "ssmd_connector_messages_received_total", "Frames received from the exchange, by message type.",
    ["feed", "type"], registry=REGISTRY,
)
CONNECTOR_MESSAGES_PUBLISHED = Counter(
    "ssmd_connector_messages_published_total", "Messages published to the transport (raw + normalized).",
    ["feed"], registry=REGISTRY,
)
CONNECTOR_LAG = Gauge(
    "ssmd_connector_lag_seconds", "Receive time minus exchange time of the latest timestamped message.",
    ["feed"], registry=REGISTRY,
)
CONNECTOR_ERRORS = Counter(
    "ssmd_connector_errors_total", "Connector errors by kind (parse, unknown_type, gap, publish, auth, ...).",
    ["feed", "error_type"], registry=REGISTRY,
)
# --- connector (added) ---
CONNECTOR_CONNECTED = Gauge(
    "ssmd_connector_connected", "1 when the WebSocket connection is up.", ["feed", "connection"], registry=REGISTRY,
)
CONNECTOR_RECONNECTS = Counter(
    "ssmd_connector_reconnects_total", "Reconnect attempts after a lost connection.", ["feed"], registry=REGISTRY,
)
CONNECTOR_GAPS = Counter(
    "ssmd_connector_gaps_total", "Sequence gaps and outages recorded.", ["feed", "channel"], registry=REGISTRY,
)
CONNECTOR_FREEZES = Counter(
    "ssmd_connector_freezes_total", "Channels found frozen (connection alive, no data past the channel's limit).",
    ["feed", "channel"], registry=REGISTRY,
)
CONNECTOR_SUBSCRIBED_MARKETS = Gauge(
    "ssmd_connector_subscribed_markets", "Markets subscribed per channel.", ["feed", "channel"], registry=REGISTRY,
)
CONNECTOR_MARKET_OVERFLOW = Counter(
    "ssmd_connector_market_overflow_total", "Markets that could not be placed on any connection.",
    ["feed"], registry=REGISTRY,
)
CONNECTOR_READ_PAUSES = Counter(
    "ssmd_connector_read_pauses_total",
    "Times a connection stopped reading the exchange because its publisher was behind (TCP then slows the "
    "exchange; no frame is dropped).", ["feed"], registry=REGISTRY,
)
CONNECTOR_DLQ = Counter(
    "ssmd_connector_dead_letters_total", "Frames sent to the dead-letter subject.", ["feed"], registry=REGISTRY,
)

# --- gateway (seed) ---
GATEWAY_CLIENTS = Gauge("ssmd_gateway_clients_connected", "Connected gateway clients.", registry=REGISTRY)
GATEWAY_MESSAGES_SENT = Counter(
    "ssmd_gateway_messages_sent_total", "Messages sent to clients, by message type.", ["type"], registry=REGISTRY,
)
GATEWAY_SUBSCRIPTIONS = Gauge(
    "ssmd_gateway_subscriptions_active", "Clients subscribed, by symbol.", ["symbol"], registry=REGISTRY,
)
# --- gateway (added: backpressure) ---
GATEWAY_SLOW_CONSUMERS = Gauge(
    "ssmd_gateway_slow_consumers", "Clients currently lagging or dropping.", registry=REGISTRY,
)
GATEWAY_DROPPED = Counter(
    "ssmd_gateway_messages_dropped_total", "Messages dropped for clients, by reason.", ["reason"], registry=REGISTRY,
)
GATEWAY_BUFFER_UTILISATION = Histogram(
    "ssmd_gateway_client_buffer_utilisation", "Fill ratio of client buffers when a message is queued.",
    buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 1.0), registry=REGISTRY,
)
GATEWAY_CLIENT_LAG = Histogram(
    "ssmd_gateway_client_lag_seconds", "Time a message waited in a client buffer before it was sent.",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5), registry=REGISTRY,
)
GATEWAY_DISCONNECTS = Counter(
    "ssmd_gateway_disconnects_total", "Client disconnects, by reason.", ["reason"], registry=REGISTRY,
)
GATEWAY_REFUSED = Counter(
    "ssmd_gateway_connections_refused_total",
    "Connection attempts refused before the WebSocket opened, by reason (busy, auth, stopping).",
    ["reason"], registry=REGISTRY,
)

# --- archiver (seed) ---
ARCHIVER_BYTES_WRITTEN = Counter(
    "ssmd_archiver_bytes_written_total", "Bytes written to storage, by bucket (raw, normalized).",
    ["bucket"], registry=REGISTRY,
)
ARCHIVER_FILES_WRITTEN = Counter(
    "ssmd_archiver_files_written_total", "Files written to storage, by bucket.", ["bucket"], registry=REGISTRY,
)
# --- archiver (added) ---
ARCHIVER_RECORDS_WRITTEN = Counter(
    "ssmd_archiver_records_written_total", "Records written, by record type.", ["type"], registry=REGISTRY,
)
ARCHIVER_LAG = Gauge(
    "ssmd_archiver_lag_seconds", "Age of the oldest record not yet durably written.", registry=REGISTRY,
)
ARCHIVER_FLUSH_SECONDS = Histogram(
    "ssmd_archiver_flush_seconds", "Time to flush a batch to storage.", ["bucket"], registry=REGISTRY,
)
ARCHIVER_BUFFERED = Gauge(
    "ssmd_archiver_buffered_records", "Records held in memory awaiting a successful write.", registry=REGISTRY,
)
ARCHIVER_WRITE_ERRORS = Counter(
    "ssmd_archiver_write_errors_total", "Failed writes to storage (retried).", ["bucket"], registry=REGISTRY,
)

# --- middleware / platform ---
CACHE_DEGRADED = Gauge(
    "ssmd_cache_degraded", "1 while the cache is unreachable and callers bypass it.", registry=REGISTRY,
)
CIRCUIT_BREAKER_OPEN = Gauge(
    "ssmd_circuit_breaker_open",
    "1 while a dependency is unreachable and bypassed or retried: cache (Redis), storage (archive writes), nats.",
    ["dependency"], registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "ssmd_dead_letters_total", "Messages sent to a dead-letter subject, by component.", ["component"],
    registry=REGISTRY,
)
KEY_EXPIRY = Gauge(
    "ssmd_key_expiry_seconds", "Seconds until a key is due for rotation (negative: overdue).", ["key"],
    registry=REGISTRY,
)
SECMASTER_MARKETS = Gauge("ssmd_secmaster_markets", "Markets known, by status.", ["status"], registry=REGISTRY)
SECMASTER_SYNC_SECONDS = Histogram(
    "ssmd_secmaster_sync_seconds", "Duration of secmaster syncs.", ["kind"], registry=REGISTRY,
)
SECMASTER_SYNC_ERRORS = Counter("ssmd_secmaster_sync_errors_total", "Failed syncs.", registry=REGISTRY)
SECMASTER_FIELD_COERCIONS = Counter(
    "ssmd_secmaster_field_coercions_total",
    "REST market/event/series fields that did not fit their type and were coerced or defaulted.",
    ["kind", "field"], registry=REGISTRY,
)
SECMASTER_OBJECTS_SKIPPED = Counter(
    "ssmd_secmaster_objects_skipped_total", "REST markets/events/series left out: they could not be kept.",
    ["kind"], registry=REGISTRY,
)
DAY_STATE = Gauge(
    "ssmd_day_state", "1 for the trading day's current state.", ["state"], registry=REGISTRY,
)
COMPONENT_UP = Gauge("ssmd_component_up", "1 while a supervised task runs.", ["component"], registry=REGISTRY)
COMPONENT_RESTARTS = Counter(
    "ssmd_component_restarts_total", "Restarts of a supervised task.", ["component"], registry=REGISTRY,
)

HEALER_GAPS = Counter(
    "ssmd_healer_gaps_total", "Trade gaps the healer finished, by outcome (healed | failed).", ["outcome"],
    registry=REGISTRY,
)
HEALER_TRADES = Counter(
    "ssmd_healer_trades_recovered_total", "Trades archived from REST that the live feed missed.", registry=REGISTRY,
)
HEALER_PENDING = Gauge("ssmd_healer_pending_gaps", "Trade gaps waiting to be healed.", registry=REGISTRY)


def serve(host: str, port: int) -> int:
    """Serve ``/metrics`` on a background thread; returns the bound port."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    return int(server.server_address[1])


def render() -> bytes:
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY)
