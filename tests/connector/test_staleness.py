"""Freeze detection judges each channel against its own rhythm (pure: time passed in)."""

from __future__ import annotations

from ssmd.connector.staleness import ChannelCounts, FreezePolicy, FreezeWatch

POLICY = FreezePolicy(floor=2.0, factor=10.0, cap=30.0, min_observations=5, alpha=0.5, interval=0.1)


def _feed(watch: FreezeWatch, channel: str, every: float, times: int, start: float = 0.0) -> float:
    now = start
    for _ in range(times):
        now += every
        watch.seen(channel, now)
    return now


def test_a_busy_channel_is_frozen_after_the_floor() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = _feed(watch, "trade", 0.1, 50)
    assert watch.frozen(now + 1.9) == []
    (freeze,) = watch.frozen(now + 2.1)
    assert freeze.channel == "trade" and freeze.limit == 2.0 and abs(freeze.last_seen - now) < 1e-9
    assert abs(freeze.usual - 0.1) < 1e-6


def test_a_slow_channel_gets_factor_times_its_usual_silence() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["market_lifecycle_v2"], 0.0)
    now = _feed(watch, "market_lifecycle_v2", 1.0, 20)
    assert watch.frozen(now + 9.5) == []
    (freeze,) = watch.frozen(now + 10.5)
    assert abs(freeze.limit - 10.0) < 1e-6


def test_no_channel_waits_longer_than_the_cap() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = _feed(watch, "trade", 10.0, 20)
    assert watch.frozen(now + 29) == []
    assert [f.limit for f in watch.frozen(now + 31)] == [30.0]


def test_a_channel_that_never_delivered_is_not_judged() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["orderbook_delta"], 0.0)
    assert watch.frozen(10_000.0) == []
    watch.seen("orderbook_delta", 1.0)  # one sighting: only the subscribe latency, nothing learnt
    assert watch.frozen(10_000.0) == []


def test_few_observations_are_judged_by_the_cap_only() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = _feed(watch, "trade", 0.1, 3)
    assert watch.frozen(now + 29) == []
    assert watch.frozen(now + 31) != []


def test_rearm_restarts_silences_and_keeps_what_was_learnt() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = _feed(watch, "trade", 0.1, 50)
    watch.rearm(["trade"], now + 100)  # a reconnect, long after
    assert watch.frozen(now + 101) == []
    assert watch.frozen(now + 102.5) != []  # still frozen after the reconnect: caught again
    watch.seen("trade", now + 100.5)  # the first frame of the new subscription is not learnt
    assert abs(watch.channels["trade"].usual - 0.1) < 1e-6


def test_bursts_raise_the_usual_silence() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = 0.0
    for _ in range(10):  # bursts of 3 samples, every 1.5 s
        now = _feed(watch, "trade", 0.1, 3, now + 1.2)
    assert watch.frozen(now + 2.5) == []  # a burst-to-burst silence is not a freeze
    assert watch.limits()["trade"] > 2.0


def test_policy_limits_between_floor_and_cap() -> None:
    assert FreezePolicy().limit(0.001) == 20.0 and FreezePolicy().limit(1e9) == 600.0


def test_counts_split_sequenced_and_unsequenced_frames() -> None:
    counts = ChannelCounts()
    sids = {1: "ticker", 2: "trade", 3: "market_lifecycle_v2"}
    last = {2: 0, 3: 0}
    assert counts.moved(sids, lambda s: last.get(s, 0), frames=3, control=3, duplicates=0, skipped=0) == set()
    last[2] = 5  # five trades
    assert counts.moved(sids, lambda s: last.get(s, 0), frames=8, control=3, duplicates=0, skipped=0) == {"trade"}
    # ten tickers and one lifecycle event
    last[3] = 1
    assert counts.moved(sids, lambda s: last.get(s, 0), frames=19, control=3, duplicates=0, skipped=0) == {
        "ticker", "market_lifecycle_v2"}
    # a trade gap of 100 (one frame received) and two duplicates: not mistaken for tickers
    last[2] = 106
    assert counts.moved(sids, lambda s: last.get(s, 0), frames=22, control=3, duplicates=2, skipped=100) == {
        "trade"}
    # one ticker after all that
    assert counts.moved(sids, lambda s: last.get(s, 0), frames=23, control=3, duplicates=2, skipped=100) == {
        "ticker"}
    # nothing new
    assert counts.moved(sids, lambda s: last.get(s, 0), frames=23, control=3, duplicates=2, skipped=100) == set()


def test_a_channel_silent_freeze_after_freeze_gets_twice_the_patience_until_data_comes() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = _feed(watch, "trade", 0.1, 50)
    assert [f.limit for f in watch.frozen(now + 2.1)] == [2.0]
    watch.struck(["trade"])
    watch.rearm(["trade"], now + 2.2)  # reconnected; the channel stays quiet (its markets closed)
    assert watch.frozen(now + 2.2 + 3.9) == []
    assert [f.limit for f in watch.frozen(now + 2.2 + 4.1)] == [4.0]
    watch.struck(["trade"])
    assert watch.limits()["trade"] == 8.0
    watch.seen("trade", now + 10)  # data again: back to the usual limit
    assert watch.limits()["trade"] == 2.0


def test_a_silence_the_doubled_patience_let_pass_is_returned_when_data_resumes() -> None:
    watch = FreezeWatch(POLICY)
    watch.rearm(["trade"], 0.0)
    now = _feed(watch, "trade", 0.1, 50)
    assert watch.seen("trade", now + 0.1) is None  # the usual rhythm
    watch.struck(["trade"])
    watch.rearm(["trade"], now + 1.0)  # reconnected after a freeze; still silent for 3 s (limit now 4 s)
    assert watch.frozen(now + 4.0) == []
    passed = watch.seen("trade", now + 4.0)
    assert passed is not None and passed.channel == "trade" and passed.limit == 2.0
    assert abs(passed.silence - 3.0) < 1e-9 and passed.last_seen == now + 1.0
