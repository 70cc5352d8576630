"""The trading-day state machine: every legal and illegal transition, and replay."""

from __future__ import annotations

import itertools

import pytest

from ssmd.day.state import (
    TRANSITIONS,
    DayRecord,
    DayState,
    IllegalTransition,
    StepResult,
    apply,
    replay,
    step_event,
    transition,
)

S = DayState
LEGAL = {
    (S.PENDING, S.STARTING),
    (S.STARTING, S.ACTIVE), (S.STARTING, S.FAILED),
    (S.ACTIVE, S.ENDING), (S.ACTIVE, S.ERROR),
    (S.ERROR, S.ACTIVE), (S.ERROR, S.ENDING), (S.ERROR, S.FAILED),
    (S.ENDING, S.COMPLETE), (S.ENDING, S.FAILED),
    (S.FAILED, S.STARTING), (S.FAILED, S.ENDING),
}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(DayState, DayState)))
def test_only_the_documented_transitions_are_allowed(source: DayState, target: DayState) -> None:
    record = DayRecord(date="2026-07-19", state=source)
    if (source, target) in LEGAL:
        event = transition(record, target, now_ns=5)
        assert (event.from_state, event.to_state) == (source, target)
    else:
        with pytest.raises(IllegalTransition, match=f"day 2026-07-19 is {source}; cannot go to {target}"):
            transition(record, target, now_ns=5)


def test_table_matches_the_documented_set() -> None:
    assert {(a, b) for a, bs in TRANSITIONS.items() for b in bs} == LEGAL
    assert TRANSITIONS[S.COMPLETE] == frozenset()


def _walk(*states: DayState, date: str = "2026-07-19", **fields: object) -> list:
    record = DayRecord(date=date)
    events = []
    for i, target in enumerate(states):
        event = transition(record, target, now_ns=(i + 1) * 1000, **fields if target is S.FAILED else {})
        events.append(event)
        record = apply(record, event)
    return events


def test_replay_rebuilds_times_failure_and_steps() -> None:
    events = _walk(S.STARTING, S.ACTIVE, S.ENDING, S.COMPLETE)
    events.insert(1, step_event("2026-07-19", "start", StepResult(name="sync_secmaster", ok=True, detail="20"),
                                now_ns=1500))
    events += _walk(S.STARTING, S.FAILED, date="2026-07-20", phase="start", step="health_check", error="boom")
    days = replay(events)
    done = days["2026-07-19"]
    assert (done.state, done.start_time, done.end_time, done.since) == (S.COMPLETE, 2000, 4000, 4000)
    failed = days["2026-07-20"]
    assert (failed.state, failed.step, failed.error, failed.phase) == (S.FAILED, "health_check", "boom", "start")
    assert failed.start_time is None


def test_failed_step_event_names_the_step_and_a_new_phase_clears_steps() -> None:
    record = apply(DayRecord(date="d"), transition(DayRecord(date="d"), S.STARTING, now_ns=1))
    record = apply(record, step_event("d", "start", StepResult(name="start_connector", ok=False, error="refused"),
                                      now_ns=2))
    assert (record.step, record.error, [s.name for s in record.steps]) == ("start_connector", "refused",
                                                                          ["start_connector"])
    record = apply(record, transition(record, S.FAILED, now_ns=3, step="start_connector", error="refused"))
    record = apply(record, transition(record, S.STARTING, now_ns=4))
    assert (record.steps, record.error) == ([], None)
