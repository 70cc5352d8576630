"""Where the data files the program reads at run time live.

In a checkout they are the top-level ``sql/`` and ``exchanges/`` folders; in a wheel they
are packaged as ``ssmd/_data/sql`` and ``ssmd/_data/exchanges``. Callers never care which.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """The folder ``sql`` or ``exchanges``, from a wheel or from the checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ssmd data folder {name!r} is missing from the installation")


def exchanges_dir() -> Path:
    return data_dir("exchanges")


def sql_dir() -> Path:
    return data_dir("sql")


def schemas_dir() -> Path:
    return exchanges_dir() / "schemas"
