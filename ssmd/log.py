"""Structured logs: one JSON object per line on stdout.

``{"level","ts","component","msg", ...fields}`` with ``ts`` in RFC 3339 UTC, as the seed
design asks (Loki-friendly). When stdout is a terminal, a compact human format instead.
Use ``get_logger("connector").info("connected to kalshi", symbols=42)``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

import msgspec

from ssmd.clock import rfc3339

_encoder = msgspec.json.Encoder()
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "level": record.levelname.lower(),
            "ts": rfc3339(int(record.created * 1e9)),
            "component": getattr(record, "component", record.name.removeprefix("ssmd.")),
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            out["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return _encoder.encode(out).decode()


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        component = getattr(record, "component", record.name.removeprefix("ssmd."))
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        line = f"{stamp} {record.levelname.lower():5} {component:10} {record.getMessage()}"
        return f"{line}  {fields}" if fields else line


class Logger:
    """A thin wrapper that takes fields as keyword arguments."""

    def __init__(self, component: str) -> None:
        self._log = logging.getLogger(f"ssmd.{component}")
        self._component = component

    def _emit(self, level: int, msg: str, exc: bool, fields: dict[str, Any]) -> None:
        if self._log.isEnabledFor(level):
            extra = {"component": self._component, "fields": fields}
            self._log.log(level, msg, extra=extra, exc_info=exc)

    def debug(self, msg: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, msg, False, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._emit(logging.INFO, msg, False, fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self._emit(logging.WARNING, msg, False, fields)

    def error(self, msg: str, *, exc: bool = False, **fields: Any) -> None:
        self._emit(logging.ERROR, msg, exc, fields)


def get_logger(component: str) -> Logger:
    return Logger(component)


def configure(level: str = "info", *, stream: TextIO | None = None, human: bool | None = None) -> None:
    """Send ssmd's logs to ``stream`` (stdout): JSON, or human text on a terminal."""
    out = stream or sys.stdout
    use_human = out.isatty() if human is None else human
    handler = logging.StreamHandler(out)
    handler.setFormatter(HumanFormatter() if use_human else JsonFormatter())
    root = logging.getLogger("ssmd")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
