"""Order books read from REST (``GET /markets/{ticker}/orderbook``) when a WebSocket
resnapshot fails, published as snapshot records (``sid = seq = 0``) like any other.

A REST book carries no sequence number: it is the book when the request was answered, and
the deltas that follow on the subscription apply to it. Deltas between the refused
resnapshot and the REST answer are kept raw only, as they are while any resync waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssmd import codec
from ssmd.clock import Clock
from ssmd.config.model import Environment
from ssmd.kalshi.rest import KalshiRest
from ssmd.kalshi.rest_records import orderbook_record
from ssmd.log import get_logger
from ssmd.subjects import record_subject

if TYPE_CHECKING:
    from ssmd.middleware.transport.base import Transport

log = get_logger("connector")


class RestBooks:
    def __init__(self, env: Environment, transport: Transport, clock: Clock) -> None:
        self.env = env
        self.transport = transport
        self.clock = clock
        self.published = 0
        self._rest: KalshiRest | None = None

    def _client(self) -> KalshiRest:
        if self._rest is None:
            from ssmd.secmaster.fetch import rest_url

            self._rest = KalshiRest(rest_url(self.env), requests_per_second=self.env.secmaster.requests_per_second,
                                    attempts=3)
        return self._rest

    async def publish(self, ticker: str, conn: str) -> None:
        """Read ``ticker``'s book and publish it as a snapshot; raises when REST fails."""
        book = await self._client().orderbook(ticker)
        now = self.clock.now_ns()
        record = orderbook_record(ticker, book, now)
        await self.transport.publish(record_subject(self.env.name, self.env.feed, "orderbook", ticker),
                                     codec.encode(record), headers={"received_at": str(now), "conn": conn})
        self.published += 1
        log.info("order book read from REST", ticker=ticker, yes_levels=len(record.yes), no_levels=len(record.no))

    async def close(self) -> None:
        if self._rest is not None:
            await self._rest.close()
            self._rest = None
