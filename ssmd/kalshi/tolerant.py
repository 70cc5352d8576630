"""Tolerant decoding of REST objects, field by field (pure).

Kalshi's REST objects drift: a number comes as text (``"settlement_timer_seconds":"1800"``),
text as a number (``"volume_fp": 5``), ``null`` where a list belongs. ``convert`` turns one
decoded JSON object into a Struct all the same: each field is taken as it is when it fits
its declared type, else coerced (text → number or bool, a number → text; counts (``*_fp``)
get 2 decimals and dollar fields 4, so ``5`` → ``"5.00"``), else left at its default. Every
field that needed help is reported as a ``Repair``. Only an object that lacks its key field
(a market's ``ticker``) cannot be kept: ``convert`` then says why instead.

This is the slow path: callers decode strictly first and come here only for an object that
failed (see ``ssmd.kalshi.rest_wire``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

import msgspec

T = TypeVar("T", bound=msgspec.Struct)
Action = Literal["coerced", "defaulted"]


class Repair(msgspec.Struct, frozen=True, kw_only=True):
    """One field that did not fit its type, and what was done with it."""

    kind: str
    """Object kind: ``market``, ``event``, ``series``."""
    key: str
    """The object's key (ticker)."""
    field: str
    value_type: str
    """JSON type of the value received: ``string``, ``integer``, ``number``, ``bool``, ``null``,
    ``array``, ``object``; ``absent`` for a required field that was missing."""
    action: Action
    """``coerced`` (converted to the declared type) or ``defaulted`` (left at its default)."""


class Unkept(msgspec.Struct, frozen=True, kw_only=True):
    """An object that could not be kept at all."""

    kind: str
    key: str | None
    reason: str


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _places(field: str) -> int | None:
    """Decimals of a fixed-point text field: counts 2, dollars 4; None for plain text."""
    if field.endswith("_fp"):
        return 2
    if field.endswith("_dollars"):
        return 4
    return None


def number_text(value: int | float | Decimal, places: int | None) -> str:
    """A JSON number as Kalshi's text: ``5`` → ``"5.00"`` (count), ``0.56`` → ``"0.5600"``
    (dollars); digits beyond ``places`` are kept, not rounded away."""
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None and exact.is_finite() and -int(exact.as_tuple().exponent) <= places:
        exact = exact.quantize(Decimal(1).scaleb(-places))
    return format(exact, "f")


_MISSING = object()


def _fit(field: str, value: Any, kind: Any) -> tuple[Any, bool]:
    """(value converted to ``kind``, whether it needed coercion); raises ValidationError."""
    try:
        return msgspec.convert(value, kind), False
    except msgspec.ValidationError:
        pass
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return msgspec.convert(number_text(value, _places(field)), kind), True
        except msgspec.ValidationError:
            pass
    if isinstance(value, float) and value.is_integer():
        try:
            return msgspec.convert(int(value), kind), True
        except msgspec.ValidationError:
            pass
    if isinstance(value, list | dict):  # numbers inside, where text belongs (price_ranges)
        try:
            return msgspec.convert(_texts(value, field), kind), True
        except msgspec.ValidationError:
            pass
    return msgspec.convert(value, kind, strict=False), True


def _texts(value: Any, field: str) -> Any:
    """``value`` with every number inside turned into text (named by its key when it has one)."""
    if isinstance(value, list):
        return [_texts(v, field) for v in value]
    if isinstance(value, dict):
        return {k: _texts(v, k) for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value, _places(field))
    return value


def convert(obj: Any, cls: type[T], kind: str, key_field: str) -> tuple[T | None, list[Repair], Unkept | None]:
    """``obj`` (decoded JSON) as ``cls``, leniently: (the object or None, repairs, why not kept)."""
    if not isinstance(obj, dict):
        return None, [], Unkept(kind=kind, key=None, reason=f"not an object ({json_type(obj)})")
    raw_key = obj.get(key_field)
    number = isinstance(raw_key, int | float) and not isinstance(raw_key, bool)
    found = number_text(raw_key, None) if isinstance(raw_key, int | float) and number else raw_key
    if not isinstance(found, str) or not found:
        return None, [], Unkept(kind=kind, key=None, reason=f"no {key_field} ({json_type(found)})")
    key: str = found
    values: dict[str, Any] = {key_field: key}
    repairs: list[Repair] = []
    if number:
        repairs.append(Repair(kind=kind, key=key, field=key_field, value_type=json_type(raw_key), action="coerced"))
    for f in msgspec.structs.fields(cls):
        if f.encode_name == key_field:
            continue
        raw = obj.get(f.encode_name, _MISSING)
        if raw is _MISSING:
            if f.required:
                values[f.name] = _zero(f.type)
                if values[f.name] is _MISSING:
                    return None, [], Unkept(kind=kind, key=key, reason=f"no {f.encode_name}")
                repairs.append(Repair(kind=kind, key=key, field=f.encode_name, value_type="absent",
                                      action="defaulted"))
            continue
        try:
            values[f.name], coerced = _fit(f.encode_name, raw, f.type)
        except msgspec.ValidationError:
            if f.required:
                values[f.name] = _zero(f.type)
                if values[f.name] is _MISSING:
                    return None, [], Unkept(kind=kind, key=key, reason=f"{f.encode_name}: unusable "
                                                                         f"{json_type(raw)}")
            repairs.append(Repair(kind=kind, key=key, field=f.encode_name, value_type=json_type(raw),
                                  action="defaulted"))
            continue
        if coerced:
            repairs.append(Repair(kind=kind, key=key, field=f.encode_name, value_type=json_type(raw),
                                  action="coerced"))
    return cls(**values), repairs, None


def _zero(kind: Any) -> Any:
    """A stand-in for a missing required field: ``""`` for text; nothing for other types."""
    try:
        return msgspec.convert("", kind)
    except msgspec.ValidationError:
        return _MISSING
