"""Naming contracts: subjects, cache keys and object paths (see ARCHITECTURE.md).

A ticker is data, not syntax. Subject tokens cannot hold ``.``, ``*``, ``>`` or white
space, and real Kalshi tickers contain ``.`` (``KXBTCD-26JUL2317-T118999.99``), so tickers
are percent-escaped inside subjects and unescaped on the way out: ``decode_token`` of
``encode_token(t)`` is always ``t``.
"""

from __future__ import annotations

_UNSAFE = frozenset(".*>% \t\r\n")
_EMPTY = "%"
"""The token of the empty string (a lone ``%`` is never produced by escaping)."""


def _unsafe(c: str) -> bool:
    return c in _UNSAFE or not c.isprintable()


def encode_token(text: str) -> str:
    """Escape a value so it is exactly one subject token (UTF-8 bytes as ``%XX``)."""
    if not text:
        return _EMPTY
    if not any(_unsafe(c) for c in text):
        return text
    return "".join("".join(f"%{b:02X}" for b in c.encode()) if _unsafe(c) else c for c in text)


def decode_token(token: str) -> str:
    if token == _EMPTY:
        return ""
    if "%" not in token:
        return token
    out = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "%":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out.extend(token[i].encode())
            i += 1
    return out.decode()


def record_subject(env: str, feed: str, record_type: str, ticker: str) -> str:
    """``{env}.{feed}.{type}.{ticker}`` with the ticker escaped."""
    return f"{env}.{feed}.{record_type}.{encode_token(ticker)}"


def raw_subject(env: str, feed: str, channel: str) -> str:
    return f"{env}.{feed}.raw.{channel}"


def gaps_subject(env: str, feed: str) -> str:
    """``{env}.{feed}.gaps``: gaps and outages, as the connector records them."""
    return f"{env}.{feed}.gaps"


def dlq_subject(env: str, component: str) -> str:
    return f"{env}.dlq.{component}"


def journal_topic(env: str, name: str) -> str:
    """``{env}.day.events``, ``{env}.secmaster.changes``, ``{env}.audit``."""
    return f"{env}.{name}"


def parse_record_subject(subject: str) -> tuple[str, str, str, str]:
    """(env, feed, type, ticker) of a record subject."""
    env, feed, record_type, token = subject.split(".", 3)
    return env, feed, record_type, decode_token(token)


def cache_key(env: str, *parts: str) -> str:
    """``{env}:secmaster:markets`` and friends."""
    return ":".join((env, *parts))
