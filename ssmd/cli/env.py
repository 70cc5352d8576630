"""``ssmd env``: create, validate, apply, list, show and tear down environments."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
from cyclopts import App, Parameter

from ssmd.cli.output import emit_json, table
from ssmd.errors import ConfigError, SsmdError

app = App(name="env", help="Manage environment files (exchanges/environments/*.yaml).")

_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^@/]+)@")


def _mask_url(url: str | None) -> str | None:
    return None if url is None else _URL_USERINFO.sub(r"\g<scheme>****@", url)


def _target_dir() -> Path:
    override = os.environ.get("SSMD_ENVIRONMENTS")
    return Path(override) if override else Path.cwd() / "exchanges" / "environments"


@app.command
def create(
    name: str,
    *,
    feed: str = "kalshi",
    schema: str = "trade:v1",
    out: Path | None = None,
    force: bool = False,
) -> None:
    """Write a new environment file with the embedded defaults, then validate it.

    Parameters
    ----------
    name
        Environment name (also the file name).
    feed
        Feed name from exchanges/feeds/.
    schema
        Schema(s) as type:version, comma-separated.
    out
        Where to write (default: exchanges/environments/NAME.yaml, or $SSMD_ENVIRONMENTS).
    force
        Overwrite an existing file.
    """
    from ssmd.config.create import render_environment
    from ssmd.config.load import load_environment

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise ConfigError(name, "name", "use lower-case letters, digits, '-' and '_'")
    path = out or _target_dir() / f"{name}.yaml"
    if path.exists() and not force:
        raise SsmdError(f"{path} exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_environment(name, feed, schema), encoding="utf-8")
    try:
        load_environment(str(path))
    except ConfigError:
        path.unlink()
        raise
    print(f"created {path}")


@app.command
def validate(env: str) -> None:
    """Validate an environment (name or path): types, times, timezone, feed, schema, keys.

    Parameters
    ----------
    env
        Environment name or path to its YAML file.
    """
    from ssmd.config.load import find_environment, load_environment

    path = find_environment(env)
    loaded = load_environment(str(path))
    print(f"ok: {path} (environment {loaded.name})")


@app.command(name="list")
def list_(*, json: Annotated[bool, Parameter(negative="")] = False) -> None:
    """List known environments.

    Parameters
    ----------
    json
        Print JSON instead of a table.
    """
    from ssmd.config.load import decode_yaml, list_environments
    from ssmd.config.model import Environment

    rows = []
    for path in list_environments():
        try:
            env = decode_yaml(path, Environment, expand=True)
            rows.append({
                "name": env.name, "path": str(path), "feed": env.feed, "transport": env.transport.type,
                "storage": env.storage.type, "cache": env.cache.type, "valid": True,
            })
        except ConfigError as exc:
            rows.append({"name": path.stem, "path": str(path), "valid": False, "error": exc.reason})
    if json:
        emit_json(rows)
        return
    table(
        ["name", "feed", "transport", "storage", "cache", "path"],
        [[r["name"], r.get("feed"), r.get("transport"), r.get("storage"), r.get("cache"), r["path"]]
         for r in rows],
    )


def masked_view(env: Any) -> dict[str, Any]:
    """The environment as plain data with every secret masked and key fields marked set/missing."""
    from ssmd.config.keys import field_location, read_field

    data = msgspec.to_builtins(env)
    for section in ("transport", "cache"):
        data.get(section, {})["url"] = _mask_url(data.get(section, {}).get("url"))
    data["storage"]["endpoint"] = _mask_url(data["storage"].get("endpoint"))
    for name, spec in env.keys.items():
        status = {}
        for field in spec.fields:
            present = spec.source is not None and read_field(name, spec, field) is not None
            status[field] = f"{'set' if present else 'missing'} ({field_location(name, spec, field)})"
        data["keys"][name]["status"] = status
    return data


@app.command
def show(env: str, *, json: Annotated[bool, Parameter(negative="")] = False) -> None:
    """Show an environment with defaults filled in; secrets are never printed.

    Parameters
    ----------
    env
        Environment name or path.
    json
        Print JSON instead of YAML.
    """
    import yaml

    from ssmd.config.load import load_environment

    view = masked_view(load_environment(env))
    if json:
        emit_json(view)
    else:
        print(yaml.safe_dump(view, sort_keys=False).rstrip())


@app.command
def apply(env: str) -> None:
    """Validate, check keys are set and backends reachable, create stream and buckets.

    Parameters
    ----------
    env
        Environment name or path.
    """
    import asyncio

    from ssmd.config.load import load_environment
    from ssmd.middleware.apply import apply_environment

    loaded = load_environment(env)
    for line in asyncio.run(apply_environment(loaded)):
        print(line)


@app.command
def teardown(env: str, *, date: str | None = None, dry_run: bool = False) -> None:
    """Delete an environment's data (objects, stream subjects, cache keys, journal) by prefix.

    Parameters
    ----------
    env
        Environment name or path.
    date
        Only this trading day (YYYY-MM-DD).
    dry_run
        List what would be deleted, delete nothing.
    """
    import asyncio

    from ssmd.config.load import load_environment
    from ssmd.middleware.apply import teardown_environment

    loaded = load_environment(env)
    for line in asyncio.run(teardown_environment(loaded, date=date, dry_run=dry_run)):
        print(line)
