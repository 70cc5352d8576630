"""Rendering for listings and shows: aligned text tables or JSON (``--json``)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import msgspec

_encoder = msgspec.json.Encoder(decimal_format="number")


def emit_json(value: Any, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    stream.write(msgspec.json.format(_encoder.encode(value), indent=2).decode() + "\n")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO | None = None) -> None:
    """Print rows as a left-aligned text table."""
    stream = out or sys.stdout
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    stream.write("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip() + "\n")
    for row in cells:
        stream.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
