"""Load and validate environment files, strictly and cross-referentially.

Every problem is a ``ConfigError(file, field path, reason)``: one line, no traceback.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from ssmd.config.feed import Feed
from ssmd.config.model import Environment
from ssmd.config.schema import SchemaRegistry
from ssmd.errors import ConfigError, NotFoundError
from ssmd.resources import exchanges_dir

T = TypeVar("T")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_SOURCE = re.compile(r"^(env|file:.+|sealed-secret/[A-Za-z0-9._-]+)$")


def environments_dirs() -> list[Path]:
    """Where environment names are looked up, first match wins."""
    dirs = []
    if override := os.environ.get("SSMD_ENVIRONMENTS"):
        dirs.append(Path(override))
    dirs.append(Path.cwd() / "exchanges" / "environments")
    dirs.append(exchanges_dir() / "environments")
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def find_environment(name_or_path: str) -> Path:
    """A name (looked up in ``environments_dirs()``) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise NotFoundError(f"{name_or_path}: no such environment file")
        return candidate
    for folder in environments_dirs():
        for suffix in (".yaml", ".yml"):
            path = folder / f"{name_or_path}{suffix}"
            if path.is_file():
                return path
    known = ", ".join(sorted({p.stem for d in environments_dirs() for p in _yaml_files(d)}))
    raise NotFoundError(f"unknown environment {name_or_path!r} (known: {known or 'none'})")


def list_environments() -> list[Path]:
    found: dict[str, Path] = {}
    for folder in environments_dirs():
        for path in _yaml_files(folder):
            found.setdefault(path.stem, path)
    return [found[k] for k in sorted(found)]


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_environment(name_or_path: str, *, check_refs: bool = True) -> Environment:
    """Read, expand ``${VAR:-default}``, type-check and cross-check an environment."""
    path = find_environment(name_or_path)
    env = decode_yaml(path, Environment, expand=True)
    if check_refs:
        validate_environment(env, str(path))
    return env


def decode_yaml(path: Path, kind: type[T], *, expand: bool = False) -> T:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", exc.strerror or str(exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(source, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "", "expected a mapping at the top level")
    if expand:
        data = _expand(data)
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        reason, field = _split_msgspec(str(exc))
        raise ConfigError(source, field, reason) from None


def _split_msgspec(message: str) -> tuple[str, str]:
    match = _MSGSPEC_PATH.match(message)
    assert match is not None
    reason = match["reason"]
    path = (match["path"] or "").lstrip(".")
    path = re.sub(r"\['([^']*)'\]", r".\1", path).lstrip(".")
    field_match = re.search(r"unknown field `([^`]+)`|missing required field `([^`]+)`", reason)
    if field_match:
        name = field_match[1] or field_match[2]
        path = f"{path}.{name}" if path else name
    reason = reason.replace("Object contains unknown field", "unknown field")
    reason = reason.replace("Object missing required field", "missing required field")
    return reason[0].lower() + reason[1:], path


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m[1]) or (m[2] or ""), value)
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


def load_feed(name: str, source: str = "") -> Feed:
    path = exchanges_dir() / "feeds" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(source or str(path), "feed", f"unknown feed {name!r} (no {path})")
    return decode_yaml(path, Feed)


def load_schema_registry(kind: str) -> SchemaRegistry | None:
    path = exchanges_dir() / "schemas" / f"{kind}.yaml"
    return decode_yaml(path, SchemaRegistry) if path.is_file() else None


def validate_environment(env: Environment, source: str) -> None:
    """The checks a type system cannot make: times, zones, references, requirements."""
    for field in ("day_start", "day_end"):
        value = getattr(env.schedule, field)
        if not _TIME.match(value):
            raise ConfigError(source, f"schedule.{field}", f"invalid time {value!r} (want HH:MM, 00:00-23:59)")
    try:
        ZoneInfo(env.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(source, "schedule.timezone", f"unknown timezone {env.schedule.timezone!r}") from None
    load_feed(env.feed, source)
    _validate_schemas(env, source)
    _validate_keys(env, source)
    _validate_backends(env, source)


def _validate_schemas(env: Environment, source: str) -> None:
    for kind, version in env.schemas:
        if not kind or not version:
            raise ConfigError(source, "schema", f"{env.schema!r}: want type:version, e.g. trade:v1")
        registry = load_schema_registry(kind)
        if registry is None:
            raise ConfigError(source, "schema", f"unknown schema {kind!r}")
        entry = registry.get(version)
        if entry is None:
            raise ConfigError(source, "schema", f"schema {kind} has no version {version!r}")
        if entry.status != "active":
            raise ConfigError(source, "schema", f"schema {kind}:{version} is {entry.status}, not active")
        capnp_file = exchanges_dir() / "schemas" / entry.file
        try:
            digest = hashlib.sha256(capnp_file.read_bytes()).hexdigest()
        except OSError:
            raise ConfigError(source, "schema", f"schema {kind}:{version}: missing file {entry.file}") from None
        if digest != entry.sha256:
            raise ConfigError(
                source, "schema", f"schema {kind}:{version}: sha256 of {entry.file} does not match its registry"
            )


def _validate_keys(env: Environment, source: str) -> None:
    for name, key in env.keys.items():
        if key.source is None:
            if key.required:
                raise ConfigError(source, f"keys.{name}.source", "required key has no source")
            continue
        if not _SOURCE.match(key.source):
            raise ConfigError(
                source, f"keys.{name}.source", f"{key.source!r}: want env, file:DIR or sealed-secret/NAME"
            )
        if not key.fields:
            raise ConfigError(source, f"keys.{name}.fields", "a key needs at least one field")
    if env.gateway.api_key is not None and env.gateway.api_key not in env.keys:
        raise ConfigError(source, "gateway.api_key", f"no key named {env.gateway.api_key!r} in keys")


def _validate_backends(env: Environment, source: str) -> None:
    if env.transport.type == "nats" and not env.transport.url:
        raise ConfigError(source, "transport.url", "required when transport.type is nats")
    if env.storage.type == "local" and not env.storage.path:
        raise ConfigError(source, "storage.path", "required when storage.type is local")
    if env.cache.type == "redis" and not env.cache.url:
        raise ConfigError(source, "cache.url", "required when cache.type is redis")
    if env.journal_type == "jetstream" and env.transport.type != "nats":
        raise ConfigError(source, "journal.type", "jetstream journal needs transport.type nats")
    if env.journal_type == "file" and not (env.journal.path or env.storage.path):
        raise ConfigError(source, "journal.path", "required when storage has no path")
    if env.cache.type == "local" and not (env.cache.path or env.storage.path):
        raise ConfigError(source, "cache.path", "required when storage has no path")
    for name, port in (("gateway.port", env.gateway.port), ("metrics.port", env.metrics.port)):
        if not 0 <= port <= 65535:
            raise ConfigError(source, name, f"port {port} out of range 0-65535")
    if env.gateway.connect_rate < 0:
        raise ConfigError(source, "gateway.connect_rate",
                          f"{env.gateway.connect_rate:g} is negative (want new connections per second; 0 for no limit)")
    if env.gateway.connect_burst < 1:
        raise ConfigError(source, "gateway.connect_burst", f"{env.gateway.connect_burst} is below 1")
