"""New connections beyond the gateway's budget get HTTP 503 before any WebSocket work,
and the clients already connected keep their stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from ssmd import metrics
from ssmd.bucket import TokenBucket
from tests.gateway.conftest import make_env, recv, recv_until, running
from tests.gateway.records import A, trade


def _refused() -> float:
    return metrics.REGISTRY.get_sample_value("ssmd_gateway_connections_refused_total", {"reason": "busy"}) or 0.0


def test_token_bucket_spends_its_burst_then_refills_at_its_rate() -> None:
    b = TokenBucket(rate=2, burst=3)
    assert [b.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert not b.take(10.4) and b.take(10.5)  # 0.5 s at 2/s: one token
    assert [b.take(100.0) for _ in range(4)] == [True, True, True, False]  # never more than the burst


async def test_attempts_over_the_budget_get_503_with_a_reason_and_the_connected_keep_streaming(
        tmp_path: Path) -> None:
    async with running(make_env(tmp_path, connect_rate=0.5, connect_burst=3)) as h:
        await h.known(trade(A, n=0))  # the burst's first token
        before = _refused()
        async with h.client(f"?symbols={A}") as kept:
            assert (await recv(kept))["type"] == "subscribed"
            async with h.client():
                pass  # the burst's last token
            with pytest.raises(InvalidStatus) as info:
                async with h.client():
                    pass
            response = info.value.response
            assert response.status_code == 503 and response.headers["Retry-After"] == "1"
            assert "too many new connections" in json.loads(response.body)["error"]
            assert _refused() == before + 1
            await h.publish(trade(A, n=1))
            assert (await recv_until(kept, lambda m: m["type"] == "trade"))[0]["trade_id"] == "t1"
            await asyncio.sleep(2.1)  # one token back at 0.5/s
            async with h.client() as again:
                await again.ping()


@pytest.mark.parametrize("request_line", [b"", b"GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n"])
async def test_a_refused_socket_gets_the_reply_then_eof_whether_or_not_it_sends(
        tmp_path: Path, request_line: bytes) -> None:
    async with running(make_env(tmp_path, connect_rate=0.01, connect_burst=1)) as h:
        port = int(h.url.split(":")[2].split("/")[0])
        async with h.client():
            pass
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_line)
        reply = await asyncio.wait_for(reader.read(), 5)  # read() ends at EOF: the gateway half-closed
        writer.close()
        assert reply.startswith(b"HTTP/1.1 503 ") and b"too many new connections" in reply
