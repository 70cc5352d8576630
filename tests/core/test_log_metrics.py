"""JSON logs in the seed's shape; metrics with the seed's exact names."""

from __future__ import annotations

import io
import json
import re

from ssmd import log, metrics


def test_json_log_line_shape() -> None:
    out = io.StringIO()
    log.configure("info", stream=out, human=False)
    log.get_logger("connector").info("connected to kalshi", symbols=42)
    log.get_logger("connector").debug("not shown")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert list(entry)[:4] == ["level", "ts", "component", "msg"]
    assert entry["level"] == "info" and entry["component"] == "connector"
    assert entry["msg"] == "connected to kalshi" and entry["symbols"] == 42
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])


def test_seed_metric_names_and_labels() -> None:
    metrics.CONNECTOR_MESSAGES_RECEIVED.labels(feed="kalshi", type="trade").inc()
    metrics.CONNECTOR_MESSAGES_PUBLISHED.labels(feed="kalshi").inc()
    metrics.CONNECTOR_LAG.labels(feed="kalshi").set(0.1)
    metrics.CONNECTOR_ERRORS.labels(feed="kalshi", error_type="parse").inc()
    metrics.GATEWAY_CLIENTS.set(1)
    metrics.GATEWAY_MESSAGES_SENT.labels(type="trade").inc()
    metrics.GATEWAY_SUBSCRIPTIONS.labels(symbol="INXD-25-B4000").set(1)
    metrics.ARCHIVER_BYTES_WRITTEN.labels(bucket="raw").inc(10)
    metrics.ARCHIVER_FILES_WRITTEN.labels(bucket="normalized").inc()
    text = metrics.render().decode()
    for sample in (
        'ssmd_connector_messages_received_total{feed="kalshi",type="trade"}',
        'ssmd_connector_messages_published_total{feed="kalshi"}',
        'ssmd_connector_lag_seconds{feed="kalshi"}',
        'ssmd_connector_errors_total{error_type="parse",feed="kalshi"}',
        "ssmd_gateway_clients_connected ",
        'ssmd_gateway_messages_sent_total{type="trade"}',
        'ssmd_gateway_subscriptions_active{symbol="INXD-25-B4000"}',
        'ssmd_archiver_bytes_written_total{bucket="raw"}',
        'ssmd_archiver_files_written_total{bucket="normalized"}',
    ):
        assert sample in text, sample
