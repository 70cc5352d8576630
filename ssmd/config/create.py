"""Render a new environment file with the embedded defaults (``ssmd env create``)."""

from __future__ import annotations


def render_environment(name: str, feed: str, schema: str) -> str:
    return f"""\
# Environment {name}: embedded defaults (one process, no servers).
# Switch transport/storage/cache to nats/s3/redis for a distributed deployment.
name: {name}
feed: {feed}
schema: {schema}

schedule:
  timezone: UTC
  day_start: "00:10"
  day_end: "00:00"
  auto_roll: true

transport:
  type: memory

storage:
  type: local
  path: ${{SSMD_DATA_DIR:-./ssmd-data}}
  buckets:
    raw: raw
    normalized: normalized

cache:
  type: local

journal:
  type: file

subscriptions:
  channels: [ticker, trade, market_lifecycle_v2]
  markets: all

simulator:
  enabled: true
"""
