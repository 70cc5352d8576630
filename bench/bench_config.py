"""Config load/validate rate and CLI start-up time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from common import Result, best_rate, median_seconds

from ssmd.config.load import load_environment

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "exchanges" / "environments" / "kalshi-local.yaml"


def run(quick: bool = False) -> list[Result]:
    n = 50 if quick else 300

    def load_all() -> int:
        for _ in range(n):
            load_environment(str(LOCAL))
        return n

    def bare_yaml() -> int:
        for _ in range(n):
            yaml.safe_load(LOCAL.read_text())
        return n

    ssmd_rate = best_rate(load_all)
    yaml_rate = best_rate(bare_yaml)
    exe = str(Path(sys.executable).parent / "ssmd")
    help_s = median_seconds(lambda: subprocess.run([exe, "--help"], capture_output=True, check=True), 3)
    python_s = median_seconds(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 3)
    return [
        Result("config load+validate", ssmd_rate, "files/s", yaml_rate, "yaml.safe_load only"),
        Result("cli start-up (ssmd --help)", help_s * 1000, "ms", python_s * 1000, "bare python start",
               goal="< 500 ms", higher_is_better=False),
    ]
