"""The trading day's lifecycle: state machine, steps (start/end), scheduler and
journal-backed history. Which day a timestamp belongs to is ``ssmd.calendar`` (core), so
that the archiver, backfill and catalog can ask without importing this package.

* ``state``     — states, legal transitions, events, ``replay`` of the journal (pure).
* ``schedule``  — ``plan(schedule, now, current)``: start, end or wait (pure).
* ``steps``     — the start/end/recover steps as plain async functions of a ``DayContext``
  (the local lifecycle and a Temporal workflow call the same ones).
* ``store``     — events in the journal ``{env}.day.events``, the view in the cache.
* ``lifecycle`` — ``DayManager``: start, end, roll, recover, mark_error, resume.
* ``scheduler`` — ``DayScheduler``: follows ``plan`` with an injected clock and sleeper.

May import: ssmd core modules (``config``, ``calendar``, ``status``, ``clock``, ``log``,
``metrics``), ssmd.middleware, and (inside steps only) ssmd.secmaster, ssmd.archiver
(``verify_day``, ``compact_day``) and ssmd.catalog (``certify``). Nothing beneath it imports
it back; only the runtime, orchestration and CLI sit above it.
"""
