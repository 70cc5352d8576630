"""The trading day: calendar (which day a timestamp belongs to), state machine,
steps (start/end), scheduler and journal-backed history.

May import: ssmd.config, ssmd.middleware, ssmd.status, ssmd.clock, ssmd.log.
"""
