"""Quantities as a person reads them (pure): byte counts today.

Shared by the CLI and the TUI, so that neither imports the other to print a size.
May import: the standard library only.
"""

from __future__ import annotations


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
