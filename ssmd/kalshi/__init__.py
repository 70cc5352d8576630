"""Kalshi protocol: the only code that knows Kalshi's JSON (wire shapes, signing, normalization)."""
