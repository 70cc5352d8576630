"""The run file: how ``ssmd day``, ``ssmd tui`` and scripts find a running ``ssmd up``.

``{data dir}/run/{env}.json`` (``{env}-{component}.json`` for ``ssmd run``) holds the
control URL, pid and endpoints. The data dir is ``storage.path`` for local storage, else
``$SSMD_DATA_DIR`` (default ``./ssmd-data``); ``$SSMD_RUN_DIR`` overrides the folder.
A file whose pid is gone is stale and ignored.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

from ssmd.config.model import Environment


class RunInfo(msgspec.Struct, kw_only=True):
    env: str
    pid: int
    control_url: str
    started_at: int
    """ns since epoch."""
    components: list[str] = []
    endpoints: dict[str, str] = {}
    """gateway (stream URL), gateway_http, metrics, data path."""


def run_dir(env: Environment) -> Path:
    if override := os.environ.get("SSMD_RUN_DIR"):
        return Path(override)
    if env.storage.type == "local" and env.storage.path:
        return Path(env.storage.path) / "run"
    return Path(os.environ.get("SSMD_DATA_DIR", "./ssmd-data")) / "run"


def run_file(env: Environment, component: str | None = None) -> Path:
    name = env.name if component is None else f"{env.name}-{component}"
    return run_dir(env) / f"{name}.json"


def write(env: Environment, info: RunInfo, component: str | None = None) -> Path:
    path = run_file(env, component)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(info), indent=2) + b"\n")
    tmp.replace(path)
    return path


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process: a zombie (killed, never reaped, as under a
    container without an init) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: the signal's answer stands
    return state not in ("Z", "X")


def read(env: Environment, component: str | None = None) -> RunInfo | None:
    """The running process's info, or None (no file, unreadable, or its pid is gone)."""
    path = run_file(env, component)
    try:
        info = msgspec.json.decode(path.read_bytes(), type=RunInfo)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return info if _alive(info.pid) else None


def left_behind(env: Environment, component: str | None = None) -> RunInfo | None:
    """The run file of a process that ended without stopping (it is still there, its pid
    is gone): a crash, a kill -9 or a power cut. None otherwise."""
    try:
        info = msgspec.json.decode(run_file(env, component).read_bytes(), type=RunInfo)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return None if _alive(info.pid) else info


def remove(env: Environment, component: str | None = None) -> None:
    path = run_file(env, component)
    with contextlib.suppress(OSError):
        info = msgspec.json.decode(path.read_bytes(), type=RunInfo)
        if info.pid == os.getpid():
            path.unlink()
