"""The trading-day state machine (pure): states, legal transitions, events, replay.

::

    PENDING ─► STARTING ─► ACTIVE ─► ENDING ─► COMPLETE
                  │          │ ▲        │
                  ▼          ▼ │        ▼
                FAILED ◄── ERROR      FAILED

ERROR happens while ACTIVE and is retryable (``day recover`` goes back to ACTIVE);
FAILED means a start or end step failed and a person must look (``day recover`` re-runs
the phase that failed, ``day end --force`` closes the day anyway). COMPLETE is final.
Time is passed in; nothing here reads a clock or touches a backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal

import msgspec

from ssmd.errors import SsmdError


class DayState(StrEnum):
    PENDING = "PENDING"
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    ENDING = "ENDING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    FAILED = "FAILED"


TRANSITIONS: dict[DayState, frozenset[DayState]] = {
    DayState.PENDING: frozenset({DayState.STARTING}),
    DayState.STARTING: frozenset({DayState.ACTIVE, DayState.FAILED}),
    DayState.ACTIVE: frozenset({DayState.ENDING, DayState.ERROR}),
    DayState.ERROR: frozenset({DayState.ACTIVE, DayState.ENDING, DayState.FAILED}),
    DayState.ENDING: frozenset({DayState.COMPLETE, DayState.FAILED}),
    DayState.FAILED: frozenset({DayState.STARTING, DayState.ENDING}),
    DayState.COMPLETE: frozenset(),
}

RUNNING = frozenset({DayState.ACTIVE, DayState.ERROR})
"""States in which the day's capture is (meant to be) running."""
BUSY = frozenset({DayState.STARTING, DayState.ENDING})
"""States in which steps are being executed."""

Phase = Literal["start", "end", "recover"]


class IllegalTransition(SsmdError):
    """A transition the state machine does not allow (e.g. COMPLETE → ACTIVE)."""

    def __init__(self, date: str, current: DayState, target: DayState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none, it is final"
        super().__init__(f"day {date} is {current}; cannot go to {target} (allowed: {allowed})")
        self.current = current
        self.target = target


class StepResult(msgspec.Struct, kw_only=True):
    name: str
    ok: bool
    detail: str = ""
    error: str | None = None
    seconds: float = 0.0


class DayEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One journal entry of ``{env}.day.events``."""

    kind: Literal["transition", "step"]
    date: str
    ts: int
    """ns since epoch."""
    from_state: str | None = None
    to_state: str | None = None
    phase: str | None = None
    step: str | None = None
    ok: bool | None = None
    detail: str | None = None
    error: str | None = None
    seconds: float | None = None
    stats: dict[str, Any] | None = None


class DayRecord(msgspec.Struct, kw_only=True):
    """What is known about one trading day, rebuilt from its events."""

    date: str
    state: DayState = DayState.PENDING
    since: int | None = None
    """ns of the last transition."""
    phase: str | None = None
    """Phase of the last start/end/recover run (``start``, ``end``, ``recover``)."""
    step: str | None = None
    """The step that failed (FAILED/ERROR) or ran last."""
    error: str | None = None
    start_time: int | None = None
    """ns when the day became ACTIVE (first time)."""
    end_time: int | None = None
    """ns when the day became COMPLETE."""
    steps: list[StepResult] = []
    """Steps of the last phase, in order."""
    stats: dict[str, Any] = {}


def check(record: DayRecord, target: DayState) -> None:
    """Raise ``IllegalTransition`` unless ``record.state → target`` is allowed."""
    if target not in TRANSITIONS[record.state]:
        raise IllegalTransition(record.date, record.state, target)


def transition(
    record: DayRecord,
    target: DayState,
    *,
    now_ns: int,
    phase: str | None = None,
    step: str | None = None,
    error: str | None = None,
    stats: dict[str, Any] | None = None,
) -> DayEvent:
    """The event that moves ``record`` to ``target`` (checked; ``record`` is unchanged)."""
    check(record, target)
    return DayEvent(
        kind="transition", date=record.date, ts=now_ns, from_state=record.state, to_state=target,
        phase=phase, step=step, error=error, stats=stats,
    )


def step_event(date: str, phase: str, result: StepResult, *, now_ns: int) -> DayEvent:
    return DayEvent(kind="step", date=date, ts=now_ns, phase=phase, step=result.name, ok=result.ok,
                    detail=result.detail or None, error=result.error, seconds=result.seconds)


def apply(record: DayRecord, event: DayEvent) -> DayRecord:
    """``record`` after ``event`` (a new record; events of other days are ignored)."""
    if event.date != record.date:
        return record
    new = msgspec.structs.replace(record)
    if event.kind == "step":
        result = StepResult(name=event.step or "?", ok=bool(event.ok), detail=event.detail or "", error=event.error,
                            seconds=event.seconds or 0.0)
        same_phase = event.phase == record.phase
        new.steps = [*record.steps, result] if same_phase else [result]
        new.phase = event.phase
        if not result.ok:
            new.step, new.error = result.name, result.error
        return new
    target = DayState(event.to_state or record.state)
    new.state = target
    new.since = event.ts
    if target in (DayState.STARTING, DayState.ENDING):
        new.steps = []
    new.phase = event.phase
    if target in (DayState.FAILED, DayState.ERROR):
        new.step, new.error = event.step, event.error
    elif target in (DayState.ACTIVE, DayState.COMPLETE, DayState.STARTING, DayState.ENDING):
        new.step, new.error = event.step, None
    if target is DayState.ACTIVE and new.start_time is None:
        new.start_time = event.ts
    if target is DayState.COMPLETE:
        new.end_time = event.ts
    if event.stats:
        new.stats = {**record.stats, **event.stats}
    return new


def replay(events: Iterable[DayEvent]) -> dict[str, DayRecord]:
    """Every day's record, rebuilt from the journal in order (dates in first-seen order)."""
    days: dict[str, DayRecord] = {}
    for event in events:
        record = days.get(event.date) or DayRecord(date=event.date)
        days[event.date] = apply(record, event)
    return days
