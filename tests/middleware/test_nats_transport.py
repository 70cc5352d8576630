"""What only the NATS transport needs to show: stream settings, shared streams, errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ssmd.config.model import JetStreamConfig
from ssmd.errors import TransportError
from ssmd.middleware.transport.nats import NatsTransport
from tests.servers import free_port


async def test_stream_takes_the_configured_limits(nats_server: Any) -> None:
    env = f"t{uuid.uuid4().hex[:8]}"
    bus = NatsTransport(nats_server.url, env, JetStreamConfig(stream=f"ssmd-{env}", max_age_hours=2,
                                                              duplicate_window_seconds=30))
    await bus.ensure_stream()
    await bus.ensure_stream()
    info = await bus.stream_info()
    assert info.config.subjects == [f"{env}.>"]
    assert (info.config.max_age, info.config.duplicate_window) == (7200, 30)
    assert info.config.discard == "old"
    await bus.close()


async def test_two_environments_can_share_one_stream(nats_server: Any) -> None:
    stream = f"shared-{uuid.uuid4().hex[:8]}"
    a, b = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    bus_a = NatsTransport(nats_server.url, a, JetStreamConfig(stream=stream))
    bus_b = NatsTransport(nats_server.url, b, JetStreamConfig(stream=stream))
    await bus_a.ensure_stream()
    await bus_b.ensure_stream()
    await bus_a.publish(f"{a}.kalshi.trade.T", b"a")
    await bus_b.publish(f"{b}.kalshi.trade.T", b"b")
    assert sorted((await bus_a.stream_info()).config.subjects) == sorted([f"{a}.>", f"{b}.>"])
    assert await bus_a.purge(f"{a}.>") == 1
    assert (await bus_b.count(f"{b}.>"), await bus_a.count(f"{a}.>")) == (1, 0)
    await bus_a.close()
    await bus_b.close()


async def test_unreachable_server_is_one_clear_error() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    bus = NatsTransport(url, "e")
    with pytest.raises(TransportError, match=f"cannot connect to {url}"):
        await bus.connect()


async def test_count_of_a_missing_stream_is_zero(nats_server: Any) -> None:
    bus = NatsTransport(nats_server.url, "e", JetStreamConfig(stream=f"none-{uuid.uuid4().hex[:8]}"))
    assert await bus.count("e.>") == 0
    with pytest.raises(TransportError, match="does not exist"):
        await bus.stream_info()
    await bus.close()


async def test_headers_travel_in_one_nats_header_and_messages_written_one_header_per_field_still_read(
        nats_server: Any) -> None:
    import nats

    from ssmd.middleware.transport.nats import HEADERS

    env = f"h{uuid.uuid4().hex[:8]}"
    bus = NatsTransport(nats_server.url, env, JetStreamConfig(stream=f"ssmd-{env}"))
    await bus.ensure_stream()
    odd = {"received_at": "17", "conn": "c1", "error": 'a "quoted"\r\nline: ünïcode'}
    nc = await nats.connect(nats_server.url)
    await bus.publish(f"{env}.kalshi.raw.trade", b"new", odd, msg_id="m1")
    stored = await nc.jetstream().get_last_msg(f"ssmd-{env}", f"{env}.kalshi.raw.trade")
    assert set(stored.headers or {}) == {HEADERS, "Nats-Msg-Id"}  # one header line for every field
    await nc.jetstream().publish(f"{env}.kalshi.raw.trade", b"old", headers={"received_at": "18", "conn": "c2"})
    await nc.close()
    consumer = await bus.subscribe(f"{env}.kalshi.raw.>")
    got = []
    while len(got) < 2:
        got.extend(await consumer.next_batch(10, timeout=5))
    assert [m.data for m in got] == [b"new", b"old"]
    assert [m.headers for m in got] == [odd, {"received_at": "18", "conn": "c2"}]
    await consumer.close()
    await bus.close()
