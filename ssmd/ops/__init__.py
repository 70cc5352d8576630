"""Operations support for deployed ssmd: key status, key checks and SealedSecret sealing.

Imports ``ssmd.config``, ``ssmd.kalshi.auth`` (signing checks), ``ssmd.metrics`` and
``cryptography``; never a backend. Nothing here prints or logs a secret value.
"""
