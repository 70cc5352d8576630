"""The chaos scenarios live in ``bench/`` (``bench/chaos.py`` prints them as one table for
the docs); these tests run the same functions in quick mode and assert every figure."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
