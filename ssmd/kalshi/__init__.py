"""Kalshi protocol: the only code that knows Kalshi's JSON (wire shapes, signing, normalization,
and ``classify``: what each decoded WebSocket message is, asked by the exchange-neutral connector).

May import: ssmd core modules only (records, fixed, clock, errors, log, metrics, retry); never
the connector, the simulator or the middleware (import contracts in ``pyproject.toml``).
"""
