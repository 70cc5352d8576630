"""The pull-request bookkeeping of the NATS consumer (pure: time passed in)."""

from __future__ import annotations

from ssmd.middleware.transport.nats_pull import PullRequests, next_subject


def test_asks_for_a_batch_and_keeps_a_second_in_flight_while_the_first_is_served() -> None:
    reqs = PullRequests(batch=100, expires=0.5)
    assert reqs.to_ask(0.0, room=1000) == 100
    reqs.sent(100, 0.0)
    assert reqs.to_ask(0.0, room=1000) == 100  # the next goes out before the first is done
    reqs.sent(100, 0.0)
    assert reqs.to_ask(0.0, room=1000) == 0  # two in flight is enough
    for _ in range(100):
        reqs.delivered()
    assert reqs.due == 100 and reqs.to_ask(0.1, room=1000) == 100


def test_never_asks_past_the_ack_limit_and_waits_for_a_worthwhile_batch() -> None:
    reqs = PullRequests(batch=100, expires=0.5)
    assert reqs.to_ask(0.0, room=30) == 30
    reqs.sent(30, 0.0)
    assert reqs.to_ask(0.0, room=40) == 0  # 10 more would be a tiny request beside an open one
    assert reqs.to_ask(0.0, room=30) == 0


def test_a_status_ends_the_oldest_request_and_a_lost_one_lapses_at_its_deadline() -> None:
    reqs = PullRequests(batch=50, expires=0.5)
    reqs.sent(50, 0.0)
    reqs.sent(50, 0.2)
    reqs.ended()  # 408: the first expired with its messages undelivered
    assert reqs.due == 50
    reqs.sent(50, 0.3)
    assert reqs.to_ask(1.0, room=1000) == 0 and reqs.due == 100  # both still open
    assert reqs.to_ask(1.25, room=1000) == 50 and reqs.due == 50  # the one sent at 0.2 lapsed, unanswered
    reqs.lost()
    assert reqs.due == 0 and next_subject("s", "c") == "$JS.API.CONSUMER.MSG.NEXT.s.c"
