"""The import contracts in ``pyproject.toml`` ([tool.importlinter]) hold: no package cycles,
a headless core, the middleware beneath the features, the archive contract beneath its
writers and readers. ``just check`` runs ``lint-imports`` too; this keeps it in every test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), f"{lint_imports} is missing: pip install -e '.[dev]'"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
