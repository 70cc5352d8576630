"""``ssmd key verify``: prove a key works without showing any of it.

For an exchange ``api_key`` (Kalshi): the private key field must load as an RSA key, sign a
test request and verify with its own public half. Other keys: every field must be set.
Failures are ``AuthError`` naming the key, the field and the reason, never key material.
"""

from __future__ import annotations

from ssmd.config.keys import Secret, resolve_key
from ssmd.config.model import Environment
from ssmd.errors import AuthError, ConfigError

PRIVATE_KEY_FIELDS = ("api_secret", "private_key", "secret_key")


def verify_key(env: Environment, name: str, now_ms: int) -> list[str]:
    """Lines describing what was checked; raises ``AuthError`` on the first failure."""
    spec = env.keys.get(name)
    if spec is None:
        raise ConfigError(env.name, f"keys.{name}", "no such key in the environment")
    values = resolve_key(env, name)
    lines = [f"{name}: {len(values)} field(s) set ({', '.join(values)})"]
    if spec.type == "api_key":
        lines.extend(_verify_signing_key(name, values, now_ms))
    return lines


def _private_key_field(name: str, values: dict[str, Secret]) -> str:
    for field, value in values.items():
        if "PRIVATE KEY-----" in value.reveal():
            return field
    for field in PRIVATE_KEY_FIELDS:
        if field in values:
            return field
    raise AuthError(f"key {name}: no field holds a PEM private key (expected one of {', '.join(PRIVATE_KEY_FIELDS)})")


def _verify_signing_key(name: str, values: dict[str, Secret], now_ms: int) -> list[str]:
    from ssmd.kalshi.auth import WS_PATH, load_private_key, sign, verify

    field = _private_key_field(name, values)
    try:
        private_key = load_private_key(values[field].reveal())
    except AuthError as exc:
        raise AuthError(f"key {name}.{field}: {exc}") from None
    timestamp = str(now_ms)
    signature = sign(private_key, timestamp, "GET", WS_PATH)
    if not verify(private_key.public_key(), timestamp, "GET", WS_PATH, signature):
        raise AuthError(f"key {name}.{field}: a test signature does not verify with the key's public half")
    key_ids = [f for f in values if f != field]
    lines = [f"{name}.{field}: RSA {private_key.key_size}-bit private key signs a test request (RSA-PSS SHA-256)"]
    lines.append(f"{name}: test signature verifies with the derived public key")
    for key_id in key_ids:
        if not values[key_id].reveal().strip():
            raise AuthError(f"key {name}.{key_id}: empty")
    if key_ids:
        lines.append(f"{name}: key id field(s) set: {', '.join(key_ids)}")
    return lines
