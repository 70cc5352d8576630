"""Exact fixed-point numbers for prices and contract counts.

Kalshi sends prices as dollar strings ("0.9990", sub-penny) and counts as strings with
two decimals ("0.11", fractional contracts). ssmd keeps them as scaled integers:

* prices in units of 1e-4 dollars (``PRICE_SCALE``): "0.9990" -> 9990
* counts in units of 1e-2 contracts (``COUNT_SCALE``): "0.11" -> 11

No float ever touches a price or a size. Text output goes back through ``format_*``.
"""

from __future__ import annotations

from decimal import Decimal

PRICE_DECIMALS = 4
COUNT_DECIMALS = 2
PRICE_SCALE = 10**PRICE_DECIMALS
COUNT_SCALE = 10**COUNT_DECIMALS


class FixedPointError(ValueError):
    """A numeric string is not a valid fixed-point number at the wanted precision."""


def parse_scaled(text: str, decimals: int) -> int:
    """Parse a decimal string into an integer scaled by ``10**decimals``, exactly.

    Extra decimal places are accepted only when they are zeros ("0.999000" at 4 places).
    """
    s = text.strip()
    if not s:
        raise FixedPointError(f"empty number {text!r}")
    negative = s[0] == "-"
    if s[0] in "+-":
        s = s[1:]
    whole, dot, frac = s.partition(".")
    if not (whole or frac) or (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        raise FixedPointError(f"not a decimal number: {text!r}")
    if dot and not frac and not whole:
        raise FixedPointError(f"not a decimal number: {text!r}")
    if len(frac) > decimals:
        if frac[decimals:].strip("0"):
            raise FixedPointError(f"{text!r} has more than {decimals} decimal places")
        frac = frac[:decimals]
    value = int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0")
    return -value if negative else value


def parse_price(text: str) -> int:
    """Dollar string -> 1e-4 dollar units."""
    return parse_scaled(text, PRICE_DECIMALS)


def parse_count(text: str) -> int:
    """Contract-count string -> 1e-2 contract units."""
    return parse_scaled(text, COUNT_DECIMALS)


def parse_optional_price(text: str | None) -> int | None:
    """Like ``parse_price``, but ``None`` and ``""`` (Kalshi's "no value") give ``None``."""
    return None if text is None or text == "" else parse_price(text)


def parse_optional_count(text: str | None) -> int | None:
    return None if text is None or text == "" else parse_count(text)


def format_scaled(value: int, decimals: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def format_price(value: int) -> str:
    """1e-4 dollar units -> "0.9990"."""
    return format_scaled(value, PRICE_DECIMALS)


def format_count(value: int) -> str:
    """1e-2 contract units -> "0.11"."""
    return format_scaled(value, COUNT_DECIMALS)


def to_decimal(value: int, decimals: int) -> Decimal:
    return Decimal(value).scaleb(-decimals)
