"""The per-connection protocol state machine, without sockets."""

from __future__ import annotations

import json

from ssmd.connector.session import Session
from ssmd.kalshi import wire
from ssmd.kalshi.seq import SeqGap
from ssmd.kalshi.subscriptions import Limits, Planner, SubKey

BOOK = SubKey(0, "orderbook_delta", 0)


def sent(session: Session) -> list[dict]:
    out = [json.loads(t) for t in session.outbox]
    session.outbox.clear()
    return out


def ack(session: Session, command_id: int, channel: str, sid: int) -> None:
    msg = wire.decode(json.dumps({"id": command_id, "type": "subscribed", "msg": {"channel": channel, "sid": sid}}))
    assert isinstance(msg, wire.Subscribed)
    session.on_subscribed(msg, 5)


def started(markets: list[str]) -> Session:
    session = Session(0, Planner(["trade", "orderbook_delta"], "all", Limits()))
    session.planner.add(markets)
    session.start(1)
    commands = sent(session)
    assert [c["params"]["channels"] for c in commands] == [["trade"], ["orderbook_delta"]]
    assert commands[1]["params"]["market_tickers"] == markets
    ack(session, 1, "trade", 1)
    assert not session.ready
    ack(session, 2, "orderbook_delta", 2)
    assert session.ready and ("end", ("outage", 0), 5) in session.events
    session.events.clear()
    return session


def test_orderbook_gap_asks_for_snapshots_then_rest_and_then_starts_over() -> None:
    session = started(["A", "B"])
    session.on_gap(SeqGap(sid=2, expected=4, received=6, at_ns=9))
    (cmd,) = sent(session)
    assert cmd["params"] == {"sids": [2], "market_tickers": ["A", "B"], "action": "get_snapshot"}
    assert session.resync == {"A": 2, "B": 2}
    ((kind, gap),) = session.events
    assert kind == "record" and (gap.kind, gap.expected, gap.received, gap.markets) == ("seq", 4, 6, ["A", "B"])
    error = wire.decode(json.dumps({"id": cmd["id"], "type": "error",
                                    "msg": {"code": 13, "msg": "Unsupported action"}}))
    assert isinstance(error, wire.Error)
    session.on_error(error, 10)
    assert sent(session) == []  # the books are read from REST first
    assert session.rest_books == [(2, ("A", "B"), "get_snapshot refused: error 13: Unsupported action")]
    session.rest_book_done(2, "A")
    assert session.resync == {"B": 2}
    session.rest_books_failed(2, "REST: HTTP 500", 11)  # B's book could not be read either
    unsub, resub = sent(session)
    assert unsub["cmd"] == "unsubscribe" and unsub["params"]["sids"] == [2]
    assert resub["cmd"] == "subscribe" and resub["params"]["market_tickers"] == ["A", "B"]
    assert 2 in session.retired and session.resync == {"A": 2, "B": 2}


def test_terminal_error_opens_a_gap_closed_by_the_new_subscription() -> None:
    session = started(["A"])
    error = wire.decode(b'{"type":"error","sid":1,"msg":{"code":25,"msg":"Subscription buffer overflow"}}')
    assert isinstance(error, wire.Error)
    session.on_error(error, 20)
    (resub,) = sent(session)
    assert resub["params"] == {"channels": ["trade"]}
    kind, owner, gaps = session.events[0]  # type: ignore[misc]
    assert (kind, owner) == ("start", ("error", SubKey(0, "trade", -1)))
    assert gaps[0].cause == "error 25: Subscription buffer overflow" and gaps[0].sid == 1
    ack(session, resub["id"], "trade", 3)
    assert ("end", ("error", SubKey(0, "trade", -1)), 5) in session.events
    assert session.key_sid[SubKey(0, "trade", -1)] == 3 and 1 in session.retired


def test_markets_changed_while_the_subscribe_is_in_flight_are_reconciled() -> None:
    planner = Planner(["orderbook_delta"], "all", Limits())
    session = Session(0, planner)
    session.start(1)
    for change in planner.add(["A", "B"]):
        session.apply(change)
    (sub,) = sent(session)
    for change in planner.add(["C"]) + planner.remove(["A"]):
        session.apply(change)
    assert sent(session) == []  # no sid yet
    ack(session, sub["id"], "orderbook_delta", 7)
    add, delete = sent(session)
    assert add["params"] == {"sids": [7], "market_tickers": ["C"], "action": "add_markets"}
    assert delete["params"] == {"sids": [7], "market_tickers": ["A"], "action": "delete_markets"}
    for change in planner.remove(["B", "C"]):
        session.apply(change)
    (unsub,) = sent(session)
    assert unsub["cmd"] == "unsubscribe" and 7 in session.retired and BOOK not in session.key_sid


def test_refused_subscribe_does_not_block_readiness() -> None:
    session = Session(0, Planner(["orderbook_delta", "trade"], ["A"], Limits()))
    session.start(1)
    book, trade = sent(session)
    error = wire.decode(json.dumps({"id": book["id"], "type": "error",
                                    "msg": {"code": 9, "msg": "Authentication required"}}))
    assert isinstance(error, wire.Error)
    session.on_error(error, 3)
    ack(session, trade["id"], "trade", 1)
    assert session.ready and session.refused == ["orderbook_delta: error 9: Authentication required"]
