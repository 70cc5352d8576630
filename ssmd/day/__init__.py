"""The trading day: calendar (which day a timestamp belongs to), state machine,
steps (start/end), scheduler and journal-backed history.

* ``calendar``  — ``trading_day``, ``day_bounds``, ``day_partition`` (pure).
* ``state``     — states, legal transitions, events, ``replay`` of the journal (pure).
* ``schedule``  — ``plan(schedule, now, current)``: start, end or wait (pure).
* ``steps``     — the start/end/recover steps as plain async functions of a ``DayContext``
  (the local lifecycle and a Temporal workflow call the same ones).
* ``store``     — events in the journal ``{env}.day.events``, the view in the cache.
* ``lifecycle`` — ``DayManager``: start, end, roll, recover, mark_error, resume.
* ``scheduler`` — ``DayScheduler``: follows ``plan`` with an injected clock and sleeper.

May import: ssmd.config, ssmd.middleware, ssmd.status, ssmd.clock, ssmd.log, ssmd.metrics,
and (inside steps only) ssmd.secmaster and ssmd.archiver.
"""
