"""Pure parts of the gateway: protocol parsing, live state, buffers and sessions."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.frames import Close
from websockets.protocol import State

from ssmd.client_messages import count_text, price_text
from ssmd.fixed import format_count, format_price
from ssmd.gateway import protocol as proto
from ssmd.gateway.buffer import ClientBuffer, Entry
from ssmd.gateway.frames import payload_of, text_frame
from ssmd.gateway.router import Router
from ssmd.gateway.session import RateLimiter, Session
from ssmd.gateway.state import LiveState, Update
from ssmd.gateway.wire import send_batch
from tests.gateway.records import A, B, book, delta, lifecycle, ticker, trade


def dec(frame: bytes) -> object:
    """The JSON message inside a frame."""
    return msgspec.json.decode(payload_of(frame))


# ---- protocol ---------------------------------------------------------------------------
def test_parse_subscribe_with_defaults_and_id() -> None:
    req = proto.parse_action(b'{"action":"subscribe","symbols":["A","B"],"id":7}', max_bytes=1000)
    assert req.action == proto.Subscribe(symbols=["A", "B"], mode="realtime", interval_ms=250)
    assert req.id == 7
    assert req.raw["symbols"] == ["A", "B"]


def test_parse_replay_from_to_speed() -> None:
    req = proto.parse_action(
        '{"action":"replay","symbols":["A"],"date":"2026-07-19","from":"10:00","to":"2026-07-19T11:00:00Z",'
        '"speed":10}', max_bytes=1000)
    assert req.action == proto.Replay(symbols=["A"], date="2026-07-19", start="10:00",
                                      end="2026-07-19T11:00:00Z", speed=10.0)


@pytest.mark.parametrize(("frame", "reason"), [
    ("{not json", "invalid JSON"),
    ("[1,2]", "must be a JSON object"),
    ('{"action":"dance"}', "unknown action 'dance'"),
    ('{"symbols":["A"]}', "unknown action None"),
    ('{"action":"subscribe"}', "missing required field `symbols`"),
    ('{"action":"subscribe","symbols":[]}', "symbols is empty"),
    ('{"action":"subscribe","symbols":["A"],"mode":"turbo"}', "mode"),
    ('{"action":"subscribe","symbols":["A B"]}', "white space"),
    ('{"action":"subscribe","symbols":["A"],"interval_ms":0}', "interval_ms must be between"),
    ('{"action":"subscribe","symbols":"A"}', "Expected `array`"),
    ('{"action":"replay","symbols":["A"],"date":"19/07/2026"}', "date must be YYYY-MM-DD"),
    ('{"action":"replay","symbols":["*"],"date":"2026-07-19"}', "is not allowed"),
    ('{"action":"replay","symbols":["A"],"date":"2026-07-19","speed":-1}', "speed must be >= 0"),
])
def test_bad_requests_name_the_problem(frame: str, reason: str) -> None:
    with pytest.raises(proto.BadRequest) as info:
        proto.parse_action(frame, max_bytes=10_000)
    assert reason in info.value.reason


def test_oversized_frame_is_refused_before_parsing() -> None:
    with pytest.raises(proto.BadRequest, match="frame too large: 2001 bytes"):
        proto.parse_action("x" * 2001, max_bytes=2000)


def test_error_and_reply_echo_the_request() -> None:
    req = proto.parse_action('{"action":"unsubscribe","symbols":["A"],"id":"q1"}', max_bytes=1000)
    out = dec(proto.reply("unsubscribed", req, symbols=["A"]))
    assert out == {"type": "unsubscribed", "symbols": ["A"], "id": "q1", "request": req.raw}
    err = dec(proto.error("unknown symbol(s): Z", {"action": "snapshot", "symbols": ["Z"], "id": 3}))
    assert err == {"type": "error", "error": "unknown symbol(s): Z", "id": 3,
                   "request": {"action": "snapshot", "symbols": ["Z"], "id": 3}}


def test_symbols_from_query() -> None:
    assert proto.symbols_from_query("symbols=A,B&symbols=C") == ["A", "B", "C"]
    assert proto.symbols_from_query("symbols=KX%2E1,%2A") == ["KX.1", "*"]
    assert proto.symbols_from_query(None) == []


# ---- live state -------------------------------------------------------------------------
def test_trade_message_keeps_exact_decimals() -> None:
    state = LiveState()
    update = state.apply(trade(price=3000, size=1))
    msg = dec(update.data)
    assert (update.kind, update.ticker) == ("trade", A)
    assert msg["price"] == "0.3000" and msg["size"] == "0.01" and msg["side"] == "yes"
    assert b"0.30000000000000004" not in update.data


@given(st.one_of(st.integers(-20_000, 20_000), st.integers()))
def test_price_and_count_text_are_the_exact_decimal_formatting(value: int) -> None:
    assert price_text(value) == format_price(value)
    assert price_text(value) == format_price(value)  # remembered, still the same
    assert count_text(value) == format_count(value)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frames_round_trip_every_length_encoding(size: int) -> None:
    payload = b"x" * size
    frame = text_frame(payload)
    assert frame[0] == 0x81 and payload_of(frame) == payload


def test_book_snapshot_then_level_updates_in_yes_terms() -> None:
    state = LiveState()
    snap = state.apply(book())
    full = dec(snap.data)
    assert snap.snapshot and full["snapshot"] is True
    assert full["bids"] == [["0.2900", "10.00"], ["0.2800", "5.00"]]
    assert full["asks"] == [["0.3000", "3.00"], ["0.3100", "5.00"]]
    up = dec(state.apply(delta(side="yes", price=2900, change=-400)).data)
    assert up == {"type": "orderbook", "ticker": A, "snapshot": False, "bids": [["0.2900", "6.00"]], "asks": [],
                  "ts": up["ts"]}
    gone = dec(state.apply(delta(side="no", price=7000, change=-300, n=3)).data)
    assert gone["asks"] == [["0.3000", "0.00"]] and gone["bids"] == []
    assert dec(state.book_message(A))["asks"] == [["0.3100", "5.00"]]
    assert state.top(A)["bid"] == ["0.2900", "6.00"] and state.top(A)["ask"] == ["0.3100", "5.00"]


def test_snapshot_of_a_market_is_book_ticker_lifecycle() -> None:
    state = LiveState()
    for r in (ticker(), book(), lifecycle(), trade()):
        state.apply(r)
    kinds = [dec(m)["type"] for m in state.snapshot(A)]
    assert kinds == ["orderbook", "ticker", "lifecycle"]
    assert state.snapshot(B) == []
    assert [t["trade_id"] for t in state.recent_trades(A, 10)] == ["t1"]


def test_replay_state_marks_every_message() -> None:
    state = LiveState(replay=True)
    assert dec(state.apply(trade()).data)["replay"] is True
    assert dec(state.apply(book()).data)["replay"] is True


# ---- buffer -----------------------------------------------------------------------------
def entry(i: int, size: int = 10, kind: str = "trade", ticker: str = A, forced: bool = False) -> Entry:
    return Entry(bytes([48 + i % 10]) * size, kind, ticker, float(i), forced)


def test_drop_oldest_keeps_the_newest_within_message_bound() -> None:
    buf = ClientBuffer(3, 10_000, "drop_oldest")
    outcomes = [buf.push(entry(i)) for i in range(5)]
    assert outcomes == ["queued"] * 3 + ["dropped_oldest"] * 2
    assert [e.queued_at for e in buf.pop_batch(10)] == [2.0, 3.0, 4.0]
    assert buf.dropped == 2


def test_drop_newest_keeps_the_oldest_within_byte_bound() -> None:
    buf = ClientBuffer(100, 25, "drop_newest")
    outcomes = [buf.push(entry(i)) for i in range(4)]
    assert outcomes == ["queued", "queued", "dropped_newest", "dropped_newest"]
    assert buf.bytes == 20
    assert [e.queued_at for e in buf.pop_batch(10)] == [0.0, 1.0]
    assert buf.bytes == 0


def test_disconnect_policy_asks_to_close() -> None:
    buf = ClientBuffer(2, 1000, "disconnect")
    assert [buf.push(entry(i)) for i in range(3)] == ["queued", "queued", "disconnect"]


def test_forced_messages_are_never_dropped_but_bounded_by_the_hard_cap() -> None:
    buf = ClientBuffer(2, 1000, "drop_oldest", hard_factor=2)
    buf.push(entry(0, forced=True))
    buf.push(entry(1))
    assert buf.push(entry(2)) == "dropped_oldest"  # the data message goes, the reply stays
    assert [e.forced for e in buf.queue] == [True, False]
    assert [buf.push(entry(i, forced=True)) for i in (3, 4)] == ["queued", "queued"]  # up to 2 x 2 messages
    assert buf.push(entry(5, forced=True)) == "disconnect"


def test_dropped_book_update_marks_the_market_for_a_full_book() -> None:
    buf = ClientBuffer(1, 1000, "drop_newest")
    buf.push(entry(0))
    buf.push(entry(1, kind="orderbook", ticker=B))
    assert buf.take_dropped(B) and not buf.take_dropped(B) and not buf.take_dropped(A)


def test_latest_slots_keep_one_value_per_market_and_kind() -> None:
    buf = ClientBuffer(10, 1000, "drop_oldest")
    for i in range(1000):
        buf.put_latest("ticker", A, f"a{i}".encode(), float(i))
        buf.put_latest("ticker", B, f"b{i}".encode(), float(i))
    assert len(buf) == 2 and buf.oldest() == 0.0
    out = buf.pop_batch(10)
    assert [e.data for e in out] == [b"a999", b"b999"]
    buf.put_latest("orderbook", A, b"stale", 5.0)
    assert [e.data for e in buf.pop_batch(10, resolve=lambda k, t: b"fresh " + t.encode())] == [b"fresh " + A.encode()]


# ---- session ----------------------------------------------------------------------------
def make_session(policy: str = "drop_oldest", messages: int = 3) -> Session:
    return Session("c1", "127.0.0.1:1", connected_at=0, buffer=ClientBuffer(messages, 10_000, policy))  # type: ignore[arg-type]


def test_realtime_session_resends_the_full_book_after_a_dropped_update() -> None:
    s = make_session("drop_newest", messages=1)
    s.offer(Update("trade", A, b"t"), 0.0, lambda t: b"BOOK")
    assert s.offer(Update("orderbook", A, b"level"), 0.0, lambda t: b"BOOK") == "dropped_newest"
    s.buffer.pop_batch(10)
    s.offer(Update("orderbook", A, b"level2"), 1.0, lambda t: b"BOOK")
    assert [e.data for e in s.buffer.pop_batch(10)] == [b"BOOK"]
    assert s.dropping(2.0) and not s.dropping(10.0)


def test_latest_mode_never_drops_a_markets_latest_state() -> None:
    s = make_session(messages=2)
    s.set_mode("latest", 250)
    for i in range(100):
        assert s.offer(Update("ticker", f"M{i % 10}", f"{i}".encode()), float(i), lambda t: b"") == "queued"
    s.offer(Update("lifecycle", "M0", b"settled"), 100.0, lambda t: b"")
    out = [e.data for e in s.buffer.pop_batch(100)]
    assert out[0] == b"settled" and sorted(out[1:]) == sorted(f"{90 + i}".encode() for i in range(10))
    assert s.buffer.dropped == 0


def test_disconnect_policy_closes_the_session_with_a_reason() -> None:
    s = make_session("disconnect", messages=1)
    woke = []
    s.notify = lambda: woke.append(s.state)
    s.offer(Update("trade", A, b"1"), 0.0, lambda t: b"")
    s.offer(Update("trade", A, b"2"), 0.0, lambda t: b"")
    assert s.state == "closing" and s.close_code == 1008 and "too slow" in s.close_reason
    assert woke[-1] == "closing"


def test_slow_client_is_lagging_then_info_reports_it() -> None:
    s = make_session(messages=100)
    s.subscribe(["*", A, A])
    s.offer(Update("trade", A, b"x"), 10.0, lambda t: b"")
    assert not s.lagging(10.5) and s.lagging(11.5)
    info = s.info(11.5)
    assert info.slow and info.symbols == 2 and info.buffered == 1 and info.lag_seconds == 1.5


def test_rate_limiter_limits_then_calls_abuse() -> None:
    r = RateLimiter(rate=10, burst=5, abusive_after=3)
    assert [r.allow(0.0) for _ in range(5)] == ["ok"] * 5
    assert [r.allow(0.0) for _ in range(3)] == ["limited", "limited", "abusive"]
    assert r.allow(1.0) == "ok"


# ---- wire -------------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "rcvd", "sent", "rcvd_then_sent"), [
    (State.CLOSED, Close(1000, ""), Close(1000, ""), True),  # the client closed, we answered
    (State.CLOSED, Close(1000, ""), Close(1000, "bye"), False),
    (State.CLOSING, Close(1000, ""), None, None),
    (State.CLOSING, None, Close(1001, "drain"), None),
    (State.CLOSED, None, None, None),
])
async def test_send_batch_on_a_closed_connection_raises_connection_closed(
        state: State, rcvd: Close | None, sent: Close | None, rcvd_then_sent: bool | None) -> None:
    protocol = SimpleNamespace(state=state, close_rcvd=rcvd, close_sent=sent, close_rcvd_then_sent=rcvd_then_sent)
    with pytest.raises(ConnectionClosed) as info:
        await send_batch(SimpleNamespace(protocol=protocol), [text_frame(b"{}")])
    assert info.value.rcvd == rcvd and info.value.sent == sent
    assert info.value.rcvd_then_sent == rcvd_then_sent
    assert not isinstance(info.value, ConnectionClosedOK)  # the wire does not judge the close


# ---- fan-out ----------------------------------------------------------------------------
def test_a_message_is_rendered_once_for_all_its_subscribers_and_never_without_one() -> None:
    renders: list[str] = []

    class Counting(LiveState):
        def render(self, update: Update) -> bytes:
            renders.append(update.kind)
            return super().render(update)

    state = Counting()
    router = Router(state.book_message)
    assert router.publish(state.apply(trade(n=1)), 0.0) == 0
    assert renders == [] and [t.trade_id for t in state.markets[A].trades] == ["t1"]  # state kept
    one, wild = (Session(f"c{i}", "peer", connected_at=0, buffer=ClientBuffer(100, 100_000, "drop_oldest"))
                 for i in range(2))
    for session, symbols in ((one, [A]), (wild, ["*"])):
        router.add(session)
        router.subscribe(session, symbols)
    assert router.publish(state.apply(trade(n=2)), 0.0) == 2
    assert router.publish(state.apply(trade(B, n=3)), 0.0) == 1
    assert renders == ["trade", "trade"]
    assert one.buffer.queue[0].data is wild.buffer.queue[0].data
    assert dec(one.buffer.queue[0].data)["trade_id"] == "t2"
    assert [dec(e.data)["trade_id"] for e in wild.buffer.queue] == ["t2", "t3"]
