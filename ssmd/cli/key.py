"""``ssmd key``: list, show, verify and seal keys. No command ever prints a key's value."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

from cyclopts import App, Parameter

from ssmd.cli.output import emit_json, table
from ssmd.errors import ConfigError

app = App(name="key", help="Keys of an environment: list, show, verify, set (SealedSecret).")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@app.command(name="list")
def list_(env: str, *, json: Annotated[bool, Parameter(negative="")] = False) -> None:
    """List the environment's keys: source, fields set/missing, rotation.

    Parameters
    ----------
    env
        Environment name or path.
    json
        Print JSON instead of a table.
    """
    import msgspec

    from ssmd.clock import SystemClock
    from ssmd.config.load import load_environment
    from ssmd.ops.keystatus import key_statuses

    statuses = key_statuses(load_environment(env), SystemClock().now_ns())
    if json:
        emit_json([msgspec.to_builtins(s) | {"missing": s.missing, "due": s.due} for s in statuses])
        return
    table(
        ["key", "type", "source", "required", "set", "missing", "rotated", "rotation due"],
        [
            [s.name, s.type, s.source, s.required, f"{len(s.fields) - len(s.missing)}/{len(s.fields)}",
             ", ".join(s.missing) or None, s.rotated_at, _due_text(s.rotation_due, s.due)]
            for s in statuses
        ],
    )


@app.command
def show(env: str, key: str, *, json: Annotated[bool, Parameter(negative="")] = False) -> None:
    """Show one key: where each field is read from and whether it is set (values masked).

    Parameters
    ----------
    env
        Environment name or path.
    key
        Key name (an entry of ``keys`` in the environment).
    json
        Print JSON.
    """
    import msgspec

    from ssmd.clock import SystemClock
    from ssmd.config.load import load_environment
    from ssmd.ops.keystatus import key_status

    loaded = load_environment(env)
    _require_key(loaded, key)
    status = key_status(loaded, key, SystemClock().now_ns())
    spec = loaded.keys[key]
    view: dict[str, Any] = msgspec.to_builtins(status)
    view["description"] = spec.description
    for field in view["fields"]:
        field["value"] = "****" if field["set"] else None
    view["due"] = status.due
    if json:
        emit_json(view)
        return
    print(f"key:          {key} ({spec.type}{', required' if spec.required else ''})")
    if spec.description:
        print(f"description:  {spec.description}")
    print(f"source:       {spec.source or '-'}")
    for field in status.fields:
        print(f"  {field.name}: {'**** (set)' if field.set else 'missing'}  <- {field.location}")
    print(f"rotated at:   {status.rotated_at or 'unknown'}")
    if spec.rotation_days is not None:
        print(f"rotation:     every {spec.rotation_days} days, {_due_text(status.rotation_due, status.due)}")


@app.command
def verify(env: str, key: str) -> None:
    """Check a key works: for Kalshi keys, sign a test request and verify the signature.

    Parameters
    ----------
    env
        Environment name or path.
    key
        Key name.
    """
    from ssmd.clock import SystemClock
    from ssmd.config.load import load_environment
    from ssmd.ops.keycheck import verify_key

    loaded = load_environment(env)
    for line in verify_key(loaded, key, SystemClock().now_ns() // 1_000_000):
        print(line)
    print(f"ok: key {key} of {loaded.name}")


@app.command(name="set")
def set_(
    env: str,
    key: str,
    *,
    field: Annotated[list[str], Parameter(name="--field", consume_multiple=False, negative="")],
    cert: Path,
    namespace: str = "ssmd",
    secret_name: Annotated[str | None, Parameter(name="--name")] = None,
    out: Path | None = None,
) -> None:
    """Seal a key's fields into a SealedSecret manifest with the cluster's certificate.

    Parameters
    ----------
    env
        Environment name or path.
    key
        Key name (an entry of ``keys``).
    field
        ``FIELD=VALUE`` or ``FIELD=@FILE`` (read from FILE); repeat for every field.
    cert
        The sealing certificate: ``kubeseal --fetch-cert > cert.pem``.
    namespace
        Namespace of the Secret (the pods' namespace).
    secret_name
        Secret name; default: NAME of the key's ``sealed-secret/NAME`` source.
    out
        Write the manifest here (e.g. under k8s/overlays/prod/) instead of stdout.
    """
    from ssmd.clock import SystemClock, rfc3339
    from ssmd.config.load import load_environment
    from ssmd.ops.keystatus import ROTATED_AT
    from ssmd.ops.sealed import read_sealing_key, render, seal_values, sealed_secret

    loaded = load_environment(env)
    _require_key(loaded, key)
    spec = loaded.keys[key]
    name = secret_name or _source_secret(loaded.name, key, spec.source)
    if not _DNS_NAME.match(name) or len(name) > 253:
        raise ConfigError("--name", "", f"{name!r} is not a valid Secret name")
    if not _DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise ConfigError("--namespace", "", f"{namespace!r} is not a valid namespace")
    values = _field_values(key, spec.fields, field)
    public_key = read_sealing_key(cert)
    now = SystemClock().now_ns()
    values[ROTATED_AT] = rfc3339(now).encode()
    manifest = sealed_secret(
        namespace, name, seal_values(public_key, namespace, name, values),
        labels={"app.kubernetes.io/part-of": "ssmd"},
        annotations={"ssmd.io/environment": loaded.name, "ssmd.io/key": key, "ssmd.io/sealed-at": rfc3339(now)},
    )
    text = render(manifest)
    values.clear()
    if out is None:
        sys.stdout.write(text)
        return
    _write_atomically(out, text)
    print(f"wrote {out}: SealedSecret {namespace}/{name} ({', '.join(spec.fields)}, {ROTATED_AT})", file=sys.stderr)
    if spec.source and spec.source != f"sealed-secret/{name}":
        print(f"note: keys.{key}.source is {spec.source!r}; pods read sealed-secret/{name} only if it matches",
              file=sys.stderr)


def _require_key(env: Any, key: str) -> None:
    if key not in env.keys:
        known = ", ".join(sorted(env.keys)) or "none"
        raise ConfigError(env.name, f"keys.{key}", f"no such key (known: {known})")


def _source_secret(env_name: str, key: str, source: str | None) -> str:
    if source and source.startswith("sealed-secret/"):
        return source.split("/", 1)[1]
    raise ConfigError(env_name, f"keys.{key}.source", f"{source!r} is not sealed-secret/NAME; pass --name")


def _field_values(key: str, fields: list[str], items: list[str]) -> dict[str, bytes]:
    """``FIELD=VALUE`` / ``FIELD=@FILE`` into bytes; every field of the key exactly once."""
    values: dict[str, bytes] = {}
    for item in items:
        field, sep, raw = item.partition("=")
        if not sep or not field:
            raise ConfigError("--field", field or item.split("=", 1)[0], "want FIELD=VALUE or FIELD=@FILE")
        if field not in fields:
            raise ConfigError("--field", field, f"key {key} has no field {field!r} (fields: {', '.join(fields)})")
        if field in values:
            raise ConfigError("--field", field, "given twice")
        if raw.startswith("@"):
            path = Path(raw[1:]).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ConfigError("--field", field, f"cannot read {path}: {exc.strerror}") from None
        else:
            data = raw.encode()
        if not data.strip():
            raise ConfigError("--field", field, "empty value")
        values[field] = data
    missing = [f for f in fields if f not in values]
    if missing:
        raise ConfigError(
            "--field", missing[0],
            f"a SealedSecret replaces the whole Secret; give every field (missing: {', '.join(missing)})",
        )
    return values


def _write_atomically(path: Path, text: str) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _due_text(due_at: str | None, due: bool | None) -> str | None:
    if due_at is None:
        return None
    return f"OVERDUE since {due_at}" if due else f"due {due_at}"
