"""Resolve key values from their source without ever exposing them.

Sources: ``env`` reads ``{KEY}_{FIELD}`` upper-cased (``KALSHI_API_KEY``); ``file:DIR``
reads ``DIR/{field}``; ``sealed-secret/NAME`` reads ``{secrets root}/NAME/{field}`` where
the root is ``$SSMD_SECRETS_ROOT`` (default ``/var/run/secrets/ssmd``), as a mounted
Kubernetes secret. Values are ``Secret`` objects whose str/repr are masked.
"""

from __future__ import annotations

import os
from pathlib import Path

from ssmd.config.model import Environment, KeySpec
from ssmd.errors import AuthError, ConfigError

DEFAULT_SECRETS_ROOT = "/var/run/secrets/ssmd"


class Secret:
    """A secret value. Printing it, logging it or putting it in an error shows ``****``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    def __str__(self) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def secrets_root() -> Path:
    return Path(os.environ.get("SSMD_SECRETS_ROOT", DEFAULT_SECRETS_ROOT))


def field_location(name: str, spec: KeySpec, field: str) -> str:
    """Where a field's value is read from, for messages (never the value)."""
    source = spec.source or ""
    if source == "env":
        return f"${name.upper()}_{field.upper()}"
    if source.startswith("file:"):
        return str(Path(source[5:]) / field)
    if source.startswith("sealed-secret/"):
        return str(secrets_root() / source.split("/", 1)[1] / field)
    return "(no source)"


def read_field(name: str, spec: KeySpec, field: str) -> Secret | None:
    source = spec.source or ""
    if source == "env":
        value = os.environ.get(f"{name.upper()}_{field.upper()}")
        return Secret(value) if value else None
    path = Path(field_location(name, spec, field))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthError(f"key {name}.{field}: cannot read {path}: {exc.strerror}") from None
    return Secret(text.strip("\n")) if text.strip() else None


def resolve_key(env: Environment, name: str) -> dict[str, Secret]:
    """All fields of key ``name``; an ``AuthError`` names the first missing field."""
    spec = env.keys.get(name)
    if spec is None:
        raise ConfigError(env.name, f"keys.{name}", "no such key in the environment")
    values: dict[str, Secret] = {}
    for field in spec.fields:
        value = read_field(name, spec, field)
        if value is None:
            raise AuthError(f"key {name}.{field} is not set (looked in {field_location(name, spec, field)})")
        values[field] = value
    return values


def missing_fields(env: Environment) -> list[str]:
    """``key.field (location)`` for every required field that has no value."""
    missing = []
    for name, spec in env.keys.items():
        if not spec.required or spec.source is None:
            continue
        for field in spec.fields:
            if read_field(name, spec, field) is None:
                missing.append(f"{name}.{field} ({field_location(name, spec, field)})")
    return missing
