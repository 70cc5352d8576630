"""Naming contracts: subjects, cache keys and object paths (see ARCHITECTURE.md).

A ticker is data, not syntax. Subject tokens cannot hold ``.``, ``*``, ``>`` or white
space, and real Kalshi tickers contain ``.`` (``KXBTCD-26JUL2317-T118999.99``), so tickers
are percent-escaped inside subjects and unescaped on the way out: ``decode_token`` of
``encode_token(t)`` is always ``t``.
"""

from __future__ import annotations

_UNSAFE = frozenset(".*>% \t\r\n")


def encode_token(text: str) -> str:
    """Escape a value so it is exactly one subject token."""
    if not any(c in _UNSAFE or not c.isprintable() for c in text) and text:
        return text
    if not text:
        return "%00"
    return "".join(f"%{ord(c):02X}" if c in _UNSAFE or not c.isprintable() else c for c in text)


def decode_token(token: str) -> str:
    if token == "%00":
        return ""
    if "%" not in token:
        return token
    out = []
    i = 0
    while i < len(token):
        c = token[i]
        if c == "%" and i + 2 < len(token) + 1:
            out.append(chr(int(token[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def record_subject(env: str, feed: str, record_type: str, ticker: str) -> str:
    """``{env}.{feed}.{type}.{ticker}`` with the ticker escaped."""
    return f"{env}.{feed}.{record_type}.{encode_token(ticker)}"


def raw_subject(env: str, feed: str, channel: str) -> str:
    return f"{env}.{feed}.raw.{channel}"


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
