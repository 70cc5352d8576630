"""Optional extras: the core installs light, and a missing extra is one line naming the
``pip install`` to run (``ssmd.errors.OPTIONAL_MODULES``), never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ssmd.errors import OPTIONAL_MODULES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_ENV = ROOT / "deploy" / "environments" / "compose.yaml"
"""NATS transport, S3 storage, Redis cache, Temporal orchestrator."""

BLOCKER = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
"""
"""Run as ``python -c BLOCKER+code MODULES ...``: the modules behave as not installed."""

CLI = BLOCKER + "from ssmd.cli.main import main\nsys.exit(main(sys.argv[2:]))\n"

UP = BLOCKER + """
import json
from ssmd.cli.main import main
code = main(sys.argv[2:])
print(json.dumps({"blocked_imported": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)}))
sys.exit(code)
"""

ALL_IMPORTS = BLOCKER + """
import importlib, pkgutil, ssmd
for info in pkgutil.walk_packages(ssmd.__path__, "ssmd."):
    try:
        importlib.import_module(info.name)
    except ModuleNotFoundError as exc:
        print(info.name, exc.name)
"""

BACKEND_MODULES = ("ssmd.middleware.transport.nats", "ssmd.middleware.journal.jetstream",
                   "ssmd.middleware.cache.redis", "ssmd.orchestration")
"""The only modules that import an optional dependency at their top."""


def _run(code: str, blocked: str, *args: str, cwd: Path,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, blocked, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def test_core_dependencies_leave_the_extras_out() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {dep.split(">")[0].split("[")[0] for dep in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert not core & {"nats-py", "redis", "s3fs", "temporalio", "textual"}
    assert {extras[name][0].split(">")[0] for name in ("nats", "redis", "s3", "temporal", "tui")} == {
        "nats-py", "redis", "s3fs", "temporalio", "textual"}
    assert extras["all"] == ["ssmd[nats,redis,s3,temporal,tui]"]
    assert "ssmd[all]" in extras["dev"]
    assert {extra for _, extra in OPTIONAL_MODULES.values()} == {"nats", "redis", "s3", "temporal", "tui"}


def test_the_core_imports_without_any_extra(tmp_path: Path) -> None:
    out = _run(ALL_IMPORTS, ",".join(OPTIONAL_MODULES), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    failed = [line.split() for line in out.stdout.splitlines()]
    assert failed, "the blocker blocked nothing"
    for module, missing in failed:
        assert module.startswith(BACKEND_MODULES) and missing.partition(".")[0] in OPTIONAL_MODULES, (module, missing)


@pytest.mark.parametrize(("blocked", "args", "line"), [
    ("textual", ["tui", "--url", "http://127.0.0.1:9"], "the TUI needs textual: pip install 'ssmd[tui]'"),
    ("textual", ["up", "--tui", "compose.yaml"], "the TUI needs textual: pip install 'ssmd[tui]'"),
    ("nats", ["up", "compose.yaml"],
     "the NATS transport and JetStream journal need nats-py: pip install 'ssmd[nats]'"),
    ("s3fs", ["up", "compose.yaml"], "S3 storage needs s3fs: pip install 'ssmd[s3]'"),
    ("redis", ["up", "compose.yaml"], "the Redis cache needs redis: pip install 'ssmd[redis]'"),
    ("temporalio", ["worker", "compose.yaml"],
     "the Temporal orchestrator needs temporalio: pip install 'ssmd[temporal]'"),
])
def test_a_missing_extra_is_one_line_naming_the_pip_install(tmp_path: Path, blocked: str, args: list[str],
                                                            line: str) -> None:
    shutil.copy(COMPOSE_ENV, tmp_path / "compose.yaml")
    out = _run(CLI, blocked, *args, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert out.stderr == f"ssmd: {line}\n"


@pytest.mark.slow
def test_up_runs_the_embedded_default_without_any_extra(tmp_path: Path) -> None:
    from tests.cli.test_up import write_env

    envfile = write_env(tmp_path)
    env = {**os.environ, "SSMD_DATA_DIR": str(tmp_path / "data")}
    out = _run(UP, ",".join(OPTIONAL_MODULES), "up", str(envfile), "--duration", "3", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    events = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    assert any(e["msg"] == "manifest written" and e["records"] > 0 for e in events)
    assert json.loads(lines[-1]) == {"blocked_imported": []}
