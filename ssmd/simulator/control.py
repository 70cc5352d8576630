"""Test-facing controls of the simulator: fault switches, lifecycle drivers, counters.

Every switch takes effect at once on the running server and can be turned off again.
Lifecycle drivers change a market and send the ``market_lifecycle_v2`` messages Kalshi
would send for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ssmd.simulator import frames
from ssmd.simulator.engine import Event, MarketEngine
from ssmd.simulator.tape import TapeTrade

if TYPE_CHECKING:
    from ssmd.simulator.connection import Conn
    from ssmd.simulator.rest_data import ExchangeState
    from ssmd.simulator.settings import SimSettings
    from ssmd.simulator.simulator import Faults

UNKNOWN = "unknown"


class ControlMixin:
    if TYPE_CHECKING:
        engine: MarketEngine
        conns: dict[str, Conn]
        faults: Faults
        settings: SimSettings
        hidden_until: dict[str, float]
        closed_counts: dict[str, dict[str, int]]
        closed_logs: dict[str, list[bytes]]
        exchange: ExchangeState

        def dispatch(self, events: list[Event]) -> None: ...
        def loop_time(self) -> float: ...

    def _now(self) -> int:
        return self.settings.clock.now_ns()

    # -- WebSocket faults ----------------------------------------------------------------
    def skip_seq(self, channel: str, count: int = 1) -> None:
        """The next ``count`` frames of each connection's ``channel`` subscriptions are lost:
        their seqs are used up but they are never sent, so the next frame jumps ``count``
        seqs (the lost trades are still on the exchange's tape, served by REST)."""
        for conn in self.conns.values():
            conn.session.skip[channel] = conn.session.skip.get(channel, 0) + count

    def refuse_snapshots(self, count: int = 1) -> None:
        """The next ``count`` ``get_snapshot`` commands of each connection answer error 18
        (the WebSocket resnapshot fails; the book is still served by REST)."""
        for conn in self.conns.values():
            conn.session.refuse_snapshots += count

    def duplicate_next(self, channel: str, count: int = 1) -> None:
        """The next ``count`` frames on ``channel`` are each sent twice (same sid/seq)."""
        for conn in self.conns.values():
            conn.session.dup[channel] = conn.session.dup.get(channel, 0) + count

    def send_error(self, channel: str, code: int = 10) -> int:
        """A terminal error (10 channel error, 25 buffer overflow, ...) on every subscription
        of ``channel``; those sids then stay silent. Returns how many were ended."""
        ended = 0
        for conn in self.conns.values():
            out = conn.session.kill(channel, code)
            ended += len(out)
            conn.push(out)
        return ended

    def send_raw(self, frame: str | bytes, channel: str = UNKNOWN) -> None:
        """Send one frame as is to every connection (counted under ``channel``)."""
        data = frame.encode() if isinstance(frame, str) else frame
        for conn in self.conns.values():
            conn.push([(channel, data)])

    def send_malformed(self) -> None:
        """A frame that is not valid JSON (a truncated trade)."""
        self.send_raw(b'{"type":"trade","sid":1,"seq":1,"msg":{"trade_id":"0f0e')

    def send_unknown_type(self) -> None:
        """A well-formed frame of a message type nobody knows."""
        self.send_raw(frames.encode({"type": "market_metrics", "sid": 99, "seq": 1,
                                     "msg": {"market_ticker": next(iter(self.engine.books), ""),
                                             "depth_fp": "10.00"}}))

    def extra_fields(self, on: bool = True) -> None:
        """Unknown extra fields in the envelope and ``msg`` of every data frame."""
        self.faults.extra_fields = on
        for conn in self.conns.values():
            conn.session.extra_fields = on

    def malformed_numbers(self, count: int = 1) -> None:
        """The next ``count`` trades carry a malformed ``count_fp`` (``"1.2.3"``)."""
        self.engine.bad_numbers += count

    async def drop_connections(self, code: int = 1001, reason: str = "", *, abrupt: bool = False) -> int:
        """Close every connection with ``code`` (1000/1001/1011), or reset TCP (``abrupt``)."""
        conns = list(self.conns.values())
        for conn in conns:
            if abrupt:
                conn.reset()
            else:
                await conn.ws.close(code, reason)
        if conns:
            await asyncio.gather(*(c.ws.wait_closed() for c in conns), return_exceptions=True)
        return len(conns)

    async def outage(self, seconds: float, code: int = 1001, *, abrupt: bool = False) -> int:
        """Drop every connection (``code``, or a TCP reset) and refuse upgrades with 503 for
        ``seconds``, while markets keep trading. Returns how many connections were dropped."""
        self.faults.outage_until = self.loop_time() + seconds
        return await self.drop_connections(code, "outage", abrupt=abrupt)

    def end_outage(self) -> None:
        self.faults.outage_until = 0.0

    def freeze(self, seconds: float) -> None:
        """A silent freeze for ``seconds``: sockets stay open, pings and commands are answered,
        but no data is sent on any connection (new ones included) while markets keep trading."""
        self.faults.frozen_until = self.loop_time() + seconds

    def end_freeze(self) -> None:
        self.faults.frozen_until = 0.0

    def is_frozen(self) -> bool:
        return self.loop_time() < self.faults.frozen_until

    def in_outage(self) -> bool:
        return self.loop_time() < self.faults.outage_until

    def set_exchange_status(self, *, exchange_active: bool = True, trading_active: bool = True,
                            resume_ns: int | None = None) -> None:
        """What ``GET /exchange/status`` answers; while trading is not active the generator
        makes nothing (``pump`` still does)."""
        self.exchange.exchange_active, self.exchange.trading_active = exchange_active, trading_active
        self.exchange.resume_ns = resume_ns

    def set_cutoff(self, cutoff_ns: int) -> None:
        """Move the historical cutoff (older trades, and markets settled before it, become
        ``/historical`` only); rounded down to a whole millisecond, as REST shows it."""
        self.engine.cutoff_ns = cutoff_ns // 1_000_000 * 1_000_000

    def stall(self, on: bool = True) -> None:
        """Stop sending anything (data, acks, pings) and stop reading, like a half-open link."""
        self.faults.stalled = on
        for conn in self.conns.values():
            conn.stall(on)

    # -- REST and auth faults ------------------------------------------------------------
    def rest_fail_next(self, n: int, status: int = 429) -> None:
        """The next ``n`` REST calls answer ``status`` (429 with Kalshi's body)."""
        self.faults.rest_fail, self.faults.rest_fail_status = n, status

    def refuse_auth(self, on: bool = True) -> None:
        """Refuse every upgrade (with ``settings.refuse_status``) while on."""
        self.faults.refuse_auth = on

    def odd_market(self, ticker: str, **fields: Any) -> None:
        """Serve these REST fields of ``ticker`` as given, e.g. ``settlement_timer_seconds="1800"``."""
        self.engine.universe.markets[ticker].rest_overrides.update(fields)

    def not_found_window(self, seconds: float) -> None:
        """Markets created from now on answer 404 on REST for ``seconds``."""
        self.faults.created_404_seconds = seconds

    # -- lifecycle drivers ---------------------------------------------------------------
    def _send(self, events: list[Event]) -> list[Event]:
        self.dispatch(events)
        return events

    def create_event(self, series: str | None = None) -> list[str]:
        """A new event of ``series`` (random if None): ``event_lifecycle`` then ``created``
        per market; the markets open a few minutes later (by time, no event)."""
        events = self._send(self.engine.create_event(self._now(), series))
        tickers = [e.ticker for e in events[1:]]
        if self.faults.created_404_seconds > 0:
            until = self.loop_time() + self.faults.created_404_seconds
            self.hidden_until.update(dict.fromkeys(tickers, until))
        return tickers

    def open_now(self, ticker: str) -> None:
        """Move a market's open time to now; it becomes active with no event (as on Kalshi)."""
        m = self.engine.market(ticker)
        m.open_ns = self._now()
        self.engine.reschedule(self._now())

    def close_now(self, ticker: str) -> None:
        """Its close time passes now: status ``closed``, with no event."""
        m = self.engine.market(ticker)
        m.close_ns = self._now()
        self.engine.reschedule(self._now())

    def deactivate(self, ticker: str) -> None:
        self._send(self.engine.deactivate(ticker, self._now()))

    def activate(self, ticker: str) -> None:
        self._send(self.engine.activate(ticker, self._now()))

    def update_close(self, ticker: str, close_ns: int) -> None:
        self._send(self.engine.update_close(ticker, close_ns, self._now()))

    def determine(self, ticker: str, result: str | None = None) -> None:
        self._send(self.engine.determine(ticker, self._now(), result))

    def settle(self, ticker: str) -> None:
        self._send(self.engine.settle(ticker, self._now()))

    def update_metadata(self, ticker: str) -> None:
        self._send(self.engine.update_metadata(ticker, self._now()))

    def update_price_structure(self, ticker: str, structure: str = "deci_cent") -> None:
        self._send(self.engine.update_price_structure(ticker, structure, self._now()))

    def update_event_fee(self, event_ticker: str, fee_type: str | None = "quadratic_with_maker_fees",
                         multiplier: float | None = 0.5) -> None:
        self._send(self.engine.update_event_fee(event_ticker, fee_type, multiplier, self._now()))

    def lifecycle_step(self) -> list[Event]:
        """The next scripted lifecycle change (the loop runs it every lifecycle_interval)."""
        return self._send(self.engine.lifecycle_step(self._now()))

    def trades(self, ticker: str | None = None) -> list[TapeTrade]:
        """Every trade the exchange made and still remembers (of one market), oldest first:
        the pre-generated history and every live trade, sent to a client or not."""
        return self.engine.tape.all(ticker)

    def cutoff_ns(self) -> int:
        """The historical cutoff: trades before it and markets settled before it are
        served only by the ``/historical`` endpoints."""
        return self.engine.cutoff_ns

    def historical_markets(self) -> list[str]:
        """Tickers only ``/historical/markets`` serves (settled before the cutoff), sorted."""
        cutoff = self.engine.cutoff_ns
        return sorted(t for t, m in self.engine.universe.markets.items()
                      if m.settled_ns is not None and m.settled_ns < cutoff)

    def book(self, ticker: str) -> tuple[dict[int, int], dict[int, int]]:
        """(YES bids, NO bids) of a market now: price 1e-4 $ -> size 1e-2 contracts."""
        b = self.engine.books[ticker]
        return dict(b.yes), dict(b.no)

    # -- counters -----------------------------------------------------------------------
    def frames_sent(self, conn: str | None = None, channel: str | None = None) -> int:
        """Frames written to sockets (data and control), optionally for one connection
        (``c1``, ``c2``, ... in connection order, closed ones included) and/or channel."""
        total = 0
        for cid, counts in self.counters().items():
            if conn is None or cid == conn:
                total += sum(n for ch, n in counts.items() if channel is None or ch == channel)
        return total

    def counters(self) -> dict[str, dict[str, int]]:
        """Connection id -> channel (``control`` and ``unknown`` included) -> frames sent."""
        out = {cid: dict(c) for cid, c in self.closed_counts.items()}
        out.update({cid: dict(c.sent) for cid, c in self.conns.items()})
        return out

    def frames_by_channel(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for counts in self.counters().values():
            for ch, n in counts.items():
                total[ch] = total.get(ch, 0) + n
        return total

    def sent_log(self, conn: str) -> list[bytes]:
        """Every frame written to connection ``conn`` (needs ``record_frames=True``)."""
        live = self.conns.get(conn)
        if live is not None and live.log is not None:
            return list(live.log)
        return list(self.closed_logs.get(conn, []))
