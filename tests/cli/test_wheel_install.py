"""Run-time data files (sql/, exchanges/) work from a wheel install, not only a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_carries_data_and_validates(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("ssmd-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "ssmd/_data/exchanges/environments/kalshi-prod.yaml" in names
    assert "ssmd/_data/exchanges/schemas/trade.capnp" in names
    assert any(n.startswith("ssmd/_data/sql/") for n in names)
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SSMD_ENVIRONMENTS", None)
    out = subprocess.run(
        [sys.executable, "-c", "import ssmd.cli.main as m, sys; sys.exit(m.main(['env', 'validate', 'kalshi-prod']))"],
        cwd=elsewhere, env=env, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert str(target / "ssmd" / "_data" / "exchanges" / "environments" / "kalshi-prod.yaml") in out.stdout
