"""What an operator may know about keys without seeing them: set or missing, age, rotation.

A key's rotation time is the ``rotated_at`` entry that ``ssmd key set`` seals beside the
fields (RFC 3339), else the newest modification time of its field files; ``env`` sources
have none. ``rotation_days`` in the environment turns that into a due date, which
``update_key_metrics`` exports as ``ssmd_key_expiry_seconds`` for the alerts.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import msgspec

from ssmd.clock import rfc3339
from ssmd.config.keys import field_location, read_field, secrets_root
from ssmd.config.model import Environment, KeySpec

ROTATED_AT = "rotated_at"
"""Extra entry of a sealed key: when ``ssmd key set`` produced it (RFC 3339 UTC)."""

_NS = 1_000_000_000


class FieldStatus(msgspec.Struct, kw_only=True):
    name: str
    set: bool
    location: str
    """Where the value is read from (a variable name or a file path), never the value."""


class KeyStatus(msgspec.Struct, kw_only=True):
    name: str
    type: str
    source: str | None
    required: bool
    fields: list[FieldStatus]
    rotation_days: int | None = None
    rotated_at: str | None = None
    """When the key was last set (RFC 3339), if known."""
    rotation_due: str | None = None
    """When it must be rotated (RFC 3339), if ``rotation_days`` and ``rotated_at`` are known."""
    expires_in_seconds: float | None = None
    """Seconds until ``rotation_due``; negative when overdue."""

    @property
    def missing(self) -> list[str]:
        return [f.name for f in self.fields if not f.set]

    @property
    def due(self) -> bool | None:
        return None if self.expires_in_seconds is None else self.expires_in_seconds <= 0


def key_status(env: Environment, name: str, now_ns: int) -> KeyStatus:
    spec = env.keys[name]
    fields = [
        FieldStatus(
            name=field,
            set=spec.source is not None and read_field(name, spec, field) is not None,
            location=field_location(name, spec, field),
        )
        for field in spec.fields
    ]
    status = KeyStatus(
        name=name, type=spec.type, source=spec.source, required=spec.required, fields=fields,
        rotation_days=spec.rotation_days,
    )
    rotated_ns = rotated_at_ns(name, spec)
    if rotated_ns is not None:
        status.rotated_at = rfc3339(rotated_ns)
        if spec.rotation_days is not None:
            due_ns = rotated_ns + spec.rotation_days * 86_400 * _NS
            status.rotation_due = rfc3339(due_ns)
            status.expires_in_seconds = (due_ns - now_ns) / _NS
    return status


def key_statuses(env: Environment, now_ns: int) -> list[KeyStatus]:
    return [key_status(env, name, now_ns) for name in sorted(env.keys)]


def rotated_at_ns(name: str, spec: KeySpec) -> int | None:
    folder = _key_folder(spec)
    if folder is None:
        return None
    marker = folder / ROTATED_AT
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    if text:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return int(parsed.timestamp()) * _NS + parsed.microsecond * 1000
    times = []
    for field in spec.fields:
        try:
            times.append(os.stat(folder / field).st_mtime_ns)
        except OSError:
            continue
    return max(times) if times else None


def update_key_metrics(env: Environment, now_ns: int) -> None:
    """Set ``ssmd_key_expiry_seconds{key}`` for every key whose due date is known."""
    from ssmd.metrics import KEY_EXPIRY

    for status in key_statuses(env, now_ns):
        if status.expires_in_seconds is not None:
            KEY_EXPIRY.labels(key=status.name).set(status.expires_in_seconds)


def _key_folder(spec: KeySpec) -> Path | None:
    source = spec.source or ""
    if source.startswith("file:"):
        return Path(source[5:])
    if source.startswith("sealed-secret/"):
        return secrets_root() / source.split("/", 1)[1]
    return None

